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
#[cfg(feature = "local")]
pub mod local;
pub mod naming;
pub mod output;
pub mod package;
pub mod promote;
pub mod records;
pub mod report;
pub mod select;
pub mod settings;
pub mod status;
#[cfg(test)]
mod tidy;
