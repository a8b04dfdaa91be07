//! Integration tests, compiled into one binary: a module per command.

mod deploy;
mod github;
mod local;
mod package;
