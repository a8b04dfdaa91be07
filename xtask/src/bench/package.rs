//! `cargo xtask bench package`.

use anyhow::Result;

use crate::cli::Ctx;

#[derive(clap::Args, Debug, Clone)]
pub struct BenchPackageArgs {}

impl BenchPackageArgs {
    pub fn run(self, _ctx: &Ctx) -> Result<()> {
        anyhow::bail!("bench package: not implemented yet")
    }
}
