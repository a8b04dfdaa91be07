//! `github promote`: on the `approved` label, promote what the deployment issue records and delete
//! the pull request's runtimes; on a manual run, roll one agent back. Who may approve and which
//! issue counts are checked here; which versions may go live, by the approval policy
//! (`crate::approval`) that `cargo xtask promote` applies too. Once the versions are live, the other
//! open deployment issues they supersede are closed too (`super::supersede`).
//!
//! With an `environments_chain`, the issue names versions of the chain's first environment, live
//! there: the approval checks each against its records, takes its very zip (verified by SHA-256),
//! deploys it to the second environment and makes that version live, all versions checked and
//! taken before anything changes.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use super::{
    APPROVED_LABEL, Connected, DEFAULT_BOT_LOGIN, EventArgs, Flow, ISSUE_LABELS, PROMOTED_LABEL, connect_flow,
    delete_pr_runtimes, event, metadata, release, render, supersede, write_out,
};
use crate::agents::{self, Agent};
use crate::approval::{self, Candidate, Direction};
use crate::aws::AwsClients;
use crate::context::Ctx;
use crate::naming::Target;
use crate::output::github_output;
use crate::report::{DeployOutcome, PromotionKind, Step, StepReport, StepResult};

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
    /// Open deployment issues (`gh api --paginate 'repos/{repo}/issues?labels=deployment&state=open'`):
    /// once the versions are live, those whose versions are all live or older are superseded, and
    /// their pull requests' runtimes deleted
    #[arg(long, value_name = "FILE")]
    pub open_issues: Option<PathBuf>,
    /// Where to write the comment of each superseded issue, `DIR/<issue>.md`, which the workflow posts
    /// before it labels the issue `superseded` and closes it
    #[arg(long, value_name = "DIR")]
    pub superseded_dir: Option<PathBuf>,
    /// Smoke-gate each move as `promote` does (the version before, the endpoint after, moved back
    /// when the second test fails); a failure fails the step and the issue comment says why
    #[arg(long)]
    pub smoke: bool,
}

/// Checks on a promotion that need no AWS call; the error is the reason shown on the issue.
pub fn check_approval(
    event: &event::IssuesEvent,
    permission: &str,
    bot_login: &str,
    agents: &[Agent],
    ctx: &Ctx,
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
    metadata::verify(&metadata, agents, ctx)
}

fn check_permission(permission: &str, who: &str) -> Result<()> {
    if !matches!(permission, "admin" | "write" | "maintain") {
        bail!(
            "`{who}` has `{permission}` permission on this repository; approving a production deployment needs write or admin"
        );
    }
    Ok(())
}

/// `github promote`: on `approved`, promote what the deployment issue records and delete the PR's
/// runtimes; on a manual dispatch, roll one agent back to a given version.
pub async fn promote(ctx: &Ctx, args: &PromoteArgs, aws: Option<AwsClients>) -> Result<StepReport> {
    let event = event::PromoteEvent::read(&args.event.event)?;
    let flow = Flow::of(ctx)?;
    let all = agents::discover(&ctx.root, &ctx.settings)?;
    let by_label = matches!(event, event::PromoteEvent::Issues(_));
    let step = Said { ctx, out: args.event.out.as_deref(), by_label };
    // Each in a function (and a box) of its own: in debug builds one large async function's poll
    // takes more of a worker thread's stack than the steps leave.
    match event {
        event::PromoteEvent::Dispatch(dispatch) => Box::pin(roll_back(&step, &flow, &all, &dispatch, args, aws)).await,
        event::PromoteEvent::Issues(issue_event) => {
            Box::pin(approve(&step, &flow, &all, &issue_event, args, aws)).await
        }
    }
}

/// Where the step writes what it says on the issue, and how.
struct Said<'a> {
    ctx: &'a Ctx,
    out: Option<&'a std::path::Path>,
    by_label: bool,
}

impl Said<'_> {
    /// A refusal: nothing changed.
    fn refuse(&self, reason: anyhow::Error) -> Result<StepReport> {
        let reason = format!("{reason:#}");
        write_out(&self.ctx.github, self.out, &render::refusal(&reason, self.by_label), "comment")?;
        github_output(&self.ctx.github, "result", StepResult::Refused.as_str())?;
        bail!("promotion refused: {reason}")
    }

    /// A failure after something may have changed.
    fn fail(&self, reason: String) -> Result<StepReport> {
        write_out(&self.ctx.github, self.out, &render::failure(&reason), "comment")?;
        github_output(&self.ctx.github, "result", StepResult::Failed.as_str())?;
        bail!("{reason}");
    }
}

/// A manual dispatch: rolls one agent of the approval's environment back to a version deploy made
/// for it.
async fn roll_back(
    step: &Said<'_>,
    flow: &Flow,
    all: &[Agent],
    dispatch: &event::DispatchEvent,
    args: &PromoteArgs,
    aws: Option<AwsClients>,
) -> Result<StepReport> {
    let (ctx, target) = (step.ctx, &flow.approve);
    let endpoint = &target.settings.prod_endpoint;
    let checked = check_permission(&args.labeller_permission, &dispatch.sender.login)
        .and_then(|()| agents::pick(all, std::slice::from_ref(&dispatch.inputs.agent)))
        .and_then(|agent| Ok((agent, metadata::parse_version(&dispatch.inputs.version)?)));
    let (agent, version) = match checked {
        Ok((agent, version)) => (agent[0].clone(), version),
        Err(err) => return step.refuse(err),
    };
    let runtime = target.settings.scheme().runtime_name(&agent.name, Target::Prod)?;
    let connected = connect_flow(flow, aws).await?;
    let aws = &connected.approve;
    let checked = approval::check(aws, &agent.name, &runtime, endpoint, version, Direction::Any).await;
    let candidate = match approval::worded(checked, |refusal| refusal.for_approval(&target.env_flag())) {
        Ok(candidate) => candidate,
        Err(err) => return step.refuse(err),
    };
    // Only a version deploy made for this environment, still running the code it recorded, is a target.
    let claim = release::Claim {
        agent: &agent.name,
        runtime_name: &runtime,
        runtime_id: &candidate.runtime_id,
        version,
        commit: "",
        pr: None,
        artifact_key: candidate.artifact_key.as_deref(),
        env: target.env_name(),
        to_env: None,
    };
    let recorded = release::version_record(aws, &runtime, &candidate.runtime_id, version)
        .await
        .and_then(|record| release::check_version_record(&claim, &record));
    if let Err(err) = recorded {
        return step.refuse(err);
    }
    // Compare and set against the live version read now, recorded as a rollback.
    let outcome = Box::pin(crate::promote::roll_back_to(target, aws, &candidate)).await?;
    let markdown = render::rollback_summary(&outcome);
    write_out(&ctx.github, step.out, &markdown, "comment")?;
    github_output(&ctx.github, "result", StepResult::RolledBack.as_str())?;
    Ok(StepReport {
        agents: vec![agent.name],
        markdown: Some(markdown),
        ..StepReport::new(Step::Promote, StepResult::RolledBack)
    })
}

/// The `approved` label: every version checked (and in a chain taken and deployed) before any
/// endpoint moves, then the moves, then [`finish`].
async fn approve(
    step: &Said<'_>,
    flow: &Flow,
    all: &[Agent],
    issue_event: &event::IssuesEvent,
    args: &PromoteArgs,
    aws: Option<AwsClients>,
) -> Result<StepReport> {
    let ctx = step.ctx;
    github_output(&ctx.github, "issue", &issue_event.issue.number.to_string())?;
    let verified = match check_approval(issue_event, &args.labeller_permission, &args.bot_login, all, ctx) {
        Ok(verified) => verified,
        Err(err) => return step.refuse(err),
    };
    github_output(&ctx.github, "pr", &verified.pr.map(|pr| pr.to_string()).unwrap_or_default())?;
    let mut connected = connect_flow(flow, aws).await?;
    if args.smoke {
        crate::deploy::smoke_clients(ctx, &mut connected.approve, connected._guard.as_ref());
    }
    // Every version is checked, in AgentCore and against the records in S3, before any endpoint
    // moves: all or nothing.
    let (candidates, deployed) = if flow.chained() {
        match Box::pin(take_across(flow, &connected, all, &verified)).await {
            Ok(Taken::Refused(err)) => return step.refuse(err),
            Ok(Taken::Deployed(candidates, deployed)) => (candidates, deployed),
            Err(err) => return step.fail(format!("{err:#}")),
        }
    } else {
        match Box::pin(check_own(flow, &connected, all, &verified)).await {
            Ok(candidates) => (candidates, vec![]),
            Err(err) => return step.refuse(err),
        }
    };
    let (target, aws) = (&flow.approve, &connected.approve);
    let mut outcomes = Vec::new();
    for candidate in &candidates {
        // Compare and set against the version the check read: an endpoint moved since is not moved
        // again on the strength of this approval.
        let agent = all.iter().find(|agent| agent.name == candidate.agent).filter(|_| args.smoke);
        let moved = match agent {
            Some(agent) => {
                let test = crate::smoke::SmokeTest::for_agent(agent);
                Box::pin(crate::promote::gated(target, aws, candidate, candidate.live, &test)).await
            }
            None => {
                Box::pin(crate::promote::move_to(target, aws, candidate, candidate.live, PromotionKind::Promote, false))
                    .await
            }
        };
        match moved {
            Ok(outcome) => outcomes.push(outcome),
            Err(err) => return step.fail(format!("agent `{}`: {err:#}", candidate.agent)),
        }
    }
    Box::pin(finish(step, flow, &connected, all, issue_event, args, &verified, outcomes, &deployed)).await
}

/// Once the versions are live: the pull request's runtimes deleted, the issues this release
/// superseded judged, and the summary.
#[allow(clippy::too_many_arguments)]
async fn finish(
    step: &Said<'_>,
    flow: &Flow,
    connected: &Connected,
    all: &[Agent],
    issue_event: &event::IssuesEvent,
    args: &PromoteArgs,
    verified: &metadata::Verified,
    outcomes: Vec<crate::report::PromoteOutcome>,
    deployed: &[DeployOutcome],
) -> Result<StepReport> {
    let ctx = step.ctx;
    let open_issues: Vec<event::ListedIssue> = match &args.open_issues {
        Some(path) => event::read_listing(path, "open deployment issues")?,
        None => vec![],
    };
    let deleted = match verified.pr {
        Some(pr) => match delete_pr_runtimes(&flow.prs.settings, &connected.prs, &[pr], false).await {
            Ok(deleted) => deleted,
            Err(err) => {
                // The versions are live: say so, and that approving again finishes the job.
                return step
                    .fail(format!("the versions are live, but deleting the runtimes of PR #{pr} failed: {err:#}"));
            }
        },
        None => vec![],
    };
    // What this promotion made live may supersede other open issues: each verified before its pull
    // request's runtimes go; one that does not verify is left open, and the summary says why.
    let sweep = supersede::Sweep {
        bot_login: &args.bot_login,
        promoted: Some(issue_event.issue.number),
        open_pulls: &[],
        dry_run: false,
    };
    let issues = Box::pin(supersede::sweep(flow, connected, all, &open_issues, &sweep)).await;
    let release = render::Release { issue: issue_event.issue.number, pr: verified.pr, commit: &verified.commit };
    let endpoint = &flow.approve.settings.prod_endpoint;
    if let Err(err) =
        supersede::write_comments(args.superseded_dir.as_deref(), &issues, Some(&release), endpoint, false)
    {
        return step.fail(format!("the versions are live, but the superseded issues' comments: {err:#}"));
    }
    let mut markdown = render::promotion_summary(verified, &outcomes, &deleted, &issues);
    if let Some(from) = &verified.from {
        markdown.push_str(&render::same_bytes(from, &verified.env, deployed));
    }
    write_out(&ctx.github, step.out, &markdown, "comment")?;
    github_output(&ctx.github, "result", StepResult::Promoted.as_str())?;
    Ok(StepReport {
        pr: verified.pr,
        agents: verified.agents.iter().map(|entry| entry.agent.clone()).collect(),
        deleted,
        markdown: Some(markdown),
        issues,
        ..StepReport::new(Step::Promote, StepResult::Promoted)
    })
}

/// Today's flow: each version the issue names, of prod's own runtimes, held to the approval policy
/// and to the records in S3; and the release's other agents, which the issue must not leave out.
/// The error is the refusal.
async fn check_own(
    flow: &Flow,
    connected: &Connected,
    all: &[Agent],
    verified: &metadata::Verified,
) -> Result<Vec<Candidate>> {
    let (target, aws) = (&flow.approve, &connected.approve);
    let endpoint = &target.settings.prod_endpoint;
    let mut candidates = Vec::new();
    for entry in &verified.agents {
        let (agent, version) = (&entry.agent, entry.version);
        let checked = approval::check(aws, agent, &entry.runtime, endpoint, version, Direction::Forward).await;
        let candidate = approval::worded(checked, |refusal| refusal.for_approval(&target.env_flag()))
            .with_context(|| format!("agent `{agent}`"))?;
        let claim = release::Claim {
            agent,
            runtime_name: &entry.runtime,
            runtime_id: &candidate.runtime_id,
            version,
            commit: &verified.commit,
            pr: verified.pr,
            artifact_key: candidate.artifact_key.as_deref(),
            env: target.env_name(),
            to_env: None,
        };
        release::check(aws, &claim).await.with_context(|| format!("agent `{agent}`"))?;
        candidates.push(candidate);
    }
    // All of the release or none: an issue whose list was cut down must not promote part of it and
    // then delete the pull request's runtimes and close as promoted.
    // Agents the issue leaves out whose released version is not live yet (an agent another issue of
    // the same push already made live is done).
    let mut left_out = Vec::new();
    for (agent, version) in unlisted_releases(target, aws, all, verified).await? {
        let state = crate::aws::prod_endpoint_state(&target.settings, aws, &agent, Some(endpoint)).await?;
        let live = state.and_then(|state| state.live_version).and_then(|live| live.parse::<u32>().ok());
        if live.is_none_or(|live| live < version) {
            left_out.push(agent);
        }
    }
    refuse_left_out(verified, &left_out)?;
    Ok(candidates)
}

/// The versions the release of `verified`'s commit added to `place`'s long-lived runtimes, of the
/// agents the issue does not list: each must already have gone where the issue would take it.
async fn unlisted_releases(
    place: &Ctx,
    aws: &AwsClients,
    all: &[Agent],
    verified: &metadata::Verified,
) -> Result<Vec<(String, u32)>> {
    let runtimes = all
        .iter()
        .map(|agent| Ok((agent.name.clone(), place.settings.scheme().runtime_name(&agent.name, Target::Prod)?)))
        .collect::<Result<Vec<_>>>()?;
    let released = release::released_versions(aws, &runtimes, &verified.commit).await?;
    Ok(released.into_iter().filter(|(agent, _)| !verified.agents.iter().any(|entry| entry.agent == *agent)).collect())
}

fn refuse_left_out(verified: &metadata::Verified, left_out: &[String]) -> Result<()> {
    if !left_out.is_empty() {
        bail!(
            "the release of commit {} also asked to promote {}, which the issue does not list; an approval promotes \
             every version of its release or none, so approve the issue prod-deploy opened, unedited",
            verified.commit,
            left_out.iter().map(|agent| format!("`{agent}`")).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}

/// What a chain's approval got to before any endpoint moves.
enum Taken {
    /// A check refused the issue: nothing changed.
    Refused(anyhow::Error),
    /// Every zip was checked, taken and deployed to the target environment: the versions to make
    /// live there, and what each deploy did.
    Deployed(Vec<Candidate>, Vec<DeployOutcome>),
}

/// A chain's approval up to the move: each version the issue names, of the first environment, held
/// to the approval policy (it exists and is READY, and is not older than the one whose zip the
/// target serves) and to the records in S3; the release's other agents, which the issue must not
/// leave out; every zip taken and verified by its SHA-256; then all of them deployed to the target
/// environment (the same bytes: a version whose zip equals the target's latest is up to date) and
/// each new version held to the policy there. An `Err` is a failure after something may have
/// changed (a deploy); approving again converges.
async fn take_across(
    flow: &Flow,
    connected: &Connected,
    all: &[Agent],
    verified: &metadata::Verified,
) -> Result<Taken> {
    let (source, source_aws) = (&flow.merge, &connected.merge);
    let (target, target_aws) = (&flow.approve, &connected.approve);
    let from = source.env_name();
    let checked = Box::pin(async {
        let mut fetched = Vec::new();
        let mut agents = Vec::new();
        let dir = source.root.join("target").join("agentcore").join("from");
        for entry in &verified.agents {
            let (agent, version) = (&entry.agent, entry.version);
            let context = || format!("agent `{agent}`");
            let endpoint = &source.settings.prod_endpoint;
            let checked = approval::check(source_aws, agent, &entry.runtime, endpoint, version, Direction::Any).await;
            let candidate =
                approval::worded(checked, |refusal| refusal.for_approval(&source.env_flag())).with_context(context)?;
            let claim = release::Claim {
                agent,
                runtime_name: &entry.runtime,
                runtime_id: &candidate.runtime_id,
                version,
                commit: &verified.commit,
                pr: verified.pr,
                artifact_key: candidate.artifact_key.as_deref(),
                env: from,
                to_env: Some(target.env_name()),
            };
            release::check(source_aws, &claim).await.with_context(context)?;
            // A replayed old approval must not take older bytes to the target.
            let promoted = release::promoted_from(target, target_aws, agent, from, &candidate.runtime_id).await?;
            if let Some(promoted) = promoted
                && promoted > version
            {
                bail!(
                    "agent `{agent}`: `{}` of {} serves the zip of {from} version {promoted}, newer than {version}; an old \
                     approval cannot roll it back (run the rollback workflow instead)",
                    target.settings.prod_endpoint,
                    target.env_name()
                );
            }
            let origin = crate::source::Origin::Env(from.to_owned());
            let zip = Box::pin(crate::source::fetch(source, source_aws, agent, &origin, Some(version), &dir))
                .await
                .with_context(context)?;
            fetched.push(zip);
            agents.push(all.iter().find(|known| known.name == *agent).cloned().expect("verified agents exist"));
        }
        // All of the release or none.
        let mut left_out = Vec::new();
        for (agent, version) in unlisted_releases(source, source_aws, all, verified).await? {
            let runtime_name = source.settings.scheme().runtime_name(&agent, Target::Prod)?;
            let Some(runtime) = crate::aws::index::runtime(source_aws, &runtime_name).await? else { continue };
            let promoted = release::promoted_from(target, target_aws, &agent, from, &runtime.id).await?;
            if promoted.is_none_or(|promoted| promoted < version) {
                left_out.push(agent);
            }
        }
        refuse_left_out(verified, &left_out)?;
        anyhow::Ok((agents, fetched))
    })
    .await;
    let (agents, fetched) = match checked {
        Ok(taken) => taken,
        Err(err) => return Ok(Taken::Refused(err)),
    };
    let results = Box::pin(crate::deploy::deploy_fetched(target, target_aws, &agents, Target::Prod, fetched)).await;
    let mut deployed = Vec::new();
    let mut failures = Vec::new();
    for (agent, result) in agents.iter().zip(results) {
        match result {
            Ok(outcome) => deployed.push(outcome),
            Err(err) => {
                failures.push(format!("agent `{}`: deploying to {} failed: {err:#}", agent.name, target.env_name()))
            }
        }
    }
    if !failures.is_empty() {
        bail!("{}; nothing was made live, approve again to retry", failures.join("; "));
    }
    let endpoint = &target.settings.prod_endpoint;
    let mut candidates = Vec::new();
    for outcome in &deployed {
        let version = metadata::parse_version(outcome.version.as_deref().unwrap_or_default())
            .with_context(|| format!("deploy of `{}`", outcome.agent))?;
        let checked =
            approval::check(target_aws, &outcome.agent, &outcome.runtime_name, endpoint, version, Direction::Forward)
                .await;
        match approval::worded(checked, |refusal| refusal.for_approval(&target.env_flag())) {
            Ok(candidate) => candidates.push(candidate),
            Err(err) => return Ok(Taken::Refused(err.context(format!("agent `{}`", outcome.agent)))),
        }
    }
    Ok(Taken::Deployed(candidates, deployed))
}
