//! Steps of the GitHub workflows. Each reads the event payload from `--event FILE`, does the AWS
//! work, renders what the workflow posts, and writes its outputs to `$GITHUB_OUTPUT`.

pub mod event;
pub mod metadata;
pub mod release;
pub mod render;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::agents::{self, Agent};
use crate::aws::AwsClients;
use crate::context::Ctx;
use crate::naming::Target;
use crate::output::{emit, github_output};
use crate::progress;
use crate::report::{Step, StepReport, StepResult};

/// The login GitHub gives the workflow token's bot; it authors deployment issues.
pub const DEFAULT_BOT_LOGIN: &str = "github-actions[bot]";
/// The label that asks for a promotion, and the labels a deployment issue carries.
pub const APPROVED_LABEL: &str = "approved";
pub const ISSUE_LABELS: &[&str] = &["deployment", "production", "needs-promotion"];
pub const PROMOTED_LABEL: &str = "promoted";

#[derive(clap::Subcommand, Debug, Clone)]
pub enum GithubCommand {
    /// List the agents a pull request affects (the deploy matrix), deploying nothing
    PrPlan(PrPlanArgs),
    /// Deploy the PR runtimes of the agents a pull request affects; render the PR comment
    PrDeploy(PrDeployArgs),
    /// Render the one PR comment from the results the deploy matrix wrote
    PrComment(PrCommentArgs),
    /// Add prod versions for a push to main; render the deployment issue
    ProdDeploy(ProdDeployArgs),
    /// Promote the versions an approved deployment issue records; delete the PR's runtimes
    Promote(PromoteArgs),
    /// Delete the runtimes of a pull request closed without merge
    PrClosed(PrClosedArgs),
    /// Delete PR runtimes of closed pull requests that no open deployment issue refers to
    Gc(GcArgs),
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

#[derive(clap::Args, Debug, Clone)]
pub struct PrPlanArgs {
    #[command(flatten)]
    pub event: EventArgs,
    /// Changed paths, one per line (default: `git diff` against the pull request's base commit)
    #[arg(long, value_name = "FILE")]
    pub changed_files: Option<PathBuf>,
}

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
}

#[derive(clap::Args, Debug, Clone)]
pub struct PrCommentArgs {
    #[command(flatten)]
    pub event: EventArgs,
    /// The agents the matrix deployed, as `github pr-plan` listed them (a JSON array of names)
    #[arg(long, value_name = "JSON")]
    pub agents: String,
    /// Folder of the JSON results the matrix jobs wrote with `pr-deploy --result`; an agent
    /// without one is shown as not finished
    #[arg(long, value_name = "DIR")]
    pub results: PathBuf,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ProdDeployArgs {
    #[command(flatten)]
    pub event: EventArgs,
    /// Output of `gh api repos/{repo}/commits/{sha}/pulls`: the pull request the push merged
    #[arg(long, value_name = "FILE")]
    pub pulls: Option<PathBuf>,
    /// Consider only the agents these paths affect, one path per line (default: every agent; the
    /// unchanged ones are found up to date and left out)
    #[arg(long, value_name = "FILE", conflicts_with = "only_changed")]
    pub changed_files: Option<PathBuf>,
    /// Consider only the agents changed since the push's `before` commit. Faster, but a push whose
    /// run was replaced while pending (GitHub cancels pending runs of a concurrency group) is missed
    #[arg(long)]
    pub only_changed: bool,
    /// Open deployment issues (`gh api --paginate 'repos/{repo}/issues?labels=deployment&state=open'`):
    /// versions one of them already asks to promote are not asked for again
    #[arg(long, value_name = "FILE")]
    pub open_issues: Option<PathBuf>,
    /// Login of the bot that opens deployment issues
    #[arg(long, value_name = "LOGIN", env = "AGENTCORE_BOT_LOGIN", default_value = DEFAULT_BOT_LOGIN)]
    pub bot_login: String,
    /// Where to write the issue title
    #[arg(long, value_name = "FILE")]
    pub title_out: Option<PathBuf>,
    /// Deploy the zips in DIR (`<agent>.zip`, from `cargo xtask package --out DIR`) instead of packaging
    #[arg(long, value_name = "DIR")]
    pub package_dir: Option<PathBuf>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct PromoteArgs {
    #[command(flatten)]
    pub event: EventArgs,
    /// Permission of the person who added the label or started the rollback, as GitHub reports it
    /// (`gh api repos/{repo}/collaborators/{user}/permission --jq .permission`)
    #[arg(long, value_name = "PERMISSION")]
    pub labeller_permission: String,
    /// Login of the bot that opens deployment issues
    #[arg(long, value_name = "LOGIN", env = "AGENTCORE_BOT_LOGIN", default_value = DEFAULT_BOT_LOGIN)]
    pub bot_login: String,
}

#[derive(clap::Args, Debug, Clone)]
pub struct PrClosedArgs {
    #[command(flatten)]
    pub event: EventArgs,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

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

impl GithubCommand {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        match self {
            GithubCommand::PrPlan(args) => emit(ctx.json, &pr_plan(ctx, &args)?),
            GithubCommand::PrDeploy(args) => emit(ctx.json, &pr_deploy(ctx, &args, None).await?),
            GithubCommand::PrComment(args) => emit(ctx.json, &pr_comment(ctx, &args)?),
            GithubCommand::ProdDeploy(args) => emit(ctx.json, &prod_deploy(ctx, &args, None).await?),
            GithubCommand::Promote(args) => emit(ctx.json, &promote(ctx, &args, None).await?),
            GithubCommand::PrClosed(args) => emit(ctx.json, &pr_closed(ctx, &args, None).await?),
            GithubCommand::Gc(args) => emit(ctx.json, &gc(ctx, &args, None).await?),
        }
    }
}

fn write_out(path: Option<&Path>, markdown: &str, key: &str) -> Result<()> {
    if let Some(path) = path {
        std::fs::write(path, markdown).with_context(|| format!("cannot write {}", path.display()))?;
        github_output(key, &path.to_string_lossy())?;
    }
    Ok(())
}

fn read_changed(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the changed files list {}", path.display()))?;
    Ok(text.lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_owned).collect())
}

/// Clients given by the caller (tests), else connected now: only once every check has passed.
/// Either way the step is one run, with its own listing of the runtimes.
async fn clients(ctx: &Ctx, given: Option<AwsClients>) -> Result<(AwsClients, Option<crate::connect::LocalGuard>)> {
    match given {
        Some(aws) => Ok((aws.new_run(), None)),
        None => crate::connect::connect(ctx).await,
    }
}

fn names(agents: &[Agent]) -> Vec<String> {
    agents.iter().map(|agent| agent.name.clone()).collect()
}

/// The pull request event of a PR step, checked.
fn pr_event(path: &Path) -> Result<event::PullRequestEvent> {
    let event: event::PullRequestEvent = event::read(path, "pull_request")?;
    event.check()?;
    if !["opened", "synchronize", "reopened"].contains(&event.action.as_str()) {
        bail!("the PR deploy steps run on pull requests opened, synchronized or reopened, not `{}`", event.action);
    }
    Ok(event)
}

/// The agents a pull request affects: those whose files, prompts or tooling changed.
fn pr_affected(
    ctx: &Ctx,
    event: &event::PullRequestEvent,
    all: &[Agent],
    changed_files: Option<&Path>,
) -> Result<Vec<Agent>> {
    let changed = match changed_files {
        Some(path) => read_changed(path)?,
        None => crate::select::changed_files(&ctx.root, &event.pull_request.base.sha)?,
    };
    Ok(crate::select::affected(&ctx.root, all, &changed))
}

/// `github pr-plan`: the agents a pull request affects, as the JSON list the deploy matrix runs
/// over. Changes nothing.
pub fn pr_plan(ctx: &Ctx, args: &PrPlanArgs) -> Result<StepReport> {
    let event = pr_event(&args.event.event)?;
    let all = agents::discover(&ctx.root, &ctx.settings)?;
    let affected = pr_affected(ctx, &event, &all, args.changed_files.as_deref())?;
    github_output("agents", &serde_json::to_string(&names(&affected))?)?;
    github_output("fork", if event.is_fork() { "true" } else { "false" })?;
    Ok(StepReport {
        step: Step::PrPlan,
        result: if affected.is_empty() { StepResult::Nothing } else { StepResult::Planned },
        pr: Some(event.number),
        agents: names(&affected),
        deleted: vec![],
        markdown: None,
    })
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
    github_output("agents", &serde_json::to_string(&names(&affected))?)?;
    github_output("fork", if event.is_fork() { "true" } else { "false" })?;

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
        write_out(args.event.out.as_deref(), &markdown, "comment")?;
        let failed: Vec<&str> = packages.iter().filter_map(|p| p.as_ref().err().map(|(a, _)| a.as_str())).collect();
        if !failed.is_empty() {
            bail!("packaging failed for {}", failed.join(", "));
        }
        return Ok(StepReport {
            step: Step::PrDeploy,
            result: StepResult::Packaged,
            pr: Some(pr),
            agents: names(&affected),
            deleted: vec![],
            markdown: Some(markdown),
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
    let markdown = render::pr_comment(pr, &commit, &ctx.settings.region, &results);
    write_out(args.event.out.as_deref(), &markdown, "comment")?;
    let failed: Vec<&str> =
        results.iter().filter(|result| result.outcome.is_err()).map(|result| result.agent.as_str()).collect();
    if !failed.is_empty() {
        bail!("deploy failed for {} (the PR comment says why)", failed.join(", "));
    }
    Ok(StepReport {
        step: Step::PrDeploy,
        result: if results.is_empty() { StepResult::Nothing } else { StepResult::Deployed },
        pr: Some(pr),
        agents: names(&affected),
        deleted: vec![],
        markdown: Some(markdown),
    })
}

/// Deploys `affected` to the pull request's runtimes: one result per agent, in order.
async fn deploy_pr_agents(
    ctx: &Ctx,
    args: &PrDeployArgs,
    aws: Option<AwsClients>,
    affected: &[Agent],
    pr: u64,
) -> Result<Vec<Result<crate::report::DeployOutcome>>> {
    let (aws, _stack) = clients(ctx, aws).await?;
    progress!("PR #{pr}: deploying {}", names(affected).join(", "));
    let options =
        crate::deploy::DeployOptions { force: args.force, dry_run: false, package_dir: args.package_dir.clone() };
    let outcomes = crate::deploy::deploy_agents_with(ctx, &aws, affected, Target::Pr(pr), &options).await;
    if outcomes.len() != affected.len() {
        bail!("deploy returned {} results for {} agents", outcomes.len(), affected.len());
    }
    Ok(outcomes)
}

/// A result file larger than this was not written by `pr-deploy --result`.
const MAX_RESULT_BYTES: u64 = 1024 * 1024;

/// A successful result names the agent's own PR runtime and values of the shapes AgentCore gives.
fn check_deployed(scheme: &crate::naming::Scheme, agent: &str, pr: u64, deployed: &render::Deployed) -> Result<()> {
    let runtime = scheme.runtime_name(agent, Target::Pr(pr))?;
    if deployed.runtime_name != runtime {
        bail!("agent `{agent}` of PR #{pr} deploys to `{runtime}`, not `{}`", deployed.runtime_name.escape_default());
    }
    if let Some(version) = &deployed.version {
        metadata::parse_version(version)?;
    }
    let status = deployed.status.as_str();
    if status.is_empty() || !status.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
        bail!("status `{}` is not an AgentCore status", status.escape_default());
    }
    if let Some(key) = &deployed.s3_key
        && (!key.starts_with(&format!("{runtime}/"))
            || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b"_/.-".contains(&b)))
    {
        bail!("S3 key `{}` is not under `{runtime}/`", key.escape_default());
    }
    Ok(())
}

/// Reads the matrix's result files: every `*.json` in `dir`, each a list of agent results of this
/// pull request and commit, each agent once.
pub fn read_results(
    scheme: &crate::naming::Scheme,
    dir: &Path,
    pr: u64,
    commit: &str,
    expected: &[Agent],
) -> Result<Vec<render::AgentResult>> {
    let mut results: Vec<render::AgentResult> = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        // No matrix job got as far as uploading: every agent shows as not finished.
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(results),
        Err(err) => return Err(err).with_context(|| format!("cannot read the results folder {}", dir.display())),
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("cannot read the results folder {}", dir.display()))?;
    files.retain(|path| path.extension().is_some_and(|ext| ext == "json"));
    files.sort();
    for file in files {
        let size = std::fs::metadata(&file).with_context(|| format!("cannot read {}", file.display()))?.len();
        if size > MAX_RESULT_BYTES {
            bail!("the result file {} is {size} bytes; `pr-deploy --result` writes far less", file.display());
        }
        let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let listed: Vec<render::AgentResult> = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a result file of `github pr-deploy --result`", file.display()))?;
        for result in listed {
            if !expected.iter().any(|agent| agent.name == result.agent) {
                bail!("{} holds a result for `{}`, which the plan did not list", file.display(), result.agent);
            }
            if result.pr != pr || result.commit != commit {
                bail!(
                    "{} holds a result of PR #{} at {}, not of PR #{pr} at {commit}",
                    file.display(),
                    result.pr,
                    result.commit
                );
            }
            if results.iter().any(|seen| seen.agent == result.agent) {
                bail!("{} holds a second result for `{}`", file.display(), result.agent);
            }
            if let Ok(deployed) = &result.outcome {
                check_deployed(scheme, &result.agent, pr, deployed)
                    .with_context(|| format!("{} is not a result `github pr-deploy` writes", file.display()))?;
            }
            results.push(result);
        }
    }
    Ok(results)
}

/// `github pr-comment`: gathers the matrix's per-agent results into the one PR comment. An agent
/// whose job wrote no result (cancelled, timed out, runner lost) is shown as failed, not left out.
pub fn pr_comment(ctx: &Ctx, args: &PrCommentArgs) -> Result<StepReport> {
    let event = pr_event(&args.event.event)?;
    if event.is_fork() {
        bail!("PR #{} comes from a fork: it is not deployed, so there are no deploy results to report", event.number);
    }
    let (pr, commit) = (event.number, event.pull_request.head.sha.as_str());
    let names: Vec<String> = serde_json::from_str(&args.agents).with_context(|| {
        format!(
            "--agents must be a JSON array of agent names, as `github pr-plan` writes it, not `{}`",
            args.agents.escape_default()
        )
    })?;
    let all = agents::discover(&ctx.root, &ctx.settings)?;
    let expected = agents::pick(&all, &names).context("--agents")?;
    let mut found = read_results(&ctx.settings.scheme(), &args.results, pr, commit, &expected)?;
    let results: Vec<render::AgentResult> = expected
        .iter()
        .map(|agent| match found.iter().position(|result| result.agent == agent.name) {
            Some(index) => found.swap_remove(index),
            None => render::AgentResult {
                agent: agent.name.clone(),
                pr,
                commit: commit.to_owned(),
                outcome: Err("no result: this agent's deploy job did not finish (cancelled, timed out or its runner \
                              was lost); its log is in the workflow run"
                    .to_owned()),
            },
        })
        .collect();
    let markdown = render::pr_comment(pr, commit, &ctx.settings.region, &results);
    write_out(args.event.out.as_deref(), &markdown, "comment")?;
    let failed = results.iter().filter(|result| result.outcome.is_err()).count();
    Ok(StepReport {
        step: Step::PrComment,
        result: match (results.len(), failed) {
            (0, _) => StepResult::Nothing,
            (_, 0) => StepResult::Deployed,
            _ => StepResult::Failed,
        },
        pr: Some(pr),
        agents: names,
        deleted: vec![],
        markdown: Some(markdown),
    })
}

/// The merged pull request of a push, from the commits API; `None` for a direct push.
pub fn merged_pull(pulls: &[event::AssociatedPull], branch: &str) -> Result<Option<u64>> {
    let mut merged: Vec<u64> = pulls
        .iter()
        .filter(|pull| pull.merged_at.is_some() && pull.base.git_ref == branch && pull.state == "closed")
        .map(|pull| pull.number)
        .collect();
    merged.sort_unstable();
    merged.dedup();
    match merged.as_slice() {
        [] => Ok(None),
        [one] if *one > 0 => Ok(Some(*one)),
        [_] => bail!("the commits API named pull request 0"),
        many => bail!(
            "the pushed commit belongs to several merged pull requests ({}); deploy by hand with `cargo xtask deploy --prod`",
            many.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// `github prod-deploy`: add a version of each affected agent to its prod runtime and render the
/// deployment issue that asks for its promotion.
pub async fn prod_deploy(ctx: &Ctx, args: &ProdDeployArgs, aws: Option<AwsClients>) -> Result<StepReport> {
    let event: event::PushEvent = event::read(&args.event.event, "push")?;
    event.check()?;
    let Some(branch) = event.git_ref.strip_prefix("refs/heads/") else {
        bail!("prod-deploy runs on pushes to a branch, not `{}`", event.git_ref);
    };
    let pr = match &args.pulls {
        Some(path) => merged_pull(&event::read_listing(path, "pull requests")?, branch)?,
        None => None,
    };
    let all = agents::discover(&ctx.root, &ctx.settings)?;
    // By default every agent: deploy finds the unchanged ones up to date, so a push whose run never
    // happened (replaced while pending, or failed) is caught up by the next one.
    let affected = if let Some(path) = &args.changed_files {
        crate::select::affected(&ctx.root, &all, &read_changed(path)?)
    } else if args.only_changed && !event.is_new_branch() {
        crate::select::affected(&ctx.root, &all, &crate::select::changed_files(&ctx.root, &event.before)?)
    } else {
        all.clone()
    };
    github_output("agents", &serde_json::to_string(&names(&affected))?)?;
    github_output("pr", &pr.map(|pr| pr.to_string()).unwrap_or_default())?;
    if affected.is_empty() {
        github_output("issue", "false")?;
        return Ok(StepReport {
            step: Step::ProdDeploy,
            result: StepResult::Nothing,
            pr,
            agents: vec![],
            deleted: vec![],
            markdown: None,
        });
    }
    let (aws, _stack) = clients(ctx, aws).await?;
    progress!("{}: deploying {} to prod (not live)", &event.after[..12], names(&affected).join(", "));
    let options = crate::deploy::DeployOptions { force: false, dry_run: false, package_dir: args.package_dir.clone() };
    let outcomes = crate::deploy::deploy_agents_with(ctx, &aws, &affected, Target::Prod, &options).await;
    let mut deployed = Vec::new();
    let mut failures = Vec::new();
    for (agent, outcome) in affected.iter().zip(outcomes) {
        match outcome {
            Ok(outcome) => deployed.push(outcome),
            Err(err) => failures.push(format!("agent {}: {err:#}", agent.name)),
        }
    }
    if deployed.len() + failures.len() != affected.len() {
        bail!("deploy returned {} results for {} agents", deployed.len() + failures.len(), affected.len());
    }
    if !failures.is_empty() {
        // No issue for a partial deploy: a re-run finds the finished agents up to date and opens one
        // issue for all of them.
        github_output("issue", "false")?;
        bail!("prod deploy failed, no deployment issue opened; re-run the workflow:\n{}", failures.join("\n"));
    }
    // The issue asks to promote every version that is not live yet, whether this run made it or an
    // earlier, failed or replaced run did.
    let scheme = ctx.settings.scheme();
    let endpoint = &ctx.settings.prod_endpoint;
    let asked = match &args.open_issues {
        Some(path) => requested_versions(&event::read_listing(path, "open deployment issues")?, &args.bot_login),
        None => Vec::new(),
    };
    let mut entries = Vec::new();
    let mut pending = Vec::new();
    for outcome in deployed {
        let Some(version) = &outcome.version else {
            bail!("deploy of `{}` reported no version", outcome.agent);
        };
        let number = metadata::parse_version(version).with_context(|| format!("deploy of `{}`", outcome.agent))?;
        let Some(runtime_id) = &outcome.runtime_id else {
            bail!("deploy of `{}` reported no runtime id", outcome.agent);
        };
        if live_version(&aws, runtime_id, endpoint).await? == Some(number) {
            progress!("{}: version {version} is live already", outcome.agent);
            continue;
        }
        if asked.iter().any(|(agent, asked)| *agent == outcome.agent && *asked == number) {
            progress!("{}: version {version} awaits promotion in an open deployment issue", outcome.agent);
            continue;
        }
        entries.push(metadata::AgentVersion {
            agent: outcome.agent.clone(),
            runtime: outcome.runtime_name.clone(),
            version: version.clone(),
        });
        pending.push(outcome);
    }
    if entries.is_empty() {
        github_output("issue", "false")?;
        return Ok(StepReport {
            step: Step::ProdDeploy,
            result: StepResult::Nothing,
            pr,
            agents: vec![],
            deleted: vec![],
            markdown: None,
        });
    }
    let metadata = metadata::Metadata { v: metadata::FORMAT, pr, commit: event.after.clone(), agents: entries };
    let title = render::issue_title(pr, &metadata.agents);
    let markdown = render::issue_body(&metadata, &pending, endpoint);
    // The body must read back through the same strict parser the promotion uses.
    metadata::verify(&metadata::extract(&markdown)?, &all, &scheme)?;
    // What the promotion will hold the issue against, written before the issue exists.
    for outcome in &pending {
        let (Some(runtime_id), Some(version)) = (&outcome.runtime_id, &outcome.version) else {
            bail!("deploy of `{}` reported no runtime id or version", outcome.agent);
        };
        let deployed =
            release::version_record(&aws, &outcome.runtime_name, runtime_id, metadata::parse_version(version)?).await?;
        let record = release::ReleaseRecord {
            agent: outcome.agent.clone(),
            runtime_name: outcome.runtime_name.clone(),
            runtime_id: runtime_id.clone(),
            version: version.clone(),
            commit: event.after.clone(),
            pr,
            version_commit: deployed.git_commit.clone(),
            zip_sha256: deployed.zip_sha256.clone(),
            code_key: deployed.code_key.clone(),
        };
        let key = release::write(&aws, &record).await?;
        progress!("{}: version {version} recorded for promotion in s3://{}/{key}", outcome.agent, aws.bucket);
    }
    write_out(args.event.out.as_deref(), &markdown, "body")?;
    if let Some(path) = &args.title_out {
        std::fs::write(path, &title).with_context(|| format!("cannot write {}", path.display()))?;
    }
    github_output("title", &title)?;
    github_output("issue", "true")?;
    Ok(StepReport {
        step: Step::ProdDeploy,
        result: StepResult::Issue,
        pr,
        agents: metadata.agents.iter().map(|entry| entry.agent.clone()).collect(),
        deleted: vec![],
        markdown: Some(markdown),
    })
}

/// Checks on a promotion that need no AWS call; the error is the reason shown on the issue.
pub fn check_approval(
    event: &event::IssuesEvent,
    permission: &str,
    bot_login: &str,
    agents: &[Agent],
    scheme: &crate::naming::Scheme,
) -> Result<metadata::Verified> {
    if event.action != "labeled" {
        bail!("the promote step runs when a label is added, not on `{}`", event.action);
    }
    match &event.label {
        Some(label) if label.name == APPROVED_LABEL => {}
        _ => bail!("only the `{APPROVED_LABEL}` label starts a promotion"),
    }
    check_permission(permission, &event.sender.login)?;
    let issue = &event.issue;
    if issue.pull_request.is_some() {
        bail!("#{} is a pull request, not a deployment issue", issue.number);
    }
    if issue.state != "open" {
        bail!("issue #{} is {}, only open deployment issues can be promoted", issue.number, issue.state);
    }
    if issue.user.login != bot_login {
        bail!(
            "issue #{} was opened by `{}`, not by `{bot_login}`; only issues the prod-deploy workflow opened can be promoted",
            issue.number,
            issue.user.login
        );
    }
    if let Some(app) = &issue.performed_via_github_app
        && Some(app.slug.as_str()) != bot_login.strip_suffix("[bot]")
    {
        bail!("issue #{} was created through the app `{}`, not by `{bot_login}`", issue.number, app.slug);
    }
    for label in ISSUE_LABELS {
        if !issue.has_label(label) {
            bail!("issue #{} lacks the `{label}` label; it is not a pending deployment issue", issue.number);
        }
    }
    if issue.has_label(PROMOTED_LABEL) {
        bail!("issue #{} is already promoted", issue.number);
    }
    let body = issue.body.as_deref().unwrap_or("");
    let metadata = metadata::extract(body)?;
    metadata::verify(&metadata, agents, scheme)
}

fn check_permission(permission: &str, who: &str) -> Result<()> {
    if !matches!(permission, "admin" | "write" | "maintain") {
        bail!(
            "`{who}` has `{permission}` permission on this repository; approving a production deployment needs write or admin"
        );
    }
    Ok(())
}

/// The version an endpoint serves, or `None` if the endpoint does not exist yet.
async fn live_version(aws: &AwsClients, runtime_id: &str, endpoint: &str) -> Result<Option<u32>> {
    match aws.control.get_agent_runtime_endpoint().agent_runtime_id(runtime_id).endpoint_name(endpoint).send().await {
        Ok(found) => Ok(found.live_version().map(metadata::parse_version).transpose()?),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => Ok(None),
        Err(err) => Err(anyhow::Error::new(err).context(format!("cannot read endpoint `{endpoint}`"))),
    }
}

/// A version as AgentCore reports it.
struct CheckedVersion {
    runtime_id: String,
    /// The S3 key its code comes from.
    artifact_key: Option<String>,
}

/// The S3 key a runtime version runs from.
fn artifact_key(artifact: Option<&aws_sdk_bedrockagentcorecontrol::types::AgentRuntimeArtifact>) -> Option<String> {
    use aws_sdk_bedrockagentcorecontrol::types::{AgentRuntimeArtifact, Code};
    match artifact? {
        AgentRuntimeArtifact::CodeConfiguration(code) => match code.code()? {
            Code::S3(location) => Some(location.prefix().to_owned()),
            _ => None,
        },
        _ => None,
    }
}

/// Checks one version against AgentCore: the runtime and version exist and are READY, and (unless
/// rolling back) the version is not older than the live one.
async fn check_version(
    aws: &AwsClients,
    runtime: &str,
    version: u32,
    endpoint: &str,
    require_newer: bool,
) -> Result<CheckedVersion> {
    let Some(listed) = crate::aws::index::runtime(aws, runtime).await? else {
        bail!("runtime `{runtime}` does not exist; deploy it with `cargo xtask deploy --prod` first");
    };
    let id = listed.id.as_str();
    let found = aws
        .control
        .get_agent_runtime()
        .agent_runtime_id(id)
        .agent_runtime_version(version.to_string())
        .send()
        .await
        .map_err(|err| match err.as_service_error() {
            Some(service) if service.is_resource_not_found_exception() => {
                anyhow::anyhow!("runtime `{runtime}` has no version {version}")
            }
            _ => anyhow::Error::new(err).context(format!("cannot read version {version} of `{runtime}`")),
        })?;
    if found.agent_runtime_version() != version.to_string() {
        bail!("runtime `{runtime}` has no version {version}");
    }
    let status = found.status().as_str();
    if status != "READY" {
        bail!("version {version} of `{runtime}` is {status}, not READY");
    }
    let live = live_version(aws, id, endpoint).await?;
    if require_newer
        && let Some(live) = live
        && live > version
    {
        bail!(
            "`{endpoint}` of `{runtime}` serves version {live}, newer than {version}; an old approval cannot roll production back (run the rollback workflow instead)"
        );
    }
    Ok(CheckedVersion { runtime_id: id.to_owned(), artifact_key: artifact_key(found.agent_runtime_artifact()) })
}

/// `github promote`: on `approved`, promote what the deployment issue records and delete the PR's
/// runtimes; on a manual dispatch, roll one agent back to a given version.
pub async fn promote(ctx: &Ctx, args: &PromoteArgs, aws: Option<AwsClients>) -> Result<StepReport> {
    let event = event::PromoteEvent::read(&args.event.event)?;
    let all = agents::discover(&ctx.root, &ctx.settings)?;
    let scheme = ctx.settings.scheme();
    let endpoint = ctx.settings.prod_endpoint.clone();
    let out = args.event.out.as_deref();
    let by_label = matches!(event, event::PromoteEvent::Issues(_));
    let refuse = |reason: anyhow::Error| -> Result<StepReport> {
        let reason = format!("{reason:#}");
        write_out(out, &render::refusal(&reason, by_label), "comment")?;
        github_output("result", StepResult::Refused.as_str())?;
        bail!("promotion refused: {reason}")
    };
    match event {
        event::PromoteEvent::Dispatch(dispatch) => {
            let checked = check_permission(&args.labeller_permission, &dispatch.sender.login)
                .and_then(|()| agents::pick(&all, std::slice::from_ref(&dispatch.inputs.agent)))
                .and_then(|agent| Ok((agent, metadata::parse_version(&dispatch.inputs.version)?)));
            let (agent, version) = match checked {
                Ok((agent, version)) => (agent[0].clone(), version),
                Err(err) => return refuse(err),
            };
            let runtime = scheme.runtime_name(&agent.name, Target::Prod)?;
            let (aws, _stack) = clients(ctx, aws).await?;
            let checked = match check_version(&aws, &runtime, version, &endpoint, false).await {
                Ok(checked) => checked,
                Err(err) => return refuse(err),
            };
            // Only a version deploy made for prod, still running the code it recorded, is a target.
            let claim = release::Claim {
                agent: &agent.name,
                runtime_name: &runtime,
                runtime_id: &checked.runtime_id,
                version,
                commit: "",
                pr: None,
                artifact_key: checked.artifact_key.as_deref(),
            };
            let recorded = release::version_record(&aws, &runtime, &checked.runtime_id, version)
                .await
                .and_then(|record| release::check_version_record(&claim, &record));
            if let Err(err) = recorded {
                return refuse(err);
            }
            // Compare and set against the live version read now, recorded as a rollback.
            let outcome = crate::promote::rollback(ctx, &aws, &agent.name, &endpoint, Some(version), false).await?;
            let markdown = render::rollback_summary(&outcome);
            write_out(out, &markdown, "comment")?;
            github_output("result", StepResult::RolledBack.as_str())?;
            Ok(StepReport {
                step: Step::Promote,
                result: StepResult::RolledBack,
                pr: None,
                agents: vec![agent.name],
                deleted: vec![],
                markdown: Some(markdown),
            })
        }
        event::PromoteEvent::Issues(issue_event) => {
            github_output("issue", &issue_event.issue.number.to_string())?;
            let verified = match check_approval(&issue_event, &args.labeller_permission, &args.bot_login, &all, &scheme)
            {
                Ok(verified) => verified,
                Err(err) => return refuse(err),
            };
            github_output("pr", &verified.pr.map(|pr| pr.to_string()).unwrap_or_default())?;
            let (aws, _stack) = clients(ctx, aws).await?;
            // Every version is checked, in AgentCore and against the records in S3, before any
            // endpoint moves: all or nothing.
            for entry in &verified.agents {
                let checked = match check_version(&aws, &entry.runtime, entry.version, &endpoint, true).await {
                    Ok(checked) => checked,
                    Err(err) => return refuse(err.context(format!("agent `{}`", entry.agent))),
                };
                let claim = release::Claim {
                    agent: &entry.agent,
                    runtime_name: &entry.runtime,
                    runtime_id: &checked.runtime_id,
                    version: entry.version,
                    commit: &verified.commit,
                    pr: verified.pr,
                    artifact_key: checked.artifact_key.as_deref(),
                };
                if let Err(err) = release::check(&aws, &claim).await {
                    return refuse(err.context(format!("agent `{}`", entry.agent)));
                }
            }
            let mut outcomes = Vec::new();
            for entry in &verified.agents {
                let request = crate::promote::PromoteRequest {
                    agent: entry.agent.clone(),
                    version: entry.version,
                    endpoint: endpoint.clone(),
                    expect_live: None,
                    require_newer: true,
                    dry_run: false,
                };
                match crate::promote::promote(ctx, &aws, &request).await {
                    Ok(outcome) => outcomes.push(outcome),
                    Err(err) => {
                        let reason = format!("agent `{}`: {err:#}", entry.agent);
                        write_out(out, &render::failure(&reason), "comment")?;
                        github_output("result", StepResult::Failed.as_str())?;
                        bail!("promotion failed: {reason}");
                    }
                }
            }
            let deleted = match verified.pr {
                Some(pr) => match delete_pr_runtimes(ctx, &aws, &[pr], false).await {
                    Ok(deleted) => deleted,
                    Err(err) => {
                        // The versions are live: say so, and that approving again finishes the job.
                        let reason =
                            format!("the versions are live, but deleting the runtimes of PR #{pr} failed: {err:#}");
                        write_out(out, &render::failure(&reason), "comment")?;
                        github_output("result", StepResult::Failed.as_str())?;
                        bail!("{reason}");
                    }
                },
                None => vec![],
            };
            let markdown = render::promotion_summary(&verified, &outcomes, &deleted);
            write_out(out, &markdown, "comment")?;
            github_output("result", StepResult::Promoted.as_str())?;
            Ok(StepReport {
                step: Step::Promote,
                result: StepResult::Promoted,
                pr: verified.pr,
                agents: verified.agents.iter().map(|entry| entry.agent.clone()).collect(),
                deleted,
                markdown: Some(markdown),
            })
        }
    }
}

/// Deletes every runtime the naming scheme assigns to one of `prs`; names come from the scheme,
/// never from text. Returns the deleted names.
async fn delete_pr_runtimes(ctx: &Ctx, aws: &AwsClients, prs: &[u64], dry_run: bool) -> Result<Vec<String>> {
    let scheme = ctx.settings.scheme();
    let doomed: Vec<String> = crate::aws::index::runtimes(aws)
        .await?
        .into_iter()
        .map(|runtime| runtime.name)
        .filter(|name| matches!(scheme.parse(name), Some((_, Target::Pr(pr))) if prs.contains(&pr)))
        .collect();
    if doomed.is_empty() {
        return Ok(doomed);
    }
    progress!("deleting {}", doomed.join(", "));
    let results = crate::cleanup::cleanup_runtimes(aws, &doomed, dry_run, ctx.settings.max_parallel).await;
    if results.len() != doomed.len() {
        bail!("cleanup returned {} results for {} runtimes", results.len(), doomed.len());
    }
    let failures: Vec<String> = doomed
        .iter()
        .zip(&results)
        .filter_map(|(name, result)| result.as_ref().err().map(|err| format!("runtime {name}: {err:#}")))
        .collect();
    if !failures.is_empty() {
        bail!("cannot delete some runtimes (re-run to retry):\n{}", failures.join("\n"));
    }
    Ok(doomed)
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
        github_output("deleted", "[]")?;
        return Ok(StepReport {
            step: Step::PrClosed,
            result: StepResult::Kept,
            pr: Some(pr),
            agents: vec![],
            deleted: vec![],
            markdown: None,
        });
    }
    let (aws, _stack) = clients(ctx, aws).await?;
    let deleted = delete_pr_runtimes(ctx, &aws, &[pr], args.dry_run).await?;
    github_output("deleted", &serde_json::to_string(&deleted)?)?;
    Ok(StepReport {
        step: Step::PrClosed,
        result: if args.dry_run { StepResult::Planned } else { StepResult::Deleted },
        pr: Some(pr),
        agents: vec![],
        deleted,
        markdown: None,
    })
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

/// The (agent, version) pairs that open deployment issues by the bot ask to promote.
pub fn requested_versions(issues: &[event::ListedIssue], bot_login: &str) -> Vec<(String, u32)> {
    issues
        .iter()
        .filter(|issue| issue.pull_request.is_none() && issue.user.login == bot_login)
        .filter_map(|issue| metadata::extract(issue.body.as_deref().unwrap_or("")).ok())
        .flat_map(|metadata| metadata.agents)
        .filter_map(|entry| Some((entry.agent, metadata::parse_version(&entry.version).ok()?)))
        .collect()
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
    let deleted = delete_pr_runtimes(ctx, &aws, &stale, args.dry_run).await?;
    github_output("deleted", &serde_json::to_string(&deleted)?)?;
    Ok(StepReport {
        step: Step::Gc,
        result: if args.dry_run { StepResult::Planned } else { StepResult::Deleted },
        pr: None,
        agents: vec![],
        deleted,
        markdown: None,
    })
}
