//! A smoke test's result, as reports, records and comments show it.

use serde::{Deserialize, Serialize};

/// A smoke test's result: typed for the reports, the records and the comments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmokeResult {
    pub passed: bool,
    /// The endpoint called.
    pub qualifier: String,
    /// The version the endpoint served when it was called.
    pub version: Option<String>,
    /// HTTP status of the answer, when one came.
    pub status: Option<u16>,
    /// From sending the call to the end of the answer (or to the failure).
    pub latency_ms: u64,
    /// The first lines of the answer (untrusted text: escape it wherever it is shown).
    pub answer: String,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl SmokeResult {
    /// `pass 123 ms` or `FAIL 123 ms: reason` (its first line), for tables.
    pub fn summary(&self) -> String {
        match &self.reason {
            None => format!("pass {} ms", self.latency_ms),
            Some(reason) => format!("FAIL {} ms: {}", self.latency_ms, reason.lines().next().unwrap_or_default()),
        }
    }
}
