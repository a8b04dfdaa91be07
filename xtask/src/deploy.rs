//! `cargo xtask deploy`: package, upload and create or update each agent's runtime.

use anyhow::Result;

use crate::cli::Ctx;
use crate::select::Selection;

#[derive(clap::Args, Debug, Clone)]
pub struct DeployArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Deploy to the runtime of this pull request
    #[arg(long, value_name = "N", conflicts_with = "prod", required_unless_present = "prod")]
    pub pr: Option<u64>,
    /// Deploy a new (not yet live) version to the long-lived runtime
    #[arg(long)]
    pub prod: bool,
    /// Make a new version even when code and settings equal the latest one
    #[arg(long)]
    pub force: bool,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

impl DeployArgs {
    pub async fn run(self, _ctx: &Ctx) -> Result<()> {
        anyhow::bail!("deploy: not implemented yet")
    }
}

/// What one agent's deploy did (or, with --dry-run, would do).
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeployOutcome {
    pub agent: String,
    pub runtime_name: String,
    pub runtime_id: Option<String>,
    pub runtime_arn: Option<String>,
    pub version: Option<String>,
    pub status: String,
    /// "created", "updated", "up_to_date", or "planned" with --dry-run.
    pub action: String,
    pub default_endpoint: Option<String>,
    pub s3_key: Option<String>,
    pub zip_sha256: String,
    pub commit: Option<String>,
}

/// Deploys `agents` to `target`, at most `ctx.settings.max_parallel` at once. One result per agent,
/// in order: a failure of one does not stop the others.
pub async fn deploy_agents(
    _ctx: &Ctx,
    _aws: &crate::aws::AwsClients,
    _agents: &[crate::agents::Agent],
    _target: crate::naming::Target,
    _force: bool,
    _dry_run: bool,
) -> Vec<Result<DeployOutcome>> {
    Vec::new()
}
