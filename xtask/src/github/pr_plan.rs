//! `github pr-plan`: the agents a pull request affects, the matrix the deploy job runs over.

use std::path::PathBuf;

use anyhow::Result;

use super::{EventArgs, names, pr_affected, pr_event};
use crate::agents;
use crate::context::Ctx;
use crate::output::github_output;
use crate::report::{Step, StepReport, StepResult};

#[derive(clap::Args, Debug, Clone)]
pub struct PrPlanArgs {
    #[command(flatten)]
    pub event: EventArgs,
    /// Changed paths, one per line (default: `git diff` against the pull request's base commit)
    #[arg(long, value_name = "FILE")]
    pub changed_files: Option<PathBuf>,
}

/// `github pr-plan`: the agents a pull request affects, as the JSON list the deploy matrix runs
/// over. Changes nothing.
pub fn pr_plan(ctx: &Ctx, args: &PrPlanArgs) -> Result<StepReport> {
    let event = pr_event(&args.event.event)?;
    let all = agents::discover(&ctx.root, &ctx.settings)?;
    let affected = pr_affected(ctx, &event, &all, args.changed_files.as_deref())?;
    github_output(&ctx.github, "agents", &serde_json::to_string(&names(&affected))?)?;
    github_output(&ctx.github, "fork", if event.is_fork() { "true" } else { "false" })?;
    Ok(StepReport {
        pr: Some(event.number),
        agents: names(&affected),
        ..StepReport::new(Step::PrPlan, if affected.is_empty() { StepResult::Nothing } else { StepResult::Planned })
    })
}
