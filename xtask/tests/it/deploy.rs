//! Integration tests of `cargo xtask deploy`.
