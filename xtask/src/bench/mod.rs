//! Benchmarks: each compares our way against a baseline in the same run and reports ratios.

use anyhow::Result;

use crate::context::Ctx;

#[cfg(feature = "bench-ci")]
mod ci;
#[cfg(feature = "local")]
mod deploy;
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
        }
    }
}
