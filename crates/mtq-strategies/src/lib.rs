//! mtq-strategies: under construction
