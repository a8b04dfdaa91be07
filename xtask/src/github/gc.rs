//! `github gc`: the nightly sweep of PR runtimes whose pull request is closed and that no open
//! deployment issue refers to.

use std::path::PathBuf;

use anyhow::Result;

use super::{DEFAULT_BOT_LOGIN, EventArgs, clients, delete_pr_runtimes, event, metadata};
use crate::aws::AwsClients;
use crate::context::Ctx;
use crate::naming::Target;
use crate::output::github_output;
use crate::report::{Step, StepReport, StepResult};

#[derive(clap::Args, Debug, Clone)]
pub struct GcArgs {
    #[command(flatten)]
    pub event: EventArgs,
    /// Open pull requests: output of `gh api --paginate 'repos/{repo}/pulls?state=open'`
    #[arg(long, value_name = "FILE")]
    pub open_pulls: PathBuf,
    /// Open deployment issues: output of `gh api --paginate 'repos/{repo}/issues?labels=deployment&state=open'`
    #[arg(long, value_name = "FILE")]
    pub open_issues: PathBuf,
    /// The newest issue or pull request number when the lists were read; runtimes of pull requests
    /// numbered above it were opened since, and are kept
    #[arg(long, value_name = "N")]
    pub newest_number: Option<u64>,
    /// Login of the bot that opens deployment issues (issues by anyone else protect nothing)
    #[arg(long, value_name = "LOGIN", env = "AGENTCORE_BOT_LOGIN", default_value = DEFAULT_BOT_LOGIN)]
    pub bot_login: String,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// The pull requests that open deployment issues by the bot still refer to. An issue whose block
/// does not parse protects nothing: a leaked runtime is cheaper than trusting a tampered body.
pub fn protected_prs(issues: &[event::ListedIssue], bot_login: &str) -> Vec<u64> {
    let mut prs: Vec<u64> = issues
        .iter()
        .filter(|issue| issue.pull_request.is_none() && issue.user.login == bot_login)
        .filter_map(|issue| metadata::extract(issue.body.as_deref().unwrap_or("")).ok())
        .filter_map(|metadata| metadata.pr)
        .collect();
    prs.sort_unstable();
    prs.dedup();
    prs
}

/// `github gc`: delete PR runtimes whose pull request is closed and that no open deployment issue
/// refers to.
pub async fn gc(ctx: &Ctx, args: &GcArgs, aws: Option<AwsClients>) -> Result<StepReport> {
    // Any event may start the sweep (schedule, dispatch); the payload only has to be JSON.
    let _: serde_json::Value = event::read(&args.event.event, "schedule or workflow_dispatch")?;
    let open: Vec<u64> = event::read_listing::<event::OpenPull>(&args.open_pulls, "open pull requests")?
        .into_iter()
        .map(|pull| pull.number)
        .collect();
    let issues: Vec<event::ListedIssue> = event::read_listing(&args.open_issues, "open deployment issues")?;
    let protected = protected_prs(&issues, &args.bot_login);
    let (aws, _stack) = clients(ctx, aws).await?;
    let scheme = ctx.settings.scheme();
    let mut stale: Vec<u64> = crate::aws::index::runtimes(&aws)
        .await?
        .iter()
        .filter_map(|runtime| match scheme.parse(&runtime.name) {
            Some((_, Target::Pr(pr)))
                if !open.contains(&pr)
                    && !protected.contains(&pr)
                    && args.newest_number.is_none_or(|newest| pr <= newest) =>
            {
                Some(pr)
            }
            _ => None,
        })
        .collect();
    stale.sort_unstable();
    stale.dedup();
    // The same listing again, from the index: one listing for the whole sweep.
    let deleted = delete_pr_runtimes(&ctx.settings, &aws, &stale, args.dry_run).await?;
    github_output(&ctx.github, "deleted", &serde_json::to_string(&deleted)?)?;
    Ok(StepReport {
        step: Step::Gc,
        result: if args.dry_run { StepResult::Planned } else { StepResult::Deleted },
        pr: None,
        agents: vec![],
        deleted,
        markdown: None,
    })
}
