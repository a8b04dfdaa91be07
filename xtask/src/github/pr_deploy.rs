//! `github pr-deploy`: deploy a pull request's runtimes (one agent per matrix job, or all at once),
//! or package a fork's agents without deploying; write the result file and render the PR comment.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use super::{EventArgs, clients, names, pr_affected, pr_event, render, write_out};
use crate::agents::{self, Agent};
use crate::aws::AwsClients;
use crate::context::Ctx;
use crate::naming::Target;
use crate::output::github_output;
use crate::progress;
use crate::report::{DeployOutcome, Step, StepReport, StepResult};

#[derive(clap::Args, Debug, Clone)]
pub struct PrDeployArgs {
    #[command(flatten)]
    pub event: EventArgs,
    /// Changed paths, one per line (default: `git diff` against the pull request's base commit)
    #[arg(long, value_name = "FILE", conflicts_with = "agent")]
    pub changed_files: Option<PathBuf>,
    /// Deploy this agent only (one job of the deploy matrix), whatever changed
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
    /// Also write each agent's result as JSON to FILE, for `github pr-comment --results`
    #[arg(long, value_name = "FILE")]
    pub result: Option<PathBuf>,
    /// Make new versions even when nothing changed
    #[arg(long)]
    pub force: bool,
    /// Deploy the zips in DIR (`<agent>.zip`, from `cargo xtask package --out DIR`) instead of packaging
    #[arg(long, value_name = "DIR")]
    pub package_dir: Option<PathBuf>,
    /// Smoke-test each deployed version (the agent's `[smoke]`); a failed test fails the step
    #[arg(long)]
    pub smoke: bool,
}

/// `github pr-deploy`: deploy the affected agents (or the one `--agent`) to the pull request's
/// runtimes (or, for a fork, package them) and render the PR comment.
pub async fn pr_deploy(ctx: &Ctx, args: &PrDeployArgs, aws: Option<AwsClients>) -> Result<StepReport> {
    let event = pr_event(&args.event.event)?;
    let pr = event.number;
    let commit = event.pull_request.head.sha.clone();
    let all = agents::discover(&ctx.root, &ctx.settings)?;
    let affected = match &args.agent {
        Some(name) => agents::pick(&all, std::slice::from_ref(name))?,
        None => pr_affected(ctx, &event, &all, args.changed_files.as_deref())?,
    };
    github_output(&ctx.github, "agents", &serde_json::to_string(&names(&affected))?)?;
    github_output(&ctx.github, "fork", if event.is_fork() { "true" } else { "false" })?;

    if event.is_fork() {
        if args.agent.is_some() || args.result.is_some() {
            bail!(
                "PR #{pr} comes from a fork: it gets no AWS credentials, so no deploy; run pr-deploy without --agent and --result to package it"
            );
        }
        progress!("PR #{pr} comes from a fork: packaging {} agent(s), deploying none", affected.len());
        let mut packages = Vec::new();
        for agent in &affected {
            let options = crate::package::PackageOptions::new(&ctx.root);
            let (ctx, agent) = (ctx.clone(), agent.clone());
            let result = tokio::task::spawn_blocking(move || {
                crate::package::package_agent(&ctx, &agent, &options)
                    .map_err(|err| (agent.name.clone(), format!("{err:#}")))
            })
            .await?;
            packages.push(result);
        }
        let markdown = render::fork_comment(pr, &commit, &packages);
        write_out(&ctx.github, args.event.out.as_deref(), &markdown, "comment")?;
        let failed: Vec<&str> = packages.iter().filter_map(|p| p.as_ref().err().map(|(a, _)| a.as_str())).collect();
        if !failed.is_empty() {
            bail!("packaging failed for {}", failed.join(", "));
        }
        return Ok(StepReport {
            pr: Some(pr),
            agents: names(&affected),
            markdown: Some(markdown),
            ..StepReport::new(Step::PrDeploy, StepResult::Packaged)
        });
    }

    let results = if affected.is_empty() {
        Vec::new()
    } else {
        // A failure before any agent's deploy (no credentials, no connection) is every agent's
        // result, so the comment says why rather than "did not finish".
        match deploy_pr_agents(ctx, args, aws, &affected, pr).await {
            Ok(outcomes) => affected
                .iter()
                .zip(outcomes)
                .map(|(agent, outcome)| render::AgentResult {
                    agent: agent.name.clone(),
                    pr,
                    commit: commit.clone(),
                    outcome: outcome
                        .as_ref()
                        .map(render::Deployed::from)
                        .map_err(|err| format!("agent {}: {err:#}", agent.name)),
                })
                .collect(),
            Err(err) => affected
                .iter()
                .map(|agent| render::AgentResult {
                    agent: agent.name.clone(),
                    pr,
                    commit: commit.clone(),
                    outcome: Err(format!("{err:#}")),
                })
                .collect(),
        }
    };
    if let Some(path) = &args.result {
        let json = serde_json::to_vec_pretty(&results)?;
        std::fs::write(path, json).with_context(|| format!("cannot write the result file {}", path.display()))?;
    }
    let markdown = render::pr_comment(pr, &commit, &all, &results);
    write_out(&ctx.github, args.event.out.as_deref(), &markdown, "comment")?;
    let failed: Vec<&str> =
        results.iter().filter(|result| result.outcome.is_err()).map(|result| result.agent.as_str()).collect();
    if !failed.is_empty() {
        bail!("deploy failed for {} (the PR comment says why)", failed.join(", "));
    }
    let smoke_failed: Vec<&str> = results
        .iter()
        .filter(|result| {
            result.outcome.as_ref().is_ok_and(|deployed| deployed.smoke.as_ref().is_some_and(|smoke| !smoke.passed))
        })
        .map(|result| result.agent.as_str())
        .collect();
    if !smoke_failed.is_empty() {
        bail!("the smoke test failed for {} (the PR comment says why)", smoke_failed.join(", "));
    }
    Ok(StepReport {
        pr: Some(pr),
        agents: names(&affected),
        markdown: Some(markdown),
        ..StepReport::new(Step::PrDeploy, if results.is_empty() { StepResult::Nothing } else { StepResult::Deployed })
    })
}

/// Deploys `affected` to the pull request's runtimes: one result per agent, in order.
async fn deploy_pr_agents(
    ctx: &Ctx,
    args: &PrDeployArgs,
    aws: Option<AwsClients>,
    affected: &[Agent],
    pr: u64,
) -> Result<Vec<Result<DeployOutcome>>> {
    let (mut aws, stack) = clients(ctx, aws).await?;
    progress!("PR #{pr}: deploying {}", names(affected).join(", "));
    let options =
        crate::deploy::DeployOptions { force: args.force, dry_run: false, package_dir: args.package_dir.clone() };
    let mut outcomes = crate::deploy::deploy_agents_with(ctx, &aws, affected, Target::Pr(pr), &options).await;
    if args.smoke {
        crate::deploy::smoke_clients(ctx, &mut aws, stack.as_ref());
        crate::deploy::smoke_outcomes(&aws, &mut outcomes, affected).await;
    }
    if outcomes.len() != affected.len() {
        bail!("deploy returned {} results for {} agents", outcomes.len(), affected.len());
    }
    Ok(outcomes)
}
