//! `cargo xtask status`: runtimes, versions, endpoints and quota use.

use anyhow::Result;

use crate::cli::Ctx;
use crate::select::Selection;

#[derive(clap::Args, Debug, Clone)]
pub struct StatusArgs {
    #[command(flatten)]
    pub selection: Selection,
}

impl StatusArgs {
    pub async fn run(self, _ctx: &Ctx) -> Result<()> {
        anyhow::bail!("status: not implemented yet")
    }
}
