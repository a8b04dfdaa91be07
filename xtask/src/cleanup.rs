//! `cargo xtask cleanup`: delete runtimes (named endpoints first, then the runtime); S3 stays.

use anyhow::Result;

use crate::cli::Ctx;

#[derive(clap::Args, Debug, Clone)]
pub struct CleanupArgs {
    /// Runtimes to delete, by name
    #[arg(value_name = "RUNTIME", conflicts_with_all = ["pr", "stale"])]
    pub runtimes: Vec<String>,
    /// Delete every runtime of this pull request
    #[arg(long, value_name = "N", conflicts_with = "stale")]
    pub pr: Option<u64>,
    /// Delete PR runtimes whose pull request is not in --open-prs
    #[arg(long, requires = "open_prs")]
    pub stale: bool,
    /// Open pull requests, comma-separated (with --stale)
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub open_prs: Option<Vec<u64>>,
    /// Do not ask for confirmation (CI)
    #[arg(long)]
    pub yes: bool,
    /// Allow deleting the long-lived prod runtime
    #[arg(long)]
    pub force_prod: bool,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

impl CleanupArgs {
    pub async fn run(self, _ctx: &Ctx) -> Result<()> {
        anyhow::bail!("cleanup: not implemented yet")
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CleanupOutcome {
    pub runtime_name: String,
    /// Named endpoints deleted before the runtime.
    pub endpoints_deleted: Vec<String>,
    /// "deleted", "already_gone", or "planned" with --dry-run.
    pub action: String,
}

/// Deletes each runtime (named endpoints first). One result per runtime, in order.
pub async fn cleanup_runtimes(
    _ctx: &Ctx,
    _aws: &crate::aws::AwsClients,
    _runtime_names: &[String],
    _dry_run: bool,
) -> Vec<Result<CleanupOutcome>> {
    Vec::new()
}
