//! mtq-risk: under construction
