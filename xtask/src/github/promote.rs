//! `github promote`: on the `approved` label, promote what the deployment issue records and delete
//! the pull request's runtimes; on a manual run, roll one agent back. Who may approve and which
//! issue counts are checked here; which versions may go live, by the approval policy
//! (`crate::approval`) that `cargo xtask promote` applies too. Once the versions are live, the other
//! open deployment issues they supersede are closed too (`super::supersede`).

use std::path::PathBuf;

use anyhow::{Result, bail};

use super::{
    APPROVED_LABEL, DEFAULT_BOT_LOGIN, EventArgs, ISSUE_LABELS, PROMOTED_LABEL, clients, delete_pr_runtimes, event,
    metadata, release, render, supersede, write_out,
};
use crate::agents::{self, Agent};
use crate::approval::{self, Direction, Refusal};
use crate::aws::AwsClients;
use crate::context::Ctx;
use crate::naming::Target;
use crate::output::github_output;
use crate::report::{PromotionKind, Step, StepReport, StepResult};

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
        write_out(&ctx.github, out, &render::refusal(&reason, by_label), "comment")?;
        github_output(&ctx.github, "result", StepResult::Refused.as_str())?;
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
            let checked = approval::check(&aws, &agent.name, &runtime, &endpoint, version, Direction::Any).await;
            let candidate = match approval::worded(checked, Refusal::for_approval) {
                Ok(candidate) => candidate,
                Err(err) => return refuse(err),
            };
            // Only a version deploy made for prod, still running the code it recorded, is a target.
            let claim = release::Claim {
                agent: &agent.name,
                runtime_name: &runtime,
                runtime_id: &candidate.runtime_id,
                version,
                commit: "",
                pr: None,
                artifact_key: candidate.artifact_key.as_deref(),
            };
            let recorded = release::version_record(&aws, &runtime, &candidate.runtime_id, version)
                .await
                .and_then(|record| release::check_version_record(&claim, &record));
            if let Err(err) = recorded {
                return refuse(err);
            }
            // Compare and set against the live version read now, recorded as a rollback.
            let outcome = crate::promote::roll_back_to(ctx, &aws, &candidate).await?;
            let markdown = render::rollback_summary(&outcome);
            write_out(&ctx.github, out, &markdown, "comment")?;
            github_output(&ctx.github, "result", StepResult::RolledBack.as_str())?;
            Ok(StepReport {
                step: Step::Promote,
                result: StepResult::RolledBack,
                pr: None,
                agents: vec![agent.name],
                deleted: vec![],
                markdown: Some(markdown),
                issues: vec![],
                idle: vec![],
                pruned: vec![],
            })
        }
        event::PromoteEvent::Issues(issue_event) => {
            github_output(&ctx.github, "issue", &issue_event.issue.number.to_string())?;
            let verified = match check_approval(&issue_event, &args.labeller_permission, &args.bot_login, &all, &scheme)
            {
                Ok(verified) => verified,
                Err(err) => return refuse(err),
            };
            github_output(&ctx.github, "pr", &verified.pr.map(|pr| pr.to_string()).unwrap_or_default())?;
            let open_issues: Vec<event::ListedIssue> = match &args.open_issues {
                Some(path) => event::read_listing(path, "open deployment issues")?,
                None => vec![],
            };
            let (mut aws, stack) = clients(ctx, aws).await?;
            if args.smoke {
                crate::deploy::smoke_clients(ctx, &mut aws, stack.as_ref());
            }
            // Every version is checked, in AgentCore and against the records in S3, before any
            // endpoint moves: all or nothing.
            let mut candidates = Vec::new();
            for entry in &verified.agents {
                let (agent, version) = (&entry.agent, entry.version);
                let checked =
                    approval::check(&aws, agent, &entry.runtime, &endpoint, version, Direction::Forward).await;
                let candidate = match approval::worded(checked, Refusal::for_approval) {
                    Ok(candidate) => candidate,
                    Err(err) => return refuse(err.context(format!("agent `{agent}`"))),
                };
                let claim = release::Claim {
                    agent,
                    runtime_name: &entry.runtime,
                    runtime_id: &candidate.runtime_id,
                    version,
                    commit: &verified.commit,
                    pr: verified.pr,
                    artifact_key: candidate.artifact_key.as_deref(),
                };
                if let Err(err) = release::check(&aws, &claim).await {
                    return refuse(err.context(format!("agent `{agent}`")));
                }
                candidates.push(candidate);
            }
            // All of the release or none: an issue whose list was cut down must not promote part of
            // it and then delete the pull request's runtimes and close as promoted.
            let prod_runtimes = all
                .iter()
                .map(|agent| Ok((agent.name.clone(), scheme.runtime_name(&agent.name, Target::Prod)?)))
                .collect::<Result<Vec<_>>>()?;
            // Agents the issue leaves out whose released version is not live yet (an agent another
            // issue of the same push already made live is done).
            let mut left_out = Vec::new();
            let released = match release::released_versions(&aws, &prod_runtimes, &verified.commit).await {
                Ok(released) => released,
                Err(err) => return refuse(err),
            };
            for (agent, version) in released {
                if verified.agents.iter().any(|entry| entry.agent == agent) {
                    continue;
                }
                let live = match crate::aws::prod_endpoint_state(&ctx.settings, &aws, &agent, Some(&endpoint)).await {
                    Ok(state) => state.and_then(|state| state.live_version).and_then(|live| live.parse::<u32>().ok()),
                    Err(err) => return refuse(err),
                };
                if live.is_none_or(|live| live < version) {
                    left_out.push(agent);
                }
            }
            if !left_out.is_empty() {
                return refuse(anyhow::anyhow!(
                    "the release of commit {} also asked to promote {}, which the issue does not list; an approval promotes \
                     every version of its release or none, so approve the issue prod-deploy opened, unedited",
                    verified.commit,
                    left_out.iter().map(|agent| format!("`{agent}`")).collect::<Vec<_>>().join(", ")
                ));
            }
            let mut outcomes = Vec::new();
            for candidate in &candidates {
                // Compare and set against the version the check read: an endpoint moved since is
                // not moved again on the strength of this approval.
                let agent = all.iter().find(|agent| agent.name == candidate.agent).filter(|_| args.smoke);
                let moved = match agent {
                    Some(agent) => {
                        let test = crate::smoke::SmokeTest::for_agent(agent);
                        crate::promote::gated(ctx, &aws, candidate, candidate.live, &test).await
                    }
                    None => {
                        crate::promote::move_to(ctx, &aws, candidate, candidate.live, PromotionKind::Promote, false)
                            .await
                    }
                };
                match moved {
                    Ok(outcome) => outcomes.push(outcome),
                    Err(err) => {
                        let reason = format!("agent `{}`: {err:#}", candidate.agent);
                        write_out(&ctx.github, out, &render::failure(&reason), "comment")?;
                        github_output(&ctx.github, "result", StepResult::Failed.as_str())?;
                        bail!("promotion failed: {reason}");
                    }
                }
            }
            let deleted = match verified.pr {
                Some(pr) => match delete_pr_runtimes(&ctx.settings, &aws, &[pr], false).await {
                    Ok(deleted) => deleted,
                    Err(err) => {
                        // The versions are live: say so, and that approving again finishes the job.
                        let reason =
                            format!("the versions are live, but deleting the runtimes of PR #{pr} failed: {err:#}");
                        write_out(&ctx.github, out, &render::failure(&reason), "comment")?;
                        github_output(&ctx.github, "result", StepResult::Failed.as_str())?;
                        bail!("{reason}");
                    }
                },
                None => vec![],
            };
            // What this promotion made live may supersede other open issues: each verified before its
            // pull request's runtimes go; one that does not verify is left open, and the summary says why.
            let sweep = supersede::Sweep {
                bot_login: &args.bot_login,
                promoted: Some(issue_event.issue.number),
                open_pulls: &[],
                dry_run: false,
            };
            let issues = supersede::sweep(ctx, &aws, &all, &open_issues, &sweep).await;
            let release =
                render::Release { issue: issue_event.issue.number, pr: verified.pr, commit: &verified.commit };
            if let Err(err) =
                supersede::write_comments(args.superseded_dir.as_deref(), &issues, Some(&release), &endpoint, false)
            {
                let reason = format!("the versions are live, but the superseded issues' comments: {err:#}");
                write_out(&ctx.github, out, &render::failure(&reason), "comment")?;
                github_output(&ctx.github, "result", StepResult::Failed.as_str())?;
                bail!("{reason}");
            }
            let markdown = render::promotion_summary(&verified, &outcomes, &deleted, &issues);
            write_out(&ctx.github, out, &markdown, "comment")?;
            github_output(&ctx.github, "result", StepResult::Promoted.as_str())?;
            Ok(StepReport {
                step: Step::Promote,
                result: StepResult::Promoted,
                pr: verified.pr,
                agents: verified.agents.iter().map(|entry| entry.agent.clone()).collect(),
                deleted,
                markdown: Some(markdown),
                issues,
                idle: vec![],
                pruned: vec![],
            })
        }
    }
}
