//! The plan of a dry run: what a command would do, and changes nothing. Shown under the table and
//! in the step summary, and as the `plan` string in JSON.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// What one item of a dry run would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// deploy: upload the zip and create the runtime, at version 1, with agent.toml's tags.
    CreateRuntime { bucket: String, code_key: String, runtime: String, tags: TagChanges },
    /// deploy: upload the zip and update the runtime to a new version, then change its tags.
    UpdateRuntime { bucket: String, code_key: String, runtime: String, version: u32, tags: TagChanges },
    /// deploy: an earlier deploy made this version from this very code; wait for it, then change
    /// the runtime's tags.
    AwaitVersion { runtime: String, version: String, tags: TagChanges },
    /// deploy: the latest version is up to date; only the runtime's tags change.
    ChangeTags { runtime: String, version: String, tags: TagChanges },
    /// promote: create the endpoint at the version.
    CreateEndpoint { endpoint: String, runtime: String, version: String },
    /// promote, rollback: move the endpoint from the version it serves to another.
    MoveEndpoint { endpoint: String, runtime: String, from: Option<String>, to: String },
    /// promote, rollback: the endpoint is already moving to the version; wait for it.
    AwaitEndpoint { endpoint: String, runtime: String, from: Option<String>, to: String },
    /// cleanup: delete the named endpoints, then the runtime.
    DeleteRuntime { runtime: String, runtime_id: String, endpoints: Vec<String> },
    /// prune: delete these versions of the runtime, the others being protected.
    DeleteVersions { runtime: String, versions: Vec<u32> },
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let none = |version: &Option<String>| version.clone().unwrap_or_else(|| "none".to_owned());
        match self {
            // A create tags the runtime itself: every tag is one it adds.
            Plan::CreateRuntime { bucket, code_key, runtime, tags } if tags.added.is_empty() => {
                write!(f, "upload s3://{bucket}/{code_key}, create runtime {runtime} (version 1), wait until READY")
            }
            Plan::CreateRuntime { bucket, code_key, runtime, tags } => write!(
                f,
                "upload s3://{bucket}/{code_key}, create runtime {runtime} (version 1) with tags {}, wait until READY",
                tags.added_list()
            ),
            Plan::UpdateRuntime { bucket, code_key, runtime, version, tags } => {
                write!(
                    f,
                    "upload s3://{bucket}/{code_key}, update runtime {runtime} to a new version {version}, wait until READY"
                )?;
                tags.then(f)
            }
            Plan::AwaitVersion { runtime, version, tags } => {
                write!(
                    f,
                    "wait until version {version} of {runtime}, made from this code by an earlier deploy, is READY"
                )?;
                tags.then(f)
            }
            Plan::ChangeTags { runtime, version, tags } => {
                write!(f, "version {version} of {runtime} is up to date; {tags}")
            }
            Plan::CreateEndpoint { endpoint, runtime, version } => {
                write!(f, "create endpoint {endpoint} of {runtime} at version {version}, wait until live")
            }
            Plan::MoveEndpoint { endpoint, runtime, from, to } => {
                write!(f, "move endpoint {endpoint} of {runtime} from version {} to {to}, wait until live", none(from))
            }
            Plan::AwaitEndpoint { endpoint, runtime, from, to } => write!(
                f,
                "wait until endpoint {endpoint} of {runtime}, already moving from version {} to {to}, is live",
                none(from)
            ),
            Plan::DeleteRuntime { runtime, runtime_id, endpoints } if endpoints.is_empty() => {
                write!(f, "delete runtime {runtime} ({runtime_id})")
            }
            Plan::DeleteRuntime { runtime, runtime_id, endpoints } => {
                write!(f, "delete endpoints {} then runtime {runtime} ({runtime_id})", endpoints.join(", "))
            }
            Plan::DeleteVersions { runtime, versions } => {
                let versions: Vec<String> = versions.iter().map(u32::to_string).collect();
                let plural = if versions.len() == 1 { "" } else { "s" };
                write!(f, "delete version{plural} {} of runtime {runtime}", versions.join(", "))
            }
        }
    }
}

impl Serialize for Plan {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// How a deploy would change a runtime's tags to agent.toml's `[tags]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TagChanges {
    /// Tags the runtime does not have yet, with their values.
    pub added: BTreeMap<String, String>,
    /// Tags whose value changes: (from, to).
    pub changed: BTreeMap<String, (String, String)>,
    /// Tags agent.toml no longer has.
    pub removed: Vec<String>,
}

impl TagChanges {
    /// The changes that make `current` (the runtime's tags; none for a runtime still to be made)
    /// `wanted`.
    pub fn between(wanted: &BTreeMap<String, String>, current: &BTreeMap<String, String>) -> TagChanges {
        let mut changes = TagChanges::default();
        for (key, value) in wanted {
            match current.get(key) {
                None => _ = changes.added.insert(key.clone(), value.clone()),
                Some(old) if old != value => _ = changes.changed.insert(key.clone(), (old.clone(), value.clone())),
                Some(_) => {}
            }
        }
        changes.removed = current.keys().filter(|key| !wanted.contains_key(*key)).cloned().collect();
        changes
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }

    /// The added tags as `key="value", …`.
    fn added_list(&self) -> String {
        let added: Vec<String> = self.added.iter().map(|(key, value)| format!("{key}={value:?}")).collect();
        added.join(", ")
    }

    /// `; then <changes>` after a plan's steps, nothing when no tag changes.
    fn then(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() { Ok(()) } else { write!(f, "; then {self}") }
    }
}

impl fmt::Display for TagChanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.added.is_empty() {
            parts.push(format!("add tags {}", self.added_list()));
        }
        if !self.changed.is_empty() {
            let changed: Vec<String> =
                self.changed.iter().map(|(key, (from, to))| format!("{key} from {from:?} to {to:?}")).collect();
            parts.push(format!("change tags {}", changed.join(", ")));
        }
        if !self.removed.is_empty() {
            parts.push(format!("remove tags {}", self.removed.join(", ")));
        }
        if parts.is_empty() { write!(f, "tags unchanged") } else { write!(f, "{}", parts.join("; ")) }
    }
}
