//! The plan of a dry run: what a command would do, and changes nothing. Shown under the table and
//! in the step summary, and as the `plan` string in JSON.

use std::fmt;

use serde::Serialize;

/// What one item of a dry run would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// deploy: upload the zip and create the runtime, at version 1.
    CreateRuntime { bucket: String, code_key: String, runtime: String },
    /// deploy: upload the zip and update the runtime to a new version.
    UpdateRuntime { bucket: String, code_key: String, runtime: String, version: u32 },
    /// deploy: an earlier deploy made this version from this very code; wait for it.
    AwaitVersion { runtime: String, version: String },
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
            Plan::CreateRuntime { bucket, code_key, runtime } => {
                write!(f, "upload s3://{bucket}/{code_key}, create runtime {runtime} (version 1), wait until READY")
            }
            Plan::UpdateRuntime { bucket, code_key, runtime, version } => write!(
                f,
                "upload s3://{bucket}/{code_key}, update runtime {runtime} to a new version {version}, wait until READY"
            ),
            Plan::AwaitVersion { runtime, version } => {
                write!(
                    f,
                    "wait until version {version} of {runtime}, made from this code by an earlier deploy, is READY"
                )
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
