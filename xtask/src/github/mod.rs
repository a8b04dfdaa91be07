//! Steps of the GitHub workflows. Each reads the event payload from `--event FILE`, does the AWS
//! work, renders what the workflow posts, and writes its outputs to `$GITHUB_OUTPUT`.

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::Ctx;

#[derive(clap::Subcommand, Debug, Clone)]
pub enum GithubCommand {
    /// Deploy the PR runtimes of the agents a pull request affects; render the PR comment
    PrDeploy(EventArgs),
    /// Add prod versions for a push to main; render the deployment issue
    ProdDeploy(EventArgs),
    /// Promote the versions an approved deployment issue records; delete the PR's runtimes
    Promote(EventArgs),
    /// Delete the runtimes of a pull request closed without merge
    PrClosed(EventArgs),
    /// Delete PR runtimes of closed pull requests that no open deployment issue refers to
    Gc(EventArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct EventArgs {
    /// GitHub event payload (in a workflow: $GITHUB_EVENT_PATH)
    #[arg(long, value_name = "FILE", env = "GITHUB_EVENT_PATH")]
    pub event: PathBuf,
    /// Where to write the rendered comment or issue body
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

impl GithubCommand {
    pub async fn run(self, _ctx: &Ctx) -> Result<()> {
        anyhow::bail!("github: not implemented yet")
    }
}
