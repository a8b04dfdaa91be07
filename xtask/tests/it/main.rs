//! Integration tests, compiled into one binary: a module per command.

mod agents;
mod cli;
mod deploy;
mod github;
mod local;
mod package;
mod tools;
