//! `github pr-closed`: a pull request closed without merge loses its runtimes at once.

use anyhow::{Result, bail};

use super::{EventArgs, clients, delete_pr_runtimes, event};
use crate::aws::AwsClients;
use crate::context::Ctx;
use crate::output::github_output;
use crate::progress;
use crate::report::{Step, StepReport, StepResult};

#[derive(clap::Args, Debug, Clone)]
pub struct PrClosedArgs {
    #[command(flatten)]
    pub event: EventArgs,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// `github pr-closed`: a pull request closed without merge loses its runtimes at once. A merged
/// one keeps them until its deployment issue is promoted.
pub async fn pr_closed(ctx: &Ctx, args: &PrClosedArgs, aws: Option<AwsClients>) -> Result<StepReport> {
    let event: event::PullRequestEvent = event::read(&args.event.event, "pull_request")?;
    event.check()?;
    if event.action != "closed" {
        bail!("pr-closed runs on pull requests closed, not `{}`", event.action);
    }
    let pr = event.number;
    if event.pull_request.merged {
        progress!("PR #{pr} was merged: its runtimes stay until the deployment issue is promoted");
        github_output(&ctx.github, "deleted", "[]")?;
        return Ok(StepReport { pr: Some(pr), ..StepReport::new(Step::PrClosed, StepResult::Kept) });
    }
    let (aws, _stack) = clients(ctx, aws).await?;
    let deleted = delete_pr_runtimes(&ctx.settings, &aws, &[pr], args.dry_run).await?;
    github_output(&ctx.github, "deleted", &serde_json::to_string(&deleted)?)?;
    Ok(StepReport {
        pr: Some(pr),
        deleted,
        ..StepReport::new(Step::PrClosed, if args.dry_run { StepResult::Planned } else { StepResult::Deleted })
    })
}
