//! `cargo xtask package`: deterministic direct-code zips with ARM64 dependencies.

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::Ctx;
use crate::select::Selection;

#[derive(clap::Args, Debug, Clone)]
pub struct PackageArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// System prompt file to package instead of the agent's own (one agent only)
    #[arg(long, value_name = "FILE")]
    pub prompt: Option<PathBuf>,
    /// Directory for the zips (default: target/agentcore/packages)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

impl PackageArgs {
    pub fn run(self, _ctx: &Ctx) -> Result<()> {
        anyhow::bail!("package: not implemented yet")
    }
}

/// Options of one packaging run.
#[derive(Debug, Clone)]
pub struct PackageOptions {
    /// Where zips are written (`<out_dir>/<agent>.zip`).
    pub out_dir: std::path::PathBuf,
    /// A system prompt to package instead of the agent's own.
    pub prompt_override: Option<std::path::PathBuf>,
}

/// What packaging one agent produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PackageReport {
    pub agent: String,
    pub path: std::path::PathBuf,
    pub files: u64,
    pub unzipped_bytes: u64,
    pub zipped_bytes: u64,
    pub sha256: String,
    pub warnings: Vec<String>,
}

/// Packages one agent (blocking; call from `spawn_blocking` in async code).
pub fn package_agent(_ctx: &Ctx, _agent: &crate::agents::Agent, _options: &PackageOptions) -> Result<PackageReport> {
    anyhow::bail!("package: not implemented yet")
}
