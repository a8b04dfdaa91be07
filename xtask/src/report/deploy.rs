//! What `deploy` did (or, with --dry-run, would do) for one agent.

use serde::{Deserialize, Serialize};

use super::{Plan, Row, SmokeResult, Status, or_dash, text, words};

words! {
    /// What a deploy did to the runtime.
    pub enum DeployAction {
        /// The runtime was made, at version 1.
        Created = "created",
        /// A new version of the runtime was made.
        Updated = "updated",
        /// The latest version already has this code and settings: nothing was made.
        UpToDate = "up_to_date",
        /// --dry-run: the plan says what would be done.
        Planned = "planned",
    }
}

/// The status a deploy shows: AgentCore's status of the version deployed, or with --dry-run what
/// the run does to the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployStatus {
    /// The version's status as AgentCore reports it (READY once a deploy is done).
    Version(Status),
    /// --dry-run: the runtime exists and is left as it is.
    Unchanged,
    /// --dry-run: the runtime does not exist yet; the deploy would create it.
    Create,
}

impl DeployStatus {
    pub fn as_str(&self) -> &str {
        match self {
            DeployStatus::Version(status) => status.as_str(),
            DeployStatus::Unchanged => "unchanged",
            DeployStatus::Create => "create",
        }
    }
}

impl From<&str> for DeployStatus {
    fn from(text: &str) -> DeployStatus {
        match text {
            "unchanged" => DeployStatus::Unchanged,
            "create" => DeployStatus::Create,
            status => DeployStatus::Version(Status::from(status)),
        }
    }
}

text!(DeployStatus);

/// The version whose zip another version was made from: its place, and the digest both share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactSource {
    /// The environment of the source version; none for a pull request's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// The pull request of the source version, if it is one's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr: Option<u64>,
    pub runtime_name: String,
    pub runtime_id: String,
    pub version: String,
    /// Where its zip was read from.
    pub bucket: String,
    pub code_key: String,
    /// The SHA-256 its record states, which the zip read had, and which this version's zip has.
    pub zip_sha256: String,
}

impl std::fmt::Display for ArtifactSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.env, self.pr) {
            (Some(env), _) => write!(f, "{env}'s {} version {}", self.runtime_name, self.version),
            (None, Some(pr)) => write!(f, "PR #{pr}'s {} version {}", self.runtime_name, self.version),
            (None, None) => write!(f, "{} version {}", self.runtime_name, self.version),
        }
    }
}

/// What one agent's deploy did (or, with --dry-run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct DeployOutcome {
    pub agent: String,
    pub runtime_name: String,
    pub runtime_id: Option<String>,
    pub runtime_arn: Option<String>,
    pub version: Option<String>,
    pub status: DeployStatus,
    pub action: DeployAction,
    pub default_endpoint: Option<String>,
    pub s3_key: Option<String>,
    pub zip_sha256: String,
    pub commit: Option<String>,
    /// With --dry-run: what would be done.
    pub plan: Option<Plan>,
    /// The version record beside the code zip.
    pub record_key: Option<String>,
    /// With --smoke: the smoke test of the version, through the endpoint that serves it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smoke: Option<SmokeResult>,
    /// With --from-env or --from-pr: the version whose zip this one runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<ArtifactSource>,
}

impl Row for DeployOutcome {
    fn headers() -> &'static [&'static str] {
        &["AGENT", "RUNTIME", "ACTION", "VERSION", "STATUS", "RUNTIME ID", "S3 KEY", "DEFAULT ENDPOINT"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.agent.clone(),
            self.runtime_name.clone(),
            self.action.to_string(),
            or_dash(&self.version),
            self.status.to_string(),
            or_dash(&self.runtime_id),
            or_dash(&self.s3_key),
            or_dash(&self.default_endpoint),
        ]
    }
    fn plan(&self) -> Option<&Plan> {
        self.plan.as_ref()
    }
    fn optional_header() -> &'static str {
        "SMOKE"
    }
    fn optional_cell(&self) -> Option<String> {
        self.smoke.as_ref().map(SmokeResult::summary)
    }
    fn failure(&self) -> Option<String> {
        let smoke = self.smoke.as_ref()?;
        let reason = smoke.reason.as_ref()?;
        Some(format!("the smoke test of version {} failed: {reason}", self.version.as_deref().unwrap_or("-")))
    }
}
