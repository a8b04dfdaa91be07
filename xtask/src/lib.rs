//! The monorepo's release tooling: package, deploy, promote, roll back and clean up AgentCore agents.

pub mod agents;
mod approval;
pub mod aws;
pub mod bench;
pub mod cleanup;
pub mod cli;
mod connect;
pub mod context;
pub mod deploy;
pub mod github;
pub mod invoke;
#[cfg(feature = "local")]
mod local;
pub mod naming;
mod output;
pub mod package;
pub mod promote;
pub mod prune;
pub mod records;
pub mod report;
pub mod runtime_config;
mod select;
pub mod settings;
pub mod smoke;
pub mod source;
pub mod status;
#[cfg(test)]
mod tidy;

/// `crate::progress!`, for every module.
use output::progress;
