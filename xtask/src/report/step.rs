//! What a GitHub workflow step did: shown to humans, printed as JSON with `--json`.

use std::fmt;

use serde::Serialize;

use super::words;

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
        /// Nothing to do: no agent affected, or every version already live or asked for.
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
        /// Runtimes were deleted.
        Deleted = "deleted",
        /// The approval or rollback was refused before anything changed.
        Refused = "refused",
    }
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
        Ok(())
    }
}
