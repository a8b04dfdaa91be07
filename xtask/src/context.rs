//! What every command receives: the workspace, its settings, the global flags and the GitHub step's
//! files.
//!
//! It sits below the commands and above only the settings and the output, so a command takes a
//! [`Ctx`] without reaching back into the CLI that dispatches to it.

use std::path::PathBuf;

use anyhow::Result;

pub use crate::output::GithubFiles;
use crate::settings::{Environment, Settings, SettingsArgs};

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
    /// The settings a command works with: the workspace's, or with `--env NAME` (`--prod`) those
    /// of that environment (its region, bucket, role, runtime names and endpoint).
    pub settings: Settings,
    pub aws: AwsArgs,
    pub json: bool,
    /// The step's output and summary files: the CLI's from its environment, none elsewhere.
    pub github: GithubFiles,
    /// The environment `settings` are those of; `None`: the workspace's own, which pull requests'
    /// runtimes use.
    pub env: Option<Environment>,
    /// The workspace settings (after flags), whatever the environment: what pull requests'
    /// runtimes use, and what every environment defaults to.
    pub base: Settings,
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
        Ok(Ctx::new(root, settings, aws, json, github))
    }

    /// The context of the workspace at `root` with these settings, no environment chosen.
    pub fn new(root: PathBuf, settings: Settings, aws: AwsArgs, json: bool, github: GithubFiles) -> Ctx {
        Ctx { root, base: settings.clone(), settings, aws, json, github, env: None }
    }

    /// This context for environment `name`: its settings in place of the workspace's. An unknown
    /// name is refused with the known ones.
    pub fn for_env(&self, name: &str) -> Result<Ctx> {
        let base = self.workspace();
        let env = base.environment(name)?;
        Ok(Ctx { settings: base.for_environment(&env), env: Some(env), base: base.clone(), ..self.clone() })
    }

    /// This context for the workspace's own settings: pull requests' runtimes.
    pub fn for_prs(&self) -> Ctx {
        let base = self.workspace().clone();
        Ctx { settings: base.clone(), env: None, base, ..self.clone() }
    }

    /// The workspace settings: `settings` themselves when no environment is chosen (so that a
    /// context whose settings were changed in place passes the change on), else `base`.
    pub fn workspace(&self) -> &Settings {
        if self.env.is_none() { &self.settings } else { &self.base }
    }

    /// The environment a command's `--env NAME` or `--prod` names (`--prod` is `--env prod`), or
    /// `None` when neither is given.
    pub fn chosen(&self, env: Option<&str>, prod: bool) -> Result<Option<Ctx>> {
        match (env, prod) {
            (Some(name), _) => self.for_env(name).map(Some),
            (None, true) => self.for_env(crate::settings::PROD).map(Some),
            (None, false) => Ok(None),
        }
    }

    /// The environment's name, for messages and hints: `prod` for the workspace's own settings.
    pub fn env_name(&self) -> &str {
        self.env.as_ref().map_or(crate::settings::PROD, |env| env.name.as_str())
    }

    /// `--prod` for the `prod` environment, else `--env NAME`: the flag that names this context's
    /// environment in a hint.
    pub fn env_flag(&self) -> String {
        match self.env_name() {
            crate::settings::PROD => "--prod".to_owned(),
            name => format!("--env {name}"),
        }
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
