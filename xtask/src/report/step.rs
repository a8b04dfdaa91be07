//! What a GitHub workflow step did: shown to humans, printed as JSON with `--json`.

use std::fmt;

use serde::Serialize;

use super::{PruneAction, PruneOutcome, words};

words! {
    /// The workflow steps, named as their subcommands.
    pub(crate) enum Step {
        PrPlan = "pr-plan",
        PrDeploy = "pr-deploy",
        PrComment = "pr-comment",
        ProdDeploy = "prod-deploy",
        Promote = "promote",
        PrClosed = "pr-closed",
        Gc = "gc",
    }
}

words! {
    /// How a step ended; also its `result` GitHub output where the workflow reads one.
    pub enum StepResult {
        /// pr-plan listed agents to deploy; pr-closed and gc with --dry-run: what would be deleted.
        Planned = "planned",
        /// Nothing to do: no agent affected, every version already live or asked for, or (gc
        /// --prune) no version to delete.
        Nothing = "nothing",
        /// The pull request's runtimes were deployed.
        Deployed = "deployed",
        /// A fork's pull request: packaged, not deployed.
        Packaged = "packaged",
        /// Some agent's deploy or the promotion failed.
        Failed = "failed",
        /// prod-deploy rendered a deployment issue.
        Issue = "issue",
        /// The approved versions are live.
        Promoted = "promoted",
        /// A manual run moved the endpoint back.
        RolledBack = "rolled_back",
        /// A merged pull request keeps its runtimes until its promotion.
        Kept = "kept",
        /// Runtimes were deleted (gc --prune: versions).
        Deleted = "deleted",
        /// The approval or rollback was refused before anything changed.
        Refused = "refused",
    }
}

words! {
    /// What became of another open deployment issue when a promotion or gc looked at it.
    pub enum IssueFate {
        /// Every version it asks for is live or older than the live one: its pull request's runtimes
        /// are deleted, and the workflow labels it `superseded` and closes it.
        Superseded = "superseded",
        /// It asks for a version newer than the live one: it stays open for its approval.
        Waiting = "waiting",
        /// Its metadata, versions or records do not verify, or deleting its pull request's runtimes
        /// failed: it stays open, and `reason` says why.
        LeftOpen = "left_open",
    }
}

/// A version an open deployment issue asks for, against the version live now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AskedVersion {
    pub agent: String,
    pub version: u32,
    /// What the prod endpoint serves (`None`: nothing yet, or not read).
    pub live: Option<u32>,
}

/// Another open deployment issue, as a promotion or gc found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssueReport {
    pub issue: u64,
    pub fate: IssueFate,
    /// The pull request its metadata names, once verified.
    pub pr: Option<u64>,
    pub versions: Vec<AskedVersion>,
    /// That pull request's runtimes deleted (or, with --dry-run, that would be).
    pub deleted: Vec<String>,
    /// Why it stays open.
    pub reason: Option<String>,
}

/// An open pull request whose preview gc deleted: nothing was pushed to it for `idle_days`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdlePreview {
    pub pr: u64,
    /// Whole days since its newest runtime version.
    pub idle_days: u64,
    /// Its runtimes deleted (or, with --dry-run, that would be).
    pub deleted: Vec<String>,
}

/// What a step did.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub(crate) step: Step,
    pub result: StepResult,
    pub pr: Option<u64>,
    pub agents: Vec<String>,
    /// Runtimes deleted (or, with --dry-run, that would be).
    pub deleted: Vec<String>,
    /// The rendered markdown, also written to --out.
    pub markdown: Option<String>,
    /// The other open deployment issues promote and gc looked at.
    pub issues: Vec<IssueReport>,
    /// Idle previews gc deleted.
    pub idle: Vec<IdlePreview>,
    /// What `gc --prune` did to each agent's prod runtime.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pruned: Vec<PruneOutcome>,
}

impl StepReport {
    /// A step that did `result` and has nothing else to report: each step sets what it has with
    /// struct update syntax (`StepReport { pr: Some(pr), ..StepReport::new(step, result) }`).
    pub(crate) fn new(step: Step, result: StepResult) -> StepReport {
        StepReport {
            step,
            result,
            pr: None,
            agents: vec![],
            deleted: vec![],
            markdown: None,
            issues: vec![],
            idle: vec![],
            pruned: vec![],
        }
    }
}

impl fmt::Display for StepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {}", self.step, self.result)?;
        if !self.agents.is_empty() {
            writeln!(f, "agents: {}", self.agents.join(", "))?;
        }
        if !self.deleted.is_empty() {
            writeln!(f, "deleted: {}", self.deleted.join(", "))?;
        }
        for issue in &self.issues {
            write!(f, "issue #{}: {}", issue.issue, issue.fate)?;
            if !issue.deleted.is_empty() {
                write!(f, ", deleted {}", issue.deleted.join(", "))?;
            }
            match &issue.reason {
                Some(reason) => writeln!(f, " ({reason})")?,
                None => writeln!(f)?,
            }
        }
        for idle in &self.idle {
            writeln!(f, "idle PR #{} ({} days): deleted {}", idle.pr, idle.idle_days, idle.deleted.join(", "))?;
        }
        for outcome in self.pruned.iter().filter(|outcome| outcome.runtime_id.is_some()) {
            let words = [
                ("deleted", PruneAction::Deleted),
                ("would delete", PruneAction::Planned),
                ("failed to delete", PruneAction::Failed),
                ("kept", PruneAction::Kept),
            ];
            let parts: Vec<String> = words
                .into_iter()
                .filter_map(|(word, action)| {
                    let versions: Vec<String> = outcome.with_action(action).iter().map(u32::to_string).collect();
                    (!versions.is_empty()).then(|| format!("{word} {}", versions.join(", ")))
                })
                .collect();
            writeln!(f, "pruned {}: {}", outcome.runtime_name, parts.join("; "))?;
        }
        Ok(())
    }
}
