//! What `prune` did (or, with --dry-run, would do) to the versions of one agent's long-lived
//! runtime, and why each version it keeps is protected; `status --versions` shows the same reasons.

use std::fmt;

use serde::Serialize;

use super::{Plan, Row, Status, words};

words! {
    /// What prune did to one version.
    pub enum PruneAction {
        /// AgentCore accepted its deletion (the version is DELETING, then gone), now or in an
        /// earlier run.
        Deleted = "deleted",
        /// Protected: see the reasons.
        Kept = "kept",
        /// --dry-run: it would be deleted.
        Planned = "planned",
        /// Its deletion failed; `error` says why, and a re-run tries again.
        Failed = "failed",
    }
}

/// Why a version is kept. In JSON an object whose `reason` names the rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Protection {
    /// An endpoint (DEFAULT included) serves the version (`live`) or is moving to it (`target`).
    Endpoint { endpoint: String, live: bool, target: bool },
    /// One of the newest `keep` versions.
    Newest { keep: u32 },
    /// Live on `endpoint` according to a promotion record of the kept window, or the version the
    /// endpoint's last move came from (where `rollback` goes back to); `promotion` is the time of
    /// the newest such record.
    RollbackTarget { endpoint: String, promotion: String },
}

impl fmt::Display for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protection::Endpoint { endpoint, live: true, .. } => write!(f, "endpoint {endpoint} live"),
            Protection::Endpoint { endpoint, .. } => write!(f, "endpoint {endpoint} target"),
            Protection::Newest { keep } => write!(f, "newest {keep}"),
            Protection::RollbackTarget { promotion, .. } => write!(f, "rollback target (promotion {promotion})"),
        }
    }
}

/// The reasons a version is kept, as one cell (`not protected` when there are none).
pub fn reasons(protected_by: &[Protection]) -> String {
    if protected_by.is_empty() {
        return "not protected".to_owned();
    }
    protected_by.iter().map(Protection::to_string).collect::<Vec<_>>().join(", ")
}

/// One version of the runtime, and what prune did to it.
#[derive(Debug, Clone, Serialize)]
pub struct VersionVerdict {
    pub version: u32,
    /// As AgentCore listed it, or DELETING once prune deleted it.
    pub status: Status,
    pub action: PruneAction,
    /// Empty for a version nothing protects.
    pub protected_by: Vec<Protection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What prune did to one agent's long-lived runtime.
#[derive(Debug, Clone, Serialize)]
pub struct PruneOutcome {
    pub agent: String,
    pub runtime_name: String,
    /// `None`: the runtime does not exist, so there is nothing to prune.
    pub runtime_id: Option<String>,
    /// How many of the newest versions are kept.
    pub keep: u32,
    /// Every version, oldest first (those deleted in an earlier run and gone since are not listed).
    pub versions: Vec<VersionVerdict>,
    /// With --dry-run: what would be done.
    pub plan: Option<Plan>,
}

impl PruneOutcome {
    /// The versions with `action`.
    pub fn with_action(&self, action: PruneAction) -> Vec<u32> {
        self.versions.iter().filter(|version| version.action == action).map(|version| version.version).collect()
    }
}

impl Row for PruneOutcome {
    fn headers() -> &'static [&'static str] {
        &["AGENT", "VERSION", "ACTION", "WHY"]
    }
    fn cells(&self) -> Vec<String> {
        vec![self.agent.clone(), "-".to_owned(), "-".to_owned(), format!("no runtime {}", self.runtime_name)]
    }
    fn rows(&self) -> Vec<Vec<String>> {
        if self.runtime_id.is_none() {
            return vec![self.cells()];
        }
        self.versions
            .iter()
            .map(|version| {
                let why = match &version.error {
                    Some(_) => "see below".to_owned(),
                    None => reasons(&version.protected_by),
                };
                vec![self.agent.clone(), version.version.to_string(), version.action.to_string(), why]
            })
            .collect()
    }
    fn plan(&self) -> Option<&Plan> {
        self.plan.as_ref()
    }
    fn failure(&self) -> Option<String> {
        let failed: Vec<String> = self
            .versions
            .iter()
            .filter_map(|version| Some(format!("version {}: {}", version.version, version.error.as_ref()?)))
            .collect();
        (!failed.is_empty()).then(|| format!("{}; re-run to retry", failed.join("; ")))
    }
}
