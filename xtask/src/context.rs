//! What every command receives: the workspace, its settings, the global flags and the GitHub step's
//! files.
//!
//! It sits below the commands and above only the settings and the output, so a command takes a
//! [`Ctx`] without reaching back into the CLI that dispatches to it.

use std::path::PathBuf;

use anyhow::Result;

pub use crate::output::GithubFiles;
use crate::settings::{Settings, SettingsArgs};

/// Where AWS calls go: the flags of every command that talks to AWS. Global, so they may follow any
/// subcommand.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct AwsArgs {
    /// Run against the bundled local AgentCore stack instead of AWS (no account needed)
    #[arg(long, global = true)]
    pub local: bool,
    /// State directory of the local stack (default: target/agentcore-local)
    #[arg(long, global = true, value_name = "DIR", env = "AGENTCORE_LOCAL_DIR")]
    pub local_dir: Option<PathBuf>,
    /// AWS shared-config profile
    #[arg(long, global = true, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// Endpoint URL for every AWS service (AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> also work)
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// No AWS account is configured at all and not in CI: a command that connects uses the bundled
    /// local stack, and says so. Set by the CLI, never a flag.
    #[arg(skip)]
    pub local_fallback: bool,
}

/// The workspace, its settings, the global flags and where a GitHub Actions step writes.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub root: PathBuf,
    pub settings: Settings,
    pub aws: AwsArgs,
    pub json: bool,
    /// The step's output and summary files: the CLI's from its environment, none elsewhere.
    pub github: GithubFiles,
}

impl Ctx {
    pub(crate) fn load(
        root: PathBuf,
        settings: &SettingsArgs,
        aws: AwsArgs,
        json: bool,
        github: GithubFiles,
    ) -> Result<Ctx> {
        let settings = Settings::from_workspace(&root)?.with_overrides(settings)?;
        Ok(Ctx { root, settings, aws, json, github })
    }

    /// Where the local stack keeps its state unless told otherwise.
    #[cfg(feature = "local")]
    pub(crate) fn local_dir(&self) -> PathBuf {
        self.aws.local_dir.clone().unwrap_or_else(|| self.root.join("target").join("agentcore-local"))
    }
}

/// AWS commands are async; packaging and parsing stay synchronous.
pub fn block_on<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(future)
}
