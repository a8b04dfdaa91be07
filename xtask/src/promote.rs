//! `cargo xtask promote` and `rollback`: move a named endpoint to a version, with compare-and-set.

use anyhow::Result;

use crate::cli::Ctx;
use crate::select::Selection;

#[derive(clap::Args, Debug, Clone)]
pub struct PromoteArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Version to make live
    #[arg(long, value_name = "N")]
    pub version: u32,
    /// Endpoint to move (default: the prod_endpoint setting, `prod`)
    #[arg(long, value_name = "NAME")]
    pub endpoint: Option<String>,
    /// Refuse unless the endpoint currently serves this version (compare and set)
    #[arg(long, value_name = "M")]
    pub expect_live: Option<u32>,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

impl PromoteArgs {
    pub async fn run(self, _ctx: &Ctx) -> Result<()> {
        anyhow::bail!("promote: not implemented yet")
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Endpoint to move back (default: the prod_endpoint setting, `prod`)
    #[arg(long, value_name = "NAME")]
    pub endpoint: Option<String>,
    /// Version to go back to (default: the one served before the last promotion)
    #[arg(long, value_name = "N")]
    pub to: Option<u32>,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

impl RollbackArgs {
    pub async fn run(self, _ctx: &Ctx) -> Result<()> {
        anyhow::bail!("rollback: not implemented yet")
    }
}

/// One promotion (or rollback) request.
#[derive(Debug, Clone)]
pub struct PromoteRequest {
    pub agent: String,
    pub version: u32,
    pub endpoint: String,
    /// Compare and set: refuse unless the endpoint serves this version now.
    pub expect_live: Option<u32>,
    /// Refuse a version older than (or equal to, unless already live) the one served now, so a
    /// replayed approval cannot roll prod back.
    pub require_newer: bool,
    pub dry_run: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PromoteOutcome {
    pub agent: String,
    pub runtime_name: String,
    pub endpoint: String,
    pub previous_version: Option<String>,
    pub live_version: String,
    /// "promoted", "already_live", or "planned" with --dry-run.
    pub action: String,
}

/// Moves the endpoint of `request.agent`'s prod runtime to `request.version` and waits until live.
pub async fn promote(_ctx: &Ctx, _aws: &crate::aws::AwsClients, _request: &PromoteRequest) -> Result<PromoteOutcome> {
    anyhow::bail!("promote: not implemented yet")
}
