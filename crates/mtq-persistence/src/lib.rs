//! mtq-persistence: under construction
