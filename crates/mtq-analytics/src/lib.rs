//! mtq-analytics: under construction
