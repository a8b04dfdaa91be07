//! Integration tests of `cargo xtask github`.
