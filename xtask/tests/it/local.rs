//! Integration tests of `cargo xtask local`.
