//! mtq-indicators: under construction
