//! Benchmarks: each compares our way against a baseline in the same run and reports ratios.

use anyhow::{Context, Result};

use crate::context::Ctx;

#[cfg(feature = "bench-ci")]
mod ci;
#[cfg(feature = "local")]
mod deploy;
#[cfg(feature = "local")]
mod invoke;
mod package;
#[cfg(feature = "local")]
pub mod scale;

#[derive(clap::Subcommand, Debug, Clone)]
pub enum BenchCommand {
    /// Package a real agent cold, warm and unchanged, against `uv pip install` + `zip -r`
    Package(package::BenchPackageArgs),
    /// Build times from a fresh clone and the workflows' critical paths, against a baseline revision
    #[cfg(feature = "bench-ci")]
    Ci(ci::BenchCiArgs),
    /// Deploy many agents in parallel against the local stack, against one after another
    #[cfg(feature = "local")]
    Deploy(deploy::BenchDeployArgs),
    /// Many agents in an account of many runtimes: control-plane requests per command, against
    /// one listing per runtime lookup
    #[cfg(feature = "local")]
    Scale(scale::BenchScaleArgs),
    /// Invoke a real agent on the local stack: first call of a version (process start) and warm
    /// calls, against direct calls to the agent process
    #[cfg(feature = "local")]
    Invoke(invoke::BenchInvokeArgs),
}

impl BenchCommand {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<()> {
        match self {
            BenchCommand::Package(args) => args.run(ctx),
            #[cfg(feature = "bench-ci")]
            BenchCommand::Ci(args) => args.run(ctx),
            #[cfg(feature = "local")]
            BenchCommand::Deploy(args) => crate::context::block_on(args.run(ctx)),
            #[cfg(feature = "local")]
            BenchCommand::Scale(args) => crate::context::block_on(args.run(ctx)),
            #[cfg(feature = "local")]
            BenchCommand::Invoke(args) => crate::context::block_on(args.run(ctx)),
        }
    }
}

/// The agent a benchmark runs: `name`, else `dad_joke_bot`, else the first agent.
pub fn bench_agent(ctx: &Ctx, name: Option<&str>) -> Result<crate::agents::Agent> {
    let agents = crate::agents::discover(&ctx.root, &ctx.settings)?;
    match name {
        Some(name) => Ok(crate::agents::pick(&agents, &[name.to_owned()])?.remove(0)),
        None => agents
            .iter()
            .find(|agent| agent.name == "dad_joke_bot")
            .or(agents.first())
            .cloned()
            .context("no agent under agents/ to benchmark"),
    }
}

/// A scratch directory under `target/agentcore`, deleted when dropped.
pub fn scratch(ctx: &Ctx, prefix: &str) -> Result<tempfile::TempDir> {
    let parent = ctx.root.join("target").join("agentcore");
    std::fs::create_dir_all(&parent)?;
    Ok(tempfile::Builder::new().prefix(prefix).tempdir_in(&parent)?)
}

/// The median of `values` (the upper one of an even count); sorts them.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
