//! Deployment issues a later release superseded: every version one asks for is live already, or
//! older than the live one, so approving it would change nothing or be refused. `github promote`
//! looks at the other open issues once its own versions are live, and `github gc` at those left
//! behind (a run that failed or was replaced). Either way the issue's body is only a pointer: its
//! metadata is parsed strictly, each version is held to the approval policy in AgentCore
//! (`crate::approval`), and the records in S3 must name the issue's commit and pull request, before
//! that pull request's runtimes are deleted. An issue that does not verify is left open, and why is
//! said in the step's summary.

use std::path::Path;

use anyhow::{Context, Result};

use super::{Connected, Flow, delete_pr_runtimes, event, metadata, release, render};
use crate::agents::Agent;
use crate::approval;
use crate::report::{AskedVersion, IssueFate, IssueReport};

/// Whether a listed issue is one the bot opened: its author, and no other app through it.
pub(crate) fn by_bot(issue: &event::ListedIssue, bot_login: &str) -> bool {
    issue.pull_request.is_none()
        && issue.user.login == bot_login
        && issue
            .performed_via_github_app
            .as_ref()
            .is_none_or(|app| Some(app.slug.as_str()) == bot_login.strip_suffix("[bot]"))
}

/// What to do with the issues found superseded.
pub(crate) struct Sweep<'a> {
    pub bot_login: &'a str,
    /// The issue being promoted by this run: not another one.
    pub promoted: Option<u64>,
    /// Pull requests still open: their runtimes are never deleted on an issue's word.
    pub open_pulls: &'a [u64],
    pub dry_run: bool,
}

/// Looks at every open deployment issue the bot opened (but `sweep.promoted`): one report each, in
/// the listing's order. Deletes the runtimes of the pull request of each superseded one. Never
/// fails: what cannot be verified or deleted is a `left_open` report saying why.
pub(crate) async fn sweep(
    flow: &Flow,
    connected: &Connected,
    agents: &[Agent],
    issues: &[event::ListedIssue],
    sweep: &Sweep<'_>,
) -> Vec<IssueReport> {
    let mut reports = Vec::new();
    for issue in issues.iter().filter(|issue| by_bot(issue, sweep.bot_login)) {
        if Some(issue.number) == sweep.promoted || reports.iter().any(|seen: &IssueReport| seen.issue == issue.number) {
            continue;
        }
        let mut report = judge(flow, connected, agents, issue).await;
        if report.fate == IssueFate::Superseded
            && let Some(pr) = report.pr
        {
            if sweep.open_pulls.contains(&pr) {
                report.fate = IssueFate::LeftOpen;
                report.reason =
                    Some(format!("PR #{pr} is still open; its runtimes are not deleted on an issue's word"));
            } else {
                match delete_pr_runtimes(&flow.prs.settings, &connected.prs, &[pr], sweep.dry_run).await {
                    Ok(deleted) => report.deleted = deleted,
                    Err(err) => {
                        report.fate = IssueFate::LeftOpen;
                        report.reason = Some(format!(
                            "superseded, but deleting the runtimes of PR #{pr} failed (the next run retries): {err:#}"
                        ));
                    }
                }
            }
        }
        reports.push(report);
    }
    reports
}

/// Where one issue stands, changing nothing. In a chain, an issue's versions are the first
/// environment's, and "live" is the version of it whose zip the second environment serves.
async fn judge(flow: &Flow, connected: &Connected, agents: &[Agent], issue: &event::ListedIssue) -> IssueReport {
    let mut report = IssueReport {
        issue: issue.number,
        fate: IssueFate::LeftOpen,
        pr: None,
        versions: vec![],
        deleted: vec![],
        reason: None,
    };
    let left_open = |mut report: IssueReport, reason: String| {
        report.reason = Some(reason);
        report
    };
    let body = issue.body.as_deref().unwrap_or("");
    let verified = match metadata::extract(body).and_then(|found| metadata::verify(&found, agents, &flow.approve)) {
        Ok(verified) => verified,
        Err(err) => return left_open(report, format!("its metadata does not verify: {err:#}")),
    };
    // The issue's versions are of the merge environment's runtimes (prod's own without a chain).
    let aws = &connected.merge;
    let endpoint = &flow.merge.settings.prod_endpoint;
    let mut candidates = Vec::new();
    let mut doubts = Vec::new();
    for entry in &verified.agents {
        let mut standing = approval::standing(aws, &entry.agent, &entry.runtime, endpoint, entry.version).await;
        if let (Some(from), Ok(Ok(candidate))) = (&verified.from, &mut standing) {
            let promoted =
                release::promoted_from(&flow.approve, &connected.approve, &entry.agent, from, &candidate.runtime_id)
                    .await;
            match promoted {
                Ok(promoted) => candidate.live = promoted,
                Err(err) => standing = Err(err),
            }
        }
        match standing {
            Ok(Ok(candidate)) => {
                report.versions.push(AskedVersion {
                    agent: entry.agent.clone(),
                    version: entry.version,
                    live: candidate.live,
                });
                candidates.push(candidate);
            }
            Ok(Err(refusal)) => {
                report.versions.push(AskedVersion { agent: entry.agent.clone(), version: entry.version, live: None });
                doubts.push(refusal.for_approval(&flow.merge.env_flag()));
            }
            Err(err) => {
                report.versions.push(AskedVersion { agent: entry.agent.clone(), version: entry.version, live: None });
                doubts.push(format!("agent `{}`: {err:#}", entry.agent));
            }
        }
    }
    // A version newer than the live one still waits for its approval, whatever else is wrong.
    let newer: Vec<String> = candidates
        .iter()
        .filter(|candidate| !candidate.superseded())
        .map(|candidate| match candidate.live {
            Some(live) => format!("`{}` v{} (live: v{live})", candidate.agent, candidate.version),
            None => format!("`{}` v{} (nothing live yet)", candidate.agent, candidate.version),
        })
        .collect();
    if !newer.is_empty() {
        report.fate = IssueFate::Waiting;
        report.reason = Some(format!("it asks for {}, newer than what is live", newer.join(", ")));
        return report;
    }
    if !doubts.is_empty() {
        return left_open(report, doubts.join("; "));
    }
    // Every version is at or below the live one; the pull request whose runtimes go must be the one
    // prod-deploy recorded for those versions.
    for candidate in &candidates {
        let claim = release::Claim {
            agent: &candidate.agent,
            runtime_name: &candidate.runtime_name,
            runtime_id: &candidate.runtime_id,
            version: candidate.version,
            commit: &verified.commit,
            pr: verified.pr,
            artifact_key: candidate.artifact_key.as_deref(),
            env: flow.merge.env_name(),
            to_env: verified.from.as_ref().map(|_| verified.env.as_str()),
        };
        if let Err(err) = release::check(aws, &claim).await {
            return left_open(report, format!("agent `{}`: {err:#}", candidate.agent));
        }
    }
    report.fate = IssueFate::Superseded;
    report.pr = verified.pr;
    report
}

/// Writes the comment of each superseded issue to `dir/<issue>.md`, the files the workflow posts
/// before it labels and closes those issues. Nothing for a dry run, which closes nothing.
pub(crate) fn write_comments(
    dir: Option<&Path>,
    reports: &[IssueReport],
    by: Option<&render::Release<'_>>,
    endpoint: &str,
    dry_run: bool,
) -> Result<()> {
    let Some(dir) = dir else { return Ok(()) };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for report in reports.iter().filter(|report| report.fate == IssueFate::Superseded && !dry_run) {
        let path = dir.join(format!("{}.md", report.issue));
        let comment = render::superseded_comment(report, by, endpoint);
        std::fs::write(&path, comment).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
