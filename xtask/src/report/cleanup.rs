//! What `cleanup` did (or, with --dry-run, would do) to one runtime.

use serde::Serialize;

use super::{Plan, Row, or_dash, words};

words! {
    /// What a cleanup did to the runtime.
    pub enum CleanupAction {
        /// The runtime (named endpoints first) was deleted.
        Deleted = "deleted",
        /// There was no runtime of that name.
        AlreadyGone = "already_gone",
        /// --dry-run: the plan says what would be done.
        Planned = "planned",
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CleanupOutcome {
    pub(crate) runtime_name: String,
    /// Named endpoints deleted before the runtime.
    pub endpoints_deleted: Vec<String>,
    pub action: CleanupAction,
    pub(crate) runtime_id: Option<String>,
    /// With --dry-run: what would be done.
    pub(crate) plan: Option<Plan>,
}

impl Row for CleanupOutcome {
    fn headers() -> &'static [&'static str] {
        &["RUNTIME", "ACTION", "ENDPOINTS DELETED", "RUNTIME ID"]
    }
    fn cells(&self) -> Vec<String> {
        let endpoints =
            if self.endpoints_deleted.is_empty() { "-".to_owned() } else { self.endpoints_deleted.join(",") };
        vec![self.runtime_name.clone(), self.action.to_string(), endpoints, or_dash(&self.runtime_id)]
    }
    fn plan(&self) -> Option<&Plan> {
        self.plan.as_ref()
    }
}
