//! Benchmarks: each compares our way against a baseline in the same run and reports ratios.

use anyhow::Result;

use crate::cli::Ctx;

pub mod deploy;
pub mod package;
pub mod scale;

#[derive(clap::Subcommand, Debug, Clone)]
pub enum BenchCommand {
    /// Package a real agent cold, warm and unchanged, against `uv pip install` + `zip -r`
    Package(package::BenchPackageArgs),
    /// Deploy many agents in parallel against the local stack, against one after another
    Deploy(deploy::BenchDeployArgs),
    /// Many agents in an account of many runtimes: control-plane requests per command, against
    /// one listing per runtime lookup
    Scale(scale::BenchScaleArgs),
}

impl BenchCommand {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        match self {
            BenchCommand::Package(args) => args.run(ctx),
            BenchCommand::Deploy(args) => crate::cli::block_on(args.run(ctx)),
            BenchCommand::Scale(args) => crate::cli::block_on(args.run(ctx)),
        }
    }
}
