//! Integration tests of `cargo xtask package`.
