//! `github prod-deploy`: a push to the default branch adds prod versions (not live) and renders the
//! deployment issue that asks to promote them, after recording what it asks for in S3. With an
//! `environments_chain`, the push deploys to the chain's first environment and makes its versions
//! live there; the issue asks to promote their very zips to the second. Either way the issue says,
//! per agent, whether the zip is the one the merged pull request's preview ran.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use super::{
    Connected, DEFAULT_BOT_LOGIN, EventArgs, Flow, connect_flow, event, metadata, names, read_changed, release, render,
    write_out,
};
use crate::agents;
use crate::approval::{self, Direction, Reason, Refusal};
use crate::aws::AwsClients;
use crate::context::Ctx;
use crate::naming::Target;
use crate::output::github_output;
use crate::progress;
use crate::report::{DeployOutcome, PromotionKind, Step, StepReport, StepResult};

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
    /// With an environments_chain: smoke-gate each move of the first environment's endpoint as
    /// `promote` does (without a chain nothing goes live here, and this does nothing)
    #[arg(long)]
    pub smoke: bool,
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

/// No deployment issue: no agent affected, or every version live or asked for already.
fn nothing(ctx: &Ctx, pr: Option<u64>) -> Result<StepReport> {
    github_output(&ctx.github, "issue", "false")?;
    Ok(StepReport { pr, ..StepReport::new(Step::ProdDeploy, StepResult::Nothing) })
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
    github_output(&ctx.github, "agents", &serde_json::to_string(&names(&affected))?)?;
    github_output(&ctx.github, "pr", &pr.map(|pr| pr.to_string()).unwrap_or_default())?;
    if affected.is_empty() {
        return nothing(ctx, pr);
    }
    let flow = Flow::of(ctx)?;
    let mut connected = connect_flow(&flow, aws).await?;
    if args.smoke && flow.chained() {
        crate::deploy::smoke_clients(ctx, &mut connected.merge, connected._guard.as_ref());
    }
    let (merge, aws) = (&flow.merge, &connected.merge);
    let whither = if flow.chained() {
        format!("{} (live there)", merge.env_name())
    } else {
        format!("{} (not live)", merge.env_name())
    };
    progress!("{}: deploying {} to {whither}", &event.after[..12], names(&affected).join(", "));
    let options = crate::deploy::DeployOptions { force: false, dry_run: false, package_dir: args.package_dir.clone() };
    let outcomes = Box::pin(crate::deploy::deploy_agents_with(merge, aws, &affected, Target::Prod, &options)).await;
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
        github_output(&ctx.github, "issue", "false")?;
        bail!("prod deploy failed, no deployment issue opened; re-run the workflow:\n{}", failures.join("\n"));
    }
    if flow.chained() {
        // Boxed: a release's futures are too large for a worker thread's stack.
        deployed = Box::pin(go_live(&flow, aws, &all, &deployed, args.smoke)).await?;
    }
    // A function (and a box) of its own: in debug builds one large async function's poll takes
    // more of a worker thread's stack than the steps leave.
    Box::pin(ask(ctx, args, &event, pr, &all, &flow, &connected, deployed)).await
}

/// The deployment issue for the versions just deployed (or found up to date) that are neither live
/// (promoted, in a chain) nor asked for by another open issue; its release records written first.
#[allow(clippy::too_many_arguments)]
async fn ask(
    ctx: &Ctx,
    args: &ProdDeployArgs,
    event: &event::PushEvent,
    pr: Option<u64>,
    all: &[agents::Agent],
    flow: &Flow,
    connected: &Connected,
    deployed: Vec<DeployOutcome>,
) -> Result<StepReport> {
    let (merge, aws) = (&flow.merge, &connected.merge);
    // The issue asks to promote every version that is not live yet, whether this run made it or an
    // earlier, failed or replaced run did.
    let endpoint = &flow.approve.settings.prod_endpoint;
    let from = flow.chained().then(|| merge.env_name().to_owned());
    let asked = match &args.open_issues {
        Some(path) => {
            requested_in(&event::read_listing(path, "open deployment issues")?, &args.bot_login, from.as_deref())
        }
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
        let live = match &from {
            None => crate::aws::live_version(aws, runtime_id, endpoint).await? == Some(number),
            Some(from) => {
                let promoted =
                    release::promoted_from(&flow.approve, &connected.approve, &outcome.agent, from, runtime_id).await?;
                promoted.is_some_and(|promoted| promoted >= number)
            }
        };
        if live {
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
        return nothing(ctx, pr);
    }
    let to = flow.chained().then(|| flow.approve.env_name().to_owned());
    let metadata = metadata::Metadata {
        v: metadata::FORMAT,
        pr,
        commit: event.after.clone(),
        env: to.clone(),
        from: from.clone(),
        agents: entries,
    };
    let previews = match pr {
        Some(pr) => Box::pin(previews(flow, connected, pr, &pending)).await?,
        None => Vec::new(),
    };
    let (title, markdown) = match &from {
        None => {
            (render::issue_title(pr, &metadata.agents), render::issue_body(&metadata, &pending, endpoint, &previews))
        }
        Some(from) => {
            let chain =
                render::Chain { from, from_endpoint: &merge.settings.prod_endpoint, to: flow.approve.env_name() };
            (
                render::chain_issue_title(pr, &metadata.agents, &chain),
                render::chain_issue_body(&metadata, &pending, endpoint, &previews, &chain),
            )
        }
    };
    // The body must read back through the same strict parser the promotion uses.
    metadata::verify(&metadata::extract(&markdown)?, all, ctx)?;
    // What the promotion will hold the issue against, written before the issue exists.
    for outcome in &pending {
        let (Some(runtime_id), Some(version)) = (&outcome.runtime_id, &outcome.version) else {
            bail!("deploy of `{}` reported no runtime id or version", outcome.agent);
        };
        let deployed =
            release::version_record(aws, &outcome.runtime_name, runtime_id, metadata::parse_version(version)?).await?;
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
            to_env: to.clone(),
        };
        let key = release::write(aws, &record).await?;
        progress!("{}: version {version} recorded for promotion in s3://{}/{key}", outcome.agent, aws.bucket);
    }
    write_out(&ctx.github, args.event.out.as_deref(), &markdown, "body")?;
    if let Some(path) = &args.title_out {
        std::fs::write(path, &title).with_context(|| format!("cannot write {}", path.display()))?;
    }
    github_output(&ctx.github, "title", &title)?;
    github_output(&ctx.github, "issue", "true")?;
    Ok(StepReport {
        pr,
        agents: metadata.agents.iter().map(|entry| entry.agent.clone()).collect(),
        markdown: Some(markdown),
        ..StepReport::new(Step::ProdDeploy, StepResult::Issue)
    })
}

/// In a chain: makes each version just deployed to the first environment live on its endpoint
/// (compare and set; smoke-gated with `smoke`). A version older than the one live there (an old
/// push run again) stays as it is and is left out of the issue. Returns the outcomes that went live.
async fn go_live(
    flow: &Flow,
    aws: &AwsClients,
    agents: &[agents::Agent],
    deployed: &[DeployOutcome],
    smoke: bool,
) -> Result<Vec<DeployOutcome>> {
    let merge = &flow.merge;
    let endpoint = &merge.settings.prod_endpoint;
    let mut live = Vec::new();
    for outcome in deployed {
        let version = metadata::parse_version(outcome.version.as_deref().unwrap_or_default())
            .with_context(|| format!("deploy of `{}`", outcome.agent))?;
        let checked =
            approval::check(aws, &outcome.agent, &outcome.runtime_name, endpoint, version, Direction::Forward).await?;
        let candidate = match checked {
            Ok(candidate) => candidate,
            Err(Refusal { reason: Reason::OlderThanLive { live }, .. }) => {
                progress!(
                    "{}: {endpoint} of {} serves version {live}, newer than {version}; left as it is",
                    outcome.agent,
                    outcome.runtime_name
                );
                continue;
            }
            Err(refusal) => bail!("agent `{}`: {}", outcome.agent, refusal.for_approval(&merge.env_flag())),
        };
        let agent = agents.iter().find(|agent| agent.name == outcome.agent).filter(|_| smoke);
        let moved = match agent {
            Some(agent) => {
                let test = crate::smoke::SmokeTest::for_agent(agent);
                Box::pin(crate::promote::gated(merge, aws, &candidate, candidate.live, &test)).await
            }
            None => {
                crate::promote::move_to(merge, aws, &candidate, candidate.live, PromotionKind::Promote, false).await
            }
        };
        moved.with_context(|| {
            format!(
                "agent `{}`: making version {version} live on {} failed; re-run the workflow",
                outcome.agent,
                merge.env_name()
            )
        })?;
        live.push(outcome.clone());
    }
    Ok(live)
}

/// Per agent of the issue, the zip the merged pull request's preview ran: its runtime's latest
/// version and that version's recorded SHA-256 (none when the pull request has no runtime or
/// record of the agent any more).
async fn previews(
    flow: &Flow,
    connected: &Connected,
    pr: u64,
    pending: &[DeployOutcome],
) -> Result<Vec<render::Preview>> {
    let scheme = flow.prs.settings.scheme();
    let aws = &connected.prs;
    let mut previews = Vec::new();
    for outcome in pending {
        let runtime_name = scheme.runtime_name(&outcome.agent, Target::Pr(pr))?;
        let mut preview = None;
        if let Some(runtime) = crate::aws::index::runtime(aws, &runtime_name).await?
            && let Some(latest) = crate::aws::get_runtime(aws, &runtime.id, None).await?
        {
            let version = latest.agent_runtime_version();
            let record = crate::records::read_version_record(aws, &runtime_name, version, &runtime.id).await?;
            preview = record.map(|(_, record)| (version.to_owned(), record.zip_sha256));
        }
        previews.push(render::Preview {
            agent: outcome.agent.clone(),
            zip_sha256: outcome.zip_sha256.clone(),
            preview,
        });
    }
    Ok(previews)
}

/// The (agent, version) pairs that open deployment issues by the bot ask to promote.
pub fn requested_versions(issues: &[event::ListedIssue], bot_login: &str) -> Vec<(String, u32)> {
    requested_in(issues, bot_login, None)
}

/// [`requested_versions`] of the issues that promote from `from` (a chain's first environment), or
/// with `None` of those of today's flow.
fn requested_in(issues: &[event::ListedIssue], bot_login: &str, from: Option<&str>) -> Vec<(String, u32)> {
    issues
        .iter()
        .filter(|issue| issue.pull_request.is_none() && issue.user.login == bot_login)
        .filter_map(|issue| metadata::extract(issue.body.as_deref().unwrap_or("")).ok())
        .filter(|metadata| metadata.from.as_deref() == from)
        .flat_map(|metadata| metadata.agents)
        .filter_map(|entry| Some((entry.agent, metadata::parse_version(&entry.version).ok()?)))
        .collect()
}
