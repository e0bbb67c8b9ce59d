//! Shared setup for the token benchmark (see `benches/verify.rs`).
