//! What `promote` or `rollback` did (or, with --dry-run, would do) to one agent's endpoint.

use serde::Serialize;

use super::{Plan, Row, SmokeResult, or_dash, words};

words! {
    /// What a promotion or a rollback did to the endpoint.
    pub enum PromoteAction {
        /// The endpoint was moved to (or created at) the version.
        Promoted = "promoted",
        /// The endpoint was moved back to the version.
        RolledBack = "rolled_back",
        /// The endpoint already served the version.
        AlreadyLive = "already_live",
        /// --dry-run: the plan says what would be done.
        Planned = "planned",
    }
}

words! {
    /// Which command moved an endpoint, as its promotion record says.
    pub enum PromotionKind {
        Promote = "promote",
        Rollback = "rollback",
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PromoteOutcome {
    pub agent: String,
    pub runtime_name: String,
    pub endpoint: String,
    pub previous_version: Option<String>,
    pub live_version: String,
    pub action: PromoteAction,
    pub runtime_id: String,
    pub endpoint_arn: Option<String>,
    /// The promotion record written to S3.
    pub record_key: Option<String>,
    /// With --dry-run: what would be done.
    pub plan: Option<Plan>,
    /// The smoke gate: the version's test before the move and the endpoint's after it (absent
    /// with --no-smoke, with --dry-run, and when nothing moved).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smoke: Option<PromoteSmoke>,
}

/// The two smoke tests of a promotion.
#[derive(Debug, Clone, Serialize)]
pub struct PromoteSmoke {
    /// The exact version, on DEFAULT when it is the latest, else on a temporary endpoint.
    pub before: SmokeResult,
    /// The endpoint itself, once moved.
    pub after: Option<SmokeResult>,
}

impl Row for PromoteOutcome {
    fn headers() -> &'static [&'static str] {
        &["AGENT", "RUNTIME", "ENDPOINT", "ACTION", "FROM", "LIVE", "RECORD"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.agent.clone(),
            self.runtime_name.clone(),
            self.endpoint.clone(),
            self.action.to_string(),
            or_dash(&self.previous_version),
            self.live_version.clone(),
            or_dash(&self.record_key),
        ]
    }
    fn plan(&self) -> Option<&Plan> {
        self.plan.as_ref()
    }
    fn optional_header() -> &'static str {
        "SMOKE"
    }
    fn optional_cell(&self) -> Option<String> {
        let smoke = self.smoke.as_ref()?;
        let after = smoke.after.as_ref().map(SmokeResult::summary).unwrap_or_else(|| "-".to_owned());
        Some(format!("before: {}; after: {after}", smoke.before.summary()))
    }
}
