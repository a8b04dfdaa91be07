//! Markdown the workflows post: the PR comment, the deployment issue, the promotion summary and
//! refusals. Each carries a hidden marker so the workflow finds and updates its own text.
//!
//! Only values this tool produced or validated go into the markdown (agent names from agents/,
//! checked SHAs and numbers, AgentCore's answers); free text such as error messages goes inside a
//! code fence so it cannot add mentions, links or HTML.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::agents::{Agent, Protocol};
use crate::github::metadata::{AgentVersion, FORMAT, Metadata, Verified};
use crate::package::PackageReport;
use crate::report::{
    DeployAction, DeployOutcome, DeployStatus, IdlePreview, IssueFate, IssueReport, PromoteOutcome, PruneAction,
    PruneOutcome, SmokeResult, reasons,
};

/// Marks the one comment per pull request that the deploy workflow creates, then edits.
pub const PR_COMMENT_MARKER: &str = "<!-- agentcore:pr-comment -->";
/// Marks a deployment issue body.
pub const ISSUE_MARKER: &str = "<!-- agentcore:deployment-issue -->";
/// Marks the promotion summary or refusal comment on a deployment issue.
pub const PROMOTION_MARKER: &str = "<!-- agentcore:promotion -->";
/// Marks the comment that closes a deployment issue a later release superseded.
pub const SUPERSEDED_MARKER: &str = "<!-- agentcore:superseded -->";
/// Marks the comment on a pull request whose idle preview was deleted.
pub const IDLE_MARKER: &str = "<!-- agentcore:idle-preview -->";

/// One agent's PR deploy as the comment shows it. A matrix job writes it as JSON (`pr-deploy
/// --agent NAME --result FILE`); the comment job reads every one back (`pr-comment --results DIR`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentResult {
    pub agent: String,
    pub pr: u64,
    /// The pull request's head commit that was deployed.
    pub commit: String,
    pub outcome: Result<Deployed, String>,
}

/// What the comment shows of a successful deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployed {
    pub(crate) runtime_name: String,
    pub runtime_arn: Option<String>,
    pub(crate) version: Option<String>,
    pub status: DeployStatus,
    pub action: DeployAction,
    pub s3_key: Option<String>,
    /// With `pr-deploy --smoke`: the version's smoke test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smoke: Option<SmokeResult>,
}

impl From<&DeployOutcome> for Deployed {
    fn from(outcome: &DeployOutcome) -> Deployed {
        Deployed {
            runtime_name: outcome.runtime_name.clone(),
            runtime_arn: outcome.runtime_arn.clone(),
            version: outcome.version.clone(),
            status: outcome.status.clone(),
            action: outcome.action,
            s3_key: outcome.s3_key.clone(),
            smoke: outcome.smoke.clone(),
        }
    }
}

/// A deploy action as the table shows it; a plan is not a deploy and shows as `-`.
fn action(action: DeployAction) -> &'static str {
    match action {
        DeployAction::Planned => "-",
        done => done.as_str(),
    }
}

/// An ARN as the suggested command quotes it: only the characters ARNs are made of, so the text can
/// neither close the quotes nor the code block.
fn arn(value: Option<&str>) -> &str {
    match value {
        Some(arn)
            if arn.starts_with("arn:")
                && arn.len() <= 2048
                && arn.bytes().all(|b| b.is_ascii_alphanumeric() || b":/_.-".contains(&b)) =>
        {
            arn
        }
        _ => "<runtime ARN>",
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// Free text inside a fence no line of it can close: longer than any run of backticks in it.
fn fenced(text: &str) -> String {
    let clean: String = text.chars().map(|c| if c.is_control() && c != '\n' { ' ' } else { c }).collect();
    let longest = clean.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}text\n{}\n{fence}\n", clean.trim_end())
}

/// A value as a table cell in a code span: no backtick can end the span, no pipe can end the cell
/// and no line break can end the row.
fn cell(value: Option<&str>) -> String {
    match value {
        Some(value) if !value.is_empty() => {
            let clean: String = value.chars().filter(|c| !matches!(c, '`' | '|') && !c.is_control()).collect();
            format!("`{clean}`")
        }
        _ => "-".to_owned(),
    }
}

/// GitHub refuses a comment or an issue body longer than this many characters.
pub const GITHUB_BODY_LIMIT: usize = 65_536;
/// What the PR comment stays under, in bytes (never fewer than characters), with room to spare.
pub(crate) const PR_COMMENT_BUDGET: usize = 60_000;
/// The most of one agent's error the comment quotes: its beginning and its end, where the cause is.
const MAX_ERROR_CHARS: usize = 4_000;

/// An error of at most `MAX_ERROR_CHARS` characters: a longer one loses its middle, and says so.
fn shortened(error: &str) -> String {
    let count = error.chars().count();
    if count <= MAX_ERROR_CHARS {
        return error.to_owned();
    }
    let (head, tail) = (MAX_ERROR_CHARS / 2, MAX_ERROR_CHARS / 2 - 100);
    let start: String = error.chars().take(head).collect();
    let end: String = error.chars().skip(count - tail).collect();
    format!("{start}\n[… {} characters cut; the job's log has the whole message …]\n{end}", count - head - tail)
}

/// Takes the pieces in order while they fit in `budget` (which shrinks); the rest are counted.
fn fitting(pieces: Vec<String>, budget: &mut usize) -> (Vec<String>, usize) {
    let mut taken = Vec::new();
    let mut pieces = pieces.into_iter();
    for piece in pieces.by_ref() {
        if piece.len() > *budget {
            return (taken, 1 + pieces.count());
        }
        *budget -= piece.len();
        taken.push(piece);
    }
    (taken, 0)
}

/// The PR comment after a deploy: per agent the runtime, version, status, S3 key and how to call it.
/// However many agents and however long their errors, it stays under GitHub's limit: errors lose
/// their middle, and what does not fit (invocations first, then failure details, then table rows)
/// is left out with a note saying so.
/// The PR comment: what each affected agent's deploy did, its smoke test, how to call it (by its
/// protocol, from `agents`; an agent not among them is taken for HTTP) and why any failed.
pub fn pr_comment(pr: u64, commit: &str, agents: &[Agent], results: &[AgentResult]) -> String {
    let mut out = String::new();
    writeln!(out, "{PR_COMMENT_MARKER}").unwrap();
    writeln!(out, "## AgentCore preview of PR #{pr}\n").unwrap();
    if results.is_empty() {
        writeln!(out, "Commit `{}` changes no agent, prompt or tooling file: nothing was deployed.", short(commit))
            .unwrap();
        return out;
    }
    let failed = results.iter().filter(|result| result.outcome.is_err()).count();
    writeln!(
        out,
        "Commit `{}` deployed {} of {} affected agents to this pull request's runtimes.\n",
        short(commit),
        results.len() - failed,
        results.len()
    )
    .unwrap();
    writeln!(out, "| Agent | Runtime | Version | Status | Action | Commit | S3 key |").unwrap();
    writeln!(out, "|---|---|---|---|---|---|---|").unwrap();
    let rows: Vec<String> = results
        .iter()
        .map(|result| match &result.outcome {
            Ok(deployed) => format!(
                "| `{}` | {} | {} | {} | {} | `{}` | {} |\n",
                result.agent,
                cell(Some(&deployed.runtime_name)),
                cell(deployed.version.as_deref()),
                cell(Some(deployed.status.as_str())),
                action(deployed.action),
                short(&result.commit),
                cell(deployed.s3_key.as_deref()),
            ),
            Err(_) => format!("| `{}` | - | - | failed | - | `{}` | - |\n", result.agent, short(&result.commit)),
        })
        .collect();
    let invocations: Vec<String> = results
        .iter()
        .filter_map(|result| result.outcome.as_ref().ok().map(|deployed| (result.agent.as_str(), deployed)))
        .map(|(agent, deployed)| {
            let protocol = agents.iter().find(|known| known.name == agent).map_or(Protocol::Http, Agent::protocol);
            // Agent names are checked identifiers, and the request is fixed JSON: safe to quote.
            let request = match protocol.prompt_payload("Hello") {
                Some(_) => "--prompt Hello".to_owned(),
                None => format!("--payload '{}'", crate::agents::mcp_request("tools/list")),
            };
            format!(
                "# {agent} ({protocol}): {}\ncargo xtask invoke {agent} --pr {pr} {request}\n",
                arn(deployed.runtime_arn.as_deref())
            )
        })
        .collect();
    let smokes: Vec<String> = results
        .iter()
        .filter_map(|result| Some((result.agent.as_str(), result.outcome.as_ref().ok()?.smoke.as_ref()?)))
        .map(|(agent, smoke)| smoke_item(agent, smoke))
        .collect();
    let failures: Vec<String> = results
        .iter()
        .filter_map(|result| {
            let error = result.outcome.as_ref().err()?;
            Some(format!("\n### `{}` failed\n\n{}", result.agent, fenced(&shortened(error))))
        })
        .collect();
    let try_it = "\n### Try it\n\nFrom a checkout of this branch, with credentials for the account (the `DEFAULT` endpoint serves the latest version; any AWS SDK or CLI can call the runtime ARN too):\n\n```sh\n";
    let footer = "\nThese runtimes are deleted when the pull request is closed, after its merge is promoted, or when nothing was deployed to them for a while (the next push makes them again).\n";
    // Room for the fixed text and up to three notes of a few hundred bytes each.
    let mut budget = PR_COMMENT_BUDGET.saturating_sub(out.len() + try_it.len() + "```\n".len() + footer.len() + 900);
    let (rows, rows_left) = fitting(rows, &mut budget);
    let (smokes, smokes_left) = fitting(smokes, &mut budget);
    let (failures, failures_left) = fitting(failures, &mut budget);
    let (invocations, invocations_left) = fitting(invocations, &mut budget);
    out.extend(rows);
    if rows_left > 0 {
        writeln!(out, "\n{rows_left} more agents are left out to keep this comment under GitHub's {GITHUB_BODY_LIMIT}-character limit; each agent's deploy job shows its result.").unwrap();
    }
    if !smokes.is_empty() {
        out.push_str("\n### Smoke tests\n");
        out.extend(smokes);
    }
    if smokes_left > 0 {
        writeln!(out, "\n{smokes_left} more smoke tests are left out to keep this comment under GitHub's {GITHUB_BODY_LIMIT}-character limit; each agent's deploy job shows its result.").unwrap();
    }
    if !invocations.is_empty() {
        out.push_str(try_it);
        out.extend(invocations);
        writeln!(out, "```").unwrap();
    }
    if invocations_left > 0 {
        writeln!(out, "\nThe commands for {invocations_left} more agents are left out to keep this comment under GitHub's {GITHUB_BODY_LIMIT}-character limit; `cargo xtask status` shows their ARNs.").unwrap();
    }
    out.extend(failures);
    if failures_left > 0 {
        writeln!(out, "\nWhy {failures_left} more agents failed is left out to keep this comment under GitHub's {GITHUB_BODY_LIMIT}-character limit; their deploy jobs' logs say.").unwrap();
    }
    out.push_str(footer);
    out
}

/// One agent's smoke test in the PR comment: pass or fail, the latency, and the first lines of the
/// answer (and why it failed), fenced: both are the agent's untrusted text.
fn smoke_item(agent: &str, smoke: &SmokeResult) -> String {
    let verdict = if smoke.passed { "pass" } else { "**fail**" };
    let version = cell(smoke.version.as_deref());
    let mut item = format!(
        "\n- {} {verdict} in {} ms on {} version {version}\n",
        cell(Some(agent)),
        smoke.latency_ms,
        cell(Some(&smoke.qualifier))
    );
    if !smoke.answer.is_empty() {
        item += &format!("\n{}", fenced(&smoke.answer));
    }
    if let Some(reason) = &smoke.reason {
        item += &format!("\n{}", fenced(&shortened(reason)));
    }
    item
}

/// The comment on a pull request from a fork: built, not deployed, and why.
pub fn fork_comment(pr: u64, commit: &str, packages: &[Result<PackageReport, (String, String)>]) -> String {
    let mut out = String::new();
    writeln!(out, "{PR_COMMENT_MARKER}").unwrap();
    writeln!(out, "## AgentCore preview of PR #{pr}\n").unwrap();
    writeln!(
        out,
        "This pull request comes from a fork, so commit `{}` was **packaged but not deployed**: GitHub gives \
         workflows of fork pull requests no access to this repository's AWS role, and code from a fork must \
         not run with it. A maintainer who has reviewed the change can push it to a branch of this repository \
         to get a preview runtime.\n",
        short(commit)
    )
    .unwrap();
    if packages.is_empty() {
        writeln!(out, "No agent, prompt or tooling file changed.").unwrap();
        return out;
    }
    writeln!(out, "| Agent | Zip SHA-256 | Files | Size |").unwrap();
    writeln!(out, "|---|---|---|---|").unwrap();
    for package in packages {
        match package {
            Ok(report) => writeln!(
                out,
                "| `{}` | `{}` | {} | {} bytes |",
                report.agent,
                short(&report.sha256),
                report.files,
                report.zipped_bytes
            )
            .unwrap(),
            Err((agent, _)) => writeln!(out, "| `{agent}` | packaging failed | - | - |").unwrap(),
        }
    }
    for package in packages {
        if let Err((agent, error)) = package {
            writeln!(out, "\n### `{agent}` failed\n").unwrap();
            out.push_str(&fenced(error));
        }
    }
    out
}

/// The deployment issue's title: versions and pull request, nothing taken from free text.
pub fn issue_title(pr: Option<u64>, agents: &[AgentVersion]) -> String {
    let versions: Vec<String> = agents.iter().map(|entry| format!("{} v{}", entry.agent, entry.version)).collect();
    let source = match pr {
        Some(pr) => format!("PR #{pr}"),
        None => "direct push".to_owned(),
    };
    format!("Promote to prod: {} ({source})", versions.join(", "))
}

/// A chain's deployment issue title: the versions of the first environment to promote to the second.
pub fn chain_issue_title(pr: Option<u64>, agents: &[AgentVersion], chain: &Chain<'_>) -> String {
    let versions: Vec<String> = agents.iter().map(|entry| format!("{} v{}", entry.agent, entry.version)).collect();
    let source = match pr {
        Some(pr) => format!("PR #{pr}"),
        None => "direct push".to_owned(),
    };
    format!("Promote to {}: {} of {} ({source})", chain.to, versions.join(", "), chain.from)
}

/// Whether the zip a deployment issue asks to promote is the one a pull request's preview ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Preview {
    pub agent: String,
    /// The SHA-256 of the zip the issue asks to promote.
    pub zip_sha256: String,
    /// The preview's latest version and its zip's SHA-256; `None` when the pull request has no
    /// runtime or record of the agent (it never deployed it, or they were deleted).
    pub preview: Option<(String, String)>,
}

impl Preview {
    fn same(&self) -> bool {
        self.preview.as_ref().is_some_and(|(_, sha256)| *sha256 == self.zip_sha256)
    }
}

/// The "Same bytes as the preview" section of a deployment issue: per agent, the zip's SHA-256 and
/// the one the preview ran, and a warning naming those that differ or had no preview.
fn previews_section(out: &mut String, pr: u64, previews: &[Preview]) {
    if previews.is_empty() {
        return;
    }
    writeln!(
        out,
        "### Same bytes as the preview
"
    )
    .unwrap();
    writeln!(
        out,
        "Packaging is deterministic: the same code and pins give a byte-identical zip. Each zip above, against the \
         one PR #{pr}'s preview ran last:
"
    )
    .unwrap();
    writeln!(out, "| Agent | Zip SHA-256 | Preview version | Preview SHA-256 | Same bytes |").unwrap();
    writeln!(out, "|---|---|---|---|---|").unwrap();
    for preview in previews {
        let (version, sha256) = match &preview.preview {
            Some((version, sha256)) => (cell(Some(version)), cell(Some(short(sha256)))),
            None => ("-".to_owned(), "-".to_owned()),
        };
        let same = match &preview.preview {
            None => "no preview",
            Some(_) if preview.same() => "yes",
            Some(_) => "**no**",
        };
        writeln!(
            out,
            "| `{}` | {} | {version} | {sha256} | {same} |",
            preview.agent,
            cell(Some(short(&preview.zip_sha256)))
        )
        .unwrap();
    }
    let differ: Vec<String> =
        previews.iter().filter(|preview| !preview.same()).map(|preview| format!("`{}`", preview.agent)).collect();
    if !differ.is_empty() {
        let (zips, are, ones) = if differ.len() == 1 { ("zip", "is", "the one") } else { ("zips", "are", "the ones") };
        writeln!(
            out,
            "\n> [!WARNING]\n> The {zips} of {} {are} not {ones} PR #{pr}'s preview ran: the default branch moved on \
             after the preview's last push (another merge, a changed pin or prompt), or the preview was never deployed. \
             These bytes were not tried in the preview; look at what changed before approving.",
            differ.join(", ")
        )
        .unwrap();
    }
    writeln!(out).unwrap();
}

/// Where a chain's deployment issue promotes from and to.
#[derive(Debug, Clone)]
pub struct Chain<'a> {
    /// The environment the merge deployed to and made live.
    pub from: &'a str,
    /// Its endpoint.
    pub from_endpoint: &'a str,
    /// The environment the approval promotes to.
    pub to: &'a str,
}

/// A chain's deployment issue: the versions a merge made live on the first environment, whose very
/// zips an approval deploys to the second and makes live there; ends with the metadata block.
pub fn chain_issue_body(
    metadata: &Metadata,
    outcomes: &[DeployOutcome],
    endpoint: &str,
    previews: &[Preview],
    chain: &Chain<'_>,
) -> String {
    debug_assert_eq!(metadata.v, FORMAT);
    let Chain { from, from_endpoint, to } = chain;
    let mut out = String::new();
    writeln!(out, "{ISSUE_MARKER}").unwrap();
    match metadata.pr {
        Some(pr) => writeln!(
            out,
            "## Promotion of PR #{pr} from {from} to {to}
"
        )
        .unwrap(),
        None => writeln!(
            out,
            "## Promotion from {from} to {to}
"
        )
        .unwrap(),
    }
    writeln!(
        out,
        "Commit `{}` on the default branch deployed these versions to **{from}** and made them live there (endpoint \
         `{from_endpoint}`). **{to}** does not run them yet.\n",
        short(&metadata.commit)
    )
    .unwrap();
    writeln!(out, "| Agent | {from} runtime | Version | Status | Zip SHA-256 |").unwrap();
    writeln!(out, "|---|---|---|---|---|").unwrap();
    for entry in &metadata.agents {
        let outcome = outcomes.iter().find(|outcome| outcome.agent == entry.agent);
        writeln!(
            out,
            "| `{}` | `{}` | `{}` | {} | {} |",
            entry.agent,
            entry.runtime,
            entry.version,
            cell(outcome.map(|outcome| outcome.status.as_str())),
            cell(outcome.map(|outcome| short(&outcome.zip_sha256))),
        )
        .unwrap();
    }
    writeln!(out).unwrap();
    if let Some(pr) = metadata.pr {
        previews_section(&mut out, pr, previews);
    }
    writeln!(
        out,
        "### Promote them to {to}
"
    )
    .unwrap();
    writeln!(
        out,
        "Someone with write access adds the `approved` label. The promote workflow (environment `production`) checks \
         each version against its records, takes its very zip from {from}'s bucket (verified by its SHA-256; nothing \
         is built again), deploys it to {to}, moves `{endpoint}` there to it, {}comments a summary, labels this issue \
         `promoted` and closes it.\n",
        match metadata.pr {
            Some(pr) => format!("deletes the runtimes of PR #{pr}, "),
            None => String::new(),
        }
    )
    .unwrap();
    writeln!(
        out,
        "To go back later, run the promote workflow by hand (`workflow_dispatch`) with the agent and the {to} version \
         to roll back to.\n"
    )
    .unwrap();
    writeln!(out, "{}", metadata.render()).unwrap();
    out
}

/// The deployment issue's body, ending with the hidden metadata block. With a pull request, it
/// says per agent whether the zip is the one the preview ran (`previews`).
pub fn issue_body(metadata: &Metadata, outcomes: &[DeployOutcome], endpoint: &str, previews: &[Preview]) -> String {
    debug_assert_eq!(metadata.v, FORMAT);
    let mut out = String::new();
    writeln!(out, "{ISSUE_MARKER}").unwrap();
    match metadata.pr {
        Some(pr) => writeln!(out, "## Production deployment of PR #{pr}\n").unwrap(),
        None => writeln!(out, "## Production deployment\n").unwrap(),
    }
    writeln!(
        out,
        "Commit `{}` on the default branch added these versions to the prod runtimes. They are **not live**: \
         the `{endpoint}` endpoint still serves the versions before them.\n",
        short(&metadata.commit)
    )
    .unwrap();
    writeln!(out, "| Agent | Runtime | Version | Status | S3 key |").unwrap();
    writeln!(out, "|---|---|---|---|---|").unwrap();
    for entry in &metadata.agents {
        let outcome = outcomes.iter().find(|outcome| outcome.agent == entry.agent);
        writeln!(
            out,
            "| `{}` | `{}` | `{}` | {} | {} |",
            entry.agent,
            entry.runtime,
            entry.version,
            cell(outcome.map(|outcome| outcome.status.as_str())),
            cell(outcome.and_then(|outcome| outcome.s3_key.as_deref())),
        )
        .unwrap();
    }
    writeln!(out).unwrap();
    if let Some(pr) = metadata.pr {
        previews_section(&mut out, pr, previews);
    }
    writeln!(out, "### Make them live\n").unwrap();
    writeln!(
        out,
        "Someone with write access adds the `approved` label. The promote workflow (environment `production`) \
         checks that each version exists, is READY and is newer than the live one, moves `{endpoint}` to each, \
         {}comments a summary, labels this issue `promoted` and closes it.\n",
        match metadata.pr {
            Some(pr) => format!("deletes the runtimes of PR #{pr}, "),
            None => String::new(),
        }
    )
    .unwrap();
    writeln!(
        out,
        "To go back later, run the promote workflow by hand (`workflow_dispatch`) with the agent and the version \
         to roll back to.\n"
    )
    .unwrap();
    writeln!(out, "{}", metadata.render()).unwrap();
    out
}

/// A chain's promotion summary's part on the bytes: per agent, the version of `from` whose zip was
/// taken, the version of `to` made from it, and the SHA-256 both share.
pub fn same_bytes(from: &str, to: &str, deployed: &[DeployOutcome]) -> String {
    let mut out = String::new();
    writeln!(out, "\n### The same bytes\n").unwrap();
    writeln!(
        out,
        "Each zip was taken from {from}'s bucket, checked against the SHA-256 its record states, and deployed to {to} \
         as it was: nothing was built again.\n"
    )
    .unwrap();
    writeln!(out, "| Agent | {from} version | {to} runtime | {to} version | Deploy | Zip SHA-256 |").unwrap();
    writeln!(out, "|---|---|---|---|---|---|").unwrap();
    for outcome in deployed {
        writeln!(
            out,
            "| `{}` | {} | `{}` | {} | {} | {} |",
            outcome.agent,
            cell(outcome.source.as_ref().map(|source| source.version.as_str())),
            outcome.runtime_name,
            cell(outcome.version.as_deref()),
            outcome.action,
            cell(Some(short(&outcome.zip_sha256))),
        )
        .unwrap();
    }
    out
}

/// The summary comment after a promotion, with the other open deployment issues it looked at.
pub fn promotion_summary(
    verified: &Verified,
    outcomes: &[PromoteOutcome],
    deleted: &[String],
    issues: &[IssueReport],
) -> String {
    let mut out = String::new();
    writeln!(out, "{PROMOTION_MARKER}").unwrap();
    writeln!(out, "## Promoted\n").unwrap();
    writeln!(out, "| Agent | Runtime | Endpoint | Before | Live now | Action |").unwrap();
    writeln!(out, "|---|---|---|---|---|---|").unwrap();
    for outcome in outcomes {
        writeln!(
            out,
            "| `{}` | `{}` | `{}` | {} | `{}` | {} |",
            outcome.agent,
            outcome.runtime_name,
            outcome.endpoint,
            cell(outcome.previous_version.as_deref()),
            outcome.live_version,
            outcome.action
        )
        .unwrap();
    }
    match verified.pr {
        Some(pr) if deleted.is_empty() => writeln!(out, "\nPR #{pr} had no runtimes left to delete.").unwrap(),
        Some(pr) => writeln!(
            out,
            "\nDeleted the runtimes of PR #{pr}: {}.",
            deleted.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
        )
        .unwrap(),
        None => {}
    }
    out.push_str(&issues_section(issues));
    out
}

/// The release that made versions live: the deployment issue a promotion approved.
pub struct Release<'a> {
    pub issue: u64,
    pub pr: Option<u64>,
    pub commit: &'a str,
}

fn pull(pr: Option<u64>) -> String {
    pr.map_or_else(|| "a direct push".to_owned(), |pr| format!("PR #{pr}"))
}

fn runtimes(names: &[String]) -> String {
    names.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
}

/// The comment that closes a deployment issue a later release superseded: which release, which
/// versions are live, and the pull request runtimes deleted. `by` is `None` when gc found it.
pub fn superseded_comment(report: &IssueReport, by: Option<&Release<'_>>, endpoint: &str) -> String {
    let mut out = String::new();
    writeln!(out, "{SUPERSEDED_MARKER}").unwrap();
    writeln!(out, "## Superseded\n").unwrap();
    match by {
        Some(release) => write!(
            out,
            "The promotion of #{} (commit `{}`, {}) made newer versions live. ",
            release.issue,
            short(release.commit),
            pull(release.pr)
        )
        .unwrap(),
        None => write!(out, "A later release is live. ").unwrap(),
    }
    writeln!(
        out,
        "Every version this issue asks for is live already or older than the one `{endpoint}` serves, so approving \
         it would change nothing or be refused.\n"
    )
    .unwrap();
    writeln!(out, "| Agent | Asked for | Live now |").unwrap();
    writeln!(out, "|---|---|---|").unwrap();
    for asked in &report.versions {
        let live = asked.live.map_or_else(|| "-".to_owned(), |live| format!("`{live}`"));
        writeln!(out, "| `{}` | `{}` | {live} |", asked.agent, asked.version).unwrap();
    }
    match report.pr {
        Some(pr) if report.deleted.is_empty() => writeln!(out, "\nPR #{pr} had no runtimes left to delete.").unwrap(),
        Some(pr) => writeln!(out, "\nDeleted the runtimes of PR #{pr}: {}.", runtimes(&report.deleted)).unwrap(),
        None => {}
    }
    writeln!(
        out,
        "\nThe workflow labels this issue `superseded` and closes it. To serve one of its versions again, run the \
         promote workflow by hand (`workflow_dispatch`), which rolls back."
    )
    .unwrap();
    out
}

/// The other open deployment issues a promotion or gc looked at: closed, waiting, or left open and
/// why (free text, so in a fence).
pub fn issues_section(issues: &[IssueReport]) -> String {
    let mut out = String::new();
    if issues.is_empty() {
        return out;
    }
    writeln!(out, "\n### Other open deployment issues\n").unwrap();
    writeln!(out, "| Issue | Now | Asked for (live) | Runtimes deleted |").unwrap();
    writeln!(out, "|---|---|---|---|").unwrap();
    for issue in issues {
        let versions: Vec<String> = issue
            .versions
            .iter()
            .map(|asked| {
                let live = asked.live.map_or_else(|| "-".to_owned(), |live| format!("v{live}"));
                format!("`{}` v{} ({live})", asked.agent, asked.version)
            })
            .collect();
        let now = match issue.fate {
            IssueFate::Superseded => "superseded: closed",
            IssueFate::Waiting => "waits for its approval",
            IssueFate::LeftOpen => "left open",
        };
        let versions = if versions.is_empty() { "-".to_owned() } else { versions.join(", ") };
        let deleted = if issue.deleted.is_empty() { "-".to_owned() } else { runtimes(&issue.deleted) };
        writeln!(out, "| #{} | {now} | {versions} | {deleted} |", issue.issue).unwrap();
    }
    let reasons: Vec<String> = issues
        .iter()
        .filter(|issue| issue.fate == IssueFate::LeftOpen)
        .filter_map(|issue| Some(format!("#{}: {}", issue.issue, issue.reason.as_deref()?)))
        .collect();
    if !reasons.is_empty() {
        writeln!(out, "\nWhy some are left open:\n").unwrap();
        out.push_str(&fenced(&shortened(&reasons.join("\n"))));
    }
    out
}

/// The comment on an open pull request whose idle preview gc deleted, and how to get it back.
pub fn idle_comment(idle: &IdlePreview, idle_preview_days: u32) -> String {
    let mut out = String::new();
    writeln!(out, "{IDLE_MARKER}").unwrap();
    writeln!(out, "## AgentCore preview of PR #{} deleted\n", idle.pr).unwrap();
    writeln!(
        out,
        "Nothing was deployed to this pull request's runtimes for {} days, more than the {idle_preview_days} days \
         a preview is kept without one, so they were deleted: {}.\n",
        idle.idle_days,
        runtimes(&idle.deleted)
    )
    .unwrap();
    writeln!(
        out,
        "To get the preview back, push a commit to this pull request, or re-run its latest `pr-deploy` workflow run: \
         the runtimes are made again, starting at version 1."
    )
    .unwrap();
    out
}

/// The summary of a gc run: what it deleted, the deployment issues it closed or left open, and the
/// idle previews it deleted.
pub fn gc_summary(deleted: &[String], issues: &[IssueReport], idle: &[IdlePreview], dry_run: bool) -> String {
    let mut out = String::new();
    writeln!(out, "## Garbage collection{}\n", if dry_run { " (dry run: nothing changed)" } else { "" }).unwrap();
    if deleted.is_empty() {
        writeln!(out, "No runtime of a closed pull request was left to delete.").unwrap();
    } else {
        writeln!(out, "Runtimes of closed pull requests that no open deployment issue needs: {}.", runtimes(deleted))
            .unwrap();
    }
    for preview in idle {
        writeln!(
            out,
            "\nPR #{} was idle for {} days: deleted {}; the pull request gets a comment saying how to get it back.",
            preview.pr,
            preview.idle_days,
            runtimes(&preview.deleted)
        )
        .unwrap();
    }
    out.push_str(&issues_section(issues));
    out
}

/// The summary of `github gc --prune`: for each environment pruned (`names`, in the flow's order),
/// a row per runtime with the versions deleted and those kept, with why; the runtimes not there yet;
/// and what could not be pruned.
pub fn prune_summary(
    names: &[&str],
    sections: &[(&str, &[PruneOutcome])],
    failures: &[String],
    keep: u32,
    dry_run: bool,
) -> String {
    let mut out = String::new();
    let envs = names.join(" and ");
    writeln!(out, "## Old {envs} versions{}\n", if dry_run { " (dry run: nothing changed)" } else { "" }).unwrap();
    if keep == 0 {
        writeln!(out, "Pruning is off: the `prune_keep` setting is 0.").unwrap();
        return out;
    }
    writeln!(
        out,
        "Kept on each {envs} runtime: every version an endpoint serves or is moving to, the newest {keep}, and every \
         rollback target{}; code zips and records stay in S3.\n",
        if names.len() > 1 { " (by the promotion records of the runtime's own environment)" } else { "" }
    )
    .unwrap();
    for (env, outcomes) in sections {
        if sections.len() > 1 {
            writeln!(out, "### {env}\n").unwrap();
        }
        prune_section(&mut out, env, outcomes, dry_run);
    }
    let mut failed: Vec<String> = failures.to_vec();
    for (_, outcomes) in sections {
        for outcome in *outcomes {
            for version in &outcome.versions {
                if let Some(error) = &version.error {
                    failed.push(format!("{} version {}: {error}", outcome.runtime_name, version.version));
                }
            }
        }
    }
    if !failed.is_empty() {
        writeln!(out, "**Not pruned** (the next run tries again):\n").unwrap();
        out.push_str(&fenced(&failed.join("\n")));
    }
    out
}

/// One environment's table of [`prune_summary`], and its agents without a runtime there yet.
fn prune_section(out: &mut String, env: &str, outcomes: &[PruneOutcome], dry_run: bool) {
    if outcomes.is_empty() {
        writeln!(out, "No {env} runtime was pruned: see below.\n").unwrap();
        return;
    }
    let present: Vec<&PruneOutcome> = outcomes.iter().filter(|outcome| outcome.runtime_id.is_some()).collect();
    if !present.is_empty() {
        let gone = if dry_run { "Would delete" } else { "Deleted" };
        writeln!(out, "| Agent | Runtime | {gone} | Kept |\n| --- | --- | --- | --- |").unwrap();
        for outcome in &present {
            let deleted = outcome.with_action(if dry_run { PruneAction::Planned } else { PruneAction::Deleted });
            // Versions sharing their reasons, in order of their first version.
            let mut groups: Vec<(String, Vec<u32>)> = Vec::new();
            for version in outcome.versions.iter().filter(|version| version.action == PruneAction::Kept) {
                let why = reasons(&version.protected_by);
                match groups.iter_mut().find(|(reasons, _)| *reasons == why) {
                    Some((_, versions)) => versions.push(version.version),
                    None => groups.push((why, vec![version.version])),
                }
            }
            let kept: Vec<String> =
                groups.iter().map(|(why, versions)| format!("{}: {why}", version_ranges(versions))).collect();
            let deleted = if deleted.is_empty() { None } else { Some(version_ranges(&deleted)) };
            writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(Some(&outcome.agent)),
                cell(Some(&outcome.runtime_name)),
                cell(deleted.as_deref()),
                cell(Some(&kept.join("; ")))
            )
            .unwrap();
        }
        writeln!(out).unwrap();
    }
    let absent: Vec<String> =
        outcomes.iter().filter(|outcome| outcome.runtime_id.is_none()).map(|outcome| outcome.agent.clone()).collect();
    if !absent.is_empty() {
        writeln!(out, "No {env} runtime yet: {}.\n", runtimes(&absent)).unwrap();
    }
}

/// Version numbers as `v1–v3, v7`: runs of consecutive numbers joined.
fn version_ranges(versions: &[u32]) -> String {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &version in versions {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == version => *last = version,
            _ => runs.push((version, version)),
        }
    }
    let runs: Vec<String> = runs
        .iter()
        .map(|(first, last)| if first == last { format!("v{first}") } else { format!("v{first}–v{last}") })
        .collect();
    runs.join(", ")
}

/// The summary comment after an explicit rollback.
pub(crate) fn rollback_summary(outcome: &PromoteOutcome) -> String {
    let mut out = String::new();
    writeln!(out, "{PROMOTION_MARKER}").unwrap();
    writeln!(
        out,
        "## Rolled back\n\n`{}` endpoint `{}` of `{}`: {} → `{}` ({}).",
        outcome.agent,
        outcome.endpoint,
        outcome.runtime_name,
        cell(outcome.previous_version.as_deref()),
        outcome.live_version,
        outcome.action
    )
    .unwrap();
    out
}

/// Why a promotion (`by_label`) or a manual rollback was refused; nothing was changed.
pub fn refusal(reason: &str, by_label: bool) -> String {
    let mut out = String::new();
    writeln!(out, "{PROMOTION_MARKER}").unwrap();
    writeln!(out, "## {} refused\n", if by_label { "Promotion" } else { "Rollback" }).unwrap();
    writeln!(out, "Nothing was changed. The reason:\n").unwrap();
    out.push_str(&fenced(reason));
    if by_label {
        writeln!(
            out,
            "\nThe workflow took the `approved` label off: fix the cause, then add it again. A deployment issue that is wrong for good can be closed: the next merge opens a new one."
        )
        .unwrap();
    } else {
        writeln!(out, "\nFix the cause, then run the promote workflow again.").unwrap();
    }
    out
}

/// Why the promotion failed part-way, after checks passed; re-running converges.
pub(crate) fn failure(reason: &str) -> String {
    let mut out = String::new();
    writeln!(out, "{PROMOTION_MARKER}").unwrap();
    writeln!(out, "## Promotion failed\n").unwrap();
    out.push_str(&fenced(reason));
    writeln!(out, "\nThe workflow took the `approved` label off: add it again to retry; versions already live are left as they are.")
        .unwrap();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(index: usize, outcome: Result<Deployed, String>) -> AgentResult {
        AgentResult { agent: format!("agent_{index:03}"), pr: 7, commit: "ab".repeat(20), outcome }
    }

    fn deployed(index: usize) -> Deployed {
        let runtime = format!("agent_{index:03}_pr_7");
        Deployed {
            runtime_arn: Some(format!("arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/{runtime}-AbCdE12345")),
            s3_key: Some(format!("{runtime}/v1/code.zip")),
            runtime_name: runtime,
            version: Some("1".into()),
            status: "READY".into(),
            action: DeployAction::Created,
            smoke: None,
        }
    }

    #[test]
    fn smoke_results_show_fenced_untrusted_text() {
        let smoke = |passed: bool, answer: &str, reason: Option<&str>| SmokeResult {
            passed,
            qualifier: "DEFAULT".into(),
            version: Some("1".into()),
            status: Some(200),
            latency_ms: 42,
            answer: answer.into(),
            reason: reason.map(str::to_owned),
        };
        let results = vec![
            result(0, Ok(Deployed { smoke: Some(smoke(true, "pong | <b>hi</b>", None)), ..deployed(0) })),
            result(
                1,
                Ok(Deployed {
                    smoke: Some(smoke(false, "```\n# injected heading", Some("the answer does not contain `pong`"))),
                    ..deployed(1)
                }),
            ),
        ];
        let text = pr_comment(7, "0123456789abcdef", &[], &results);
        assert!(text.contains("\n### Smoke tests\n"), "{text}");
        assert!(
            text.contains("- `agent_000` pass in 42 ms on `DEFAULT` version `1`\n\n```text\npong | <b>hi</b>\n```\n"),
            "{text}"
        );
        assert!(text.contains("- `agent_001` **fail** in 42 ms"), "{text}");
        assert!(text.contains("````text\n```\n# injected heading\n````\n"), "a fence the answer cannot close: {text}");
        assert!(text.contains("the answer does not contain `pong`"), "{text}");
    }

    /// The result file a matrix job writes with `pr-deploy --result` and the comment job reads back.
    #[test]
    fn result_file() {
        let results = [result(0, Ok(deployed(0))), result(1, Err("cannot read the zip".into()))];
        let json = serde_json::to_string_pretty(&results).unwrap();
        let read: Vec<AgentResult> = serde_json::from_str(&json).unwrap();
        assert_eq!(read, results);
        insta::assert_snapshot!(json);
    }

    #[test]
    fn a_long_error_keeps_its_beginning_and_its_cause() {
        let error = format!("agent x: deploy failed{}: caused by AccessDenied", " and then".repeat(5_000));
        let short = shortened(&error);
        assert!(short.chars().count() < MAX_ERROR_CHARS + 100, "{}", short.len());
        assert!(short.starts_with("agent x: deploy failed") && short.ends_with("caused by AccessDenied"));
        assert!(short.contains("characters cut; the job's log has the whole message"));
        assert_eq!(shortened("short"), "short");
    }

    /// The matrix holds at most 256 jobs: even then, with every other agent failing with an error as
    /// large as a result file may hold, the comment fits and says what it left out.
    #[test]
    fn the_largest_matrix_with_huge_errors_stays_under_the_limit() {
        let huge = "é".repeat(200_000);
        let results: Vec<AgentResult> = (0..256)
            .map(|index| result(index, if index % 2 == 0 { Ok(deployed(index)) } else { Err(huge.clone()) }))
            .collect();
        let markdown = pr_comment(7, &"ab".repeat(20), &[], &results);
        assert!(markdown.len() <= PR_COMMENT_BUDGET && markdown.chars().count() < GITHUB_BODY_LIMIT);
        assert!(markdown.contains("| `agent_000` |") && markdown.contains("| `agent_255` |"), "every row is there");
        assert!(
            markdown
                .contains("more agents failed is left out to keep this comment under GitHub's 65536-character limit")
        );
        assert!(markdown.ends_with("(the next push makes them again).\n"));
    }
}
