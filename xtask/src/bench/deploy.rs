//! `cargo xtask bench deploy`.

use anyhow::Result;

use crate::cli::Ctx;

#[derive(clap::Args, Debug, Clone)]
pub struct BenchDeployArgs {}

impl BenchDeployArgs {
    pub async fn run(self, _ctx: &Ctx) -> Result<()> {
        anyhow::bail!("bench deploy: not implemented yet")
    }
}
