//! The monorepo's release tooling: package, deploy, promote, roll back and clean up AgentCore agents.

pub mod agents;
pub mod aws;
pub mod bench;
pub mod cleanup;
pub mod cli;
pub mod deploy;
pub mod github;
pub mod invoke;
#[cfg(feature = "local")]
pub mod local;
pub mod naming;
pub mod output;
pub mod package;
pub mod promote;
pub mod records;
pub mod select;
pub mod settings;
pub mod status;
#[cfg(test)]
mod tidy;
