//! Cross-crate end-to-end tests live in `tests/tests/`. The README's examples are compiled and
//! run here too, so the README stays true.
#![doc = include_str!("../../README.md")]
