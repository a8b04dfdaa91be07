//! Integration tests, compiled into one binary: a module per command, and `support` for what they share.

mod agents;
mod cli;
mod deploy;
mod docs;
mod github;
mod invoke;
mod local;
mod new_agent;
mod package;
mod protocols;
mod support;
mod tools;
