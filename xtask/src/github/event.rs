//! GitHub event payloads: only the fields the workflow steps need, read from `$GITHUB_EVENT_PATH`.
//!
//! Unknown fields are ignored (GitHub adds fields over time) but every field read here is typed, so
//! a payload of the wrong event fails with a message naming the field.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Event payloads larger than this are not something GitHub sends for these events.
const MAX_EVENT_BYTES: u64 = 25 * 1024 * 1024;

/// Reads and parses an event payload of type `T`, naming the file and the event in errors.
pub fn read<T: DeserializeOwned>(path: &Path, event_name: &str) -> Result<T> {
    let size = std::fs::metadata(path)
        .with_context(|| {
            format!("cannot read the event payload {} (set --event or GITHUB_EVENT_PATH)", path.display())
        })?
        .len();
    if size > MAX_EVENT_BYTES {
        bail!("the event payload {} is {size} bytes, larger than any GitHub event", path.display());
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read the event payload {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a `{event_name}` event payload", path.display()))
}

#[derive(Debug, Clone, Deserialize)]
pub struct Repository {
    pub(crate) full_name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub login: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct App {
    pub slug: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Label {
    pub name: String,
}

/// `pull_request` (opened, synchronize, reopened, closed).
#[derive(Debug, Clone, Deserialize)]
pub struct PullRequestEvent {
    pub(crate) action: String,
    pub(crate) number: u64,
    pub pull_request: PullRequest,
    pub(crate) repository: Repository,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    #[serde(default)]
    pub(crate) merged: bool,
    pub head: GitRef,
    pub(crate) base: GitRef,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GitRef {
    pub sha: String,
    /// `None` when the fork was deleted.
    pub repo: Option<Repository>,
}

impl PullRequestEvent {
    /// A pull request from another repository: no credentials, so no deploy.
    pub fn is_fork(&self) -> bool {
        match &self.pull_request.head.repo {
            Some(head) => !head.full_name.eq_ignore_ascii_case(&self.repository.full_name),
            None => true,
        }
    }

    pub fn check(&self) -> Result<()> {
        if self.number == 0 || self.number != self.pull_request.number {
            bail!("the event's pull request number {} is not valid", self.number);
        }
        check_sha(&self.pull_request.head.sha, "pull_request.head.sha")?;
        check_sha(&self.pull_request.base.sha, "pull_request.base.sha")
    }
}

/// `push` to a branch.
#[derive(Debug, Clone, Deserialize)]
pub struct PushEvent {
    #[serde(rename = "ref")]
    pub(crate) git_ref: String,
    pub before: String,
    pub after: String,
}

impl PushEvent {
    pub fn check(&self) -> Result<()> {
        check_sha(&self.before, "before")?;
        check_sha(&self.after, "after")?;
        if self.after.bytes().all(|b| b == b'0') {
            bail!("the push deleted `{}`; there is nothing to deploy", self.git_ref);
        }
        Ok(())
    }
    /// The first push of a branch has no `before` commit.
    pub fn is_new_branch(&self) -> bool {
        self.before.bytes().all(|b| b == b'0')
    }
}

/// `issues` (labeled).
#[derive(Debug, Clone, Deserialize)]
pub struct IssuesEvent {
    pub action: String,
    pub issue: Issue,
    /// The label just added (for `labeled`).
    pub label: Option<Label>,
    /// Who added it.
    pub(crate) sender: User,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Issue {
    pub(crate) number: u64,
    pub state: String,
    pub user: User,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub labels: Vec<Label>,
    #[serde(default)]
    pub performed_via_github_app: Option<App>,
    /// Present only when the issue is a pull request.
    #[serde(default)]
    pub pull_request: Option<serde_json::Value>,
}

impl Issue {
    pub(crate) fn has_label(&self, name: &str) -> bool {
        self.labels.iter().any(|label| label.name == name)
    }
}

/// `workflow_dispatch` of the promote workflow: an explicit rollback.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DispatchEvent {
    pub(crate) inputs: RollbackInputs,
    pub(crate) sender: User,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RollbackInputs {
    pub(crate) agent: String,
    pub(crate) version: String,
}

/// Either event the promote step runs on.
#[derive(Debug, Clone)]
pub(crate) enum PromoteEvent {
    Issues(Box<IssuesEvent>),
    Dispatch(DispatchEvent),
}

impl PromoteEvent {
    /// Reads an `issues` or a `workflow_dispatch` payload, telling them apart by their keys so that
    /// a malformed payload gets an error naming its field.
    pub(crate) fn read(path: &Path) -> Result<PromoteEvent> {
        let value: serde_json::Value = read(path, "issues or workflow_dispatch")?;
        let parse = |what: &str| -> Result<PromoteEvent> {
            Ok(match what {
                "issues" => PromoteEvent::Issues(Box::new(serde_json::from_value(value.clone())?)),
                _ => PromoteEvent::Dispatch(serde_json::from_value(value.clone())?),
            })
        };
        if value.get("issue").is_some() {
            parse("issues").with_context(|| format!("{} is not a valid `issues` event payload", path.display()))
        } else if value.get("inputs").is_some() {
            parse("workflow_dispatch")
                .with_context(|| format!("{} is not a valid `workflow_dispatch` event payload", path.display()))
        } else {
            bail!("{} is neither an `issues` nor a `workflow_dispatch` event payload", path.display())
        }
    }
}

fn check_sha(sha: &str, field: &str) -> Result<()> {
    if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        bail!("the event's `{field}` is not a 40-digit lowercase hex commit SHA");
    }
    Ok(())
}

/// One entry of `gh api repos/{repo}/commits/{sha}/pulls`.
#[derive(Debug, Clone, Deserialize)]
pub struct AssociatedPull {
    pub number: u64,
    pub state: String,
    #[serde(default)]
    pub merged_at: Option<String>,
    pub base: BaseRef,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BaseRef {
    #[serde(rename = "ref")]
    pub(crate) git_ref: String,
}

/// One entry of `gh pr list --json number`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct OpenPull {
    pub(crate) number: u64,
}

/// One entry of `gh api repos/{repo}/issues?labels=deployment&state=open`.
#[derive(Debug, Clone, Deserialize)]
pub struct ListedIssue {
    pub(crate) number: u64,
    pub(crate) user: User,
    #[serde(default)]
    pub(crate) body: Option<String>,
    #[serde(default)]
    pub(crate) performed_via_github_app: Option<App>,
    #[serde(default)]
    pub(crate) pull_request: Option<serde_json::Value>,
}

/// Reads a `gh api --paginate` listing: one JSON array, or several arrays or objects in a row.
pub fn read_listing<T: DeserializeOwned>(path: &Path, what: &str) -> Result<Vec<T>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {what} from {}", path.display()))?;
    let mut items = Vec::new();
    for value in serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>() {
        let value = value.with_context(|| format!("{} is not JSON ({what})", path.display()))?;
        let values = match value {
            serde_json::Value::Array(values) => values,
            other => vec![other],
        };
        for value in values {
            items.push(
                serde_json::from_value(value).with_context(|| format!("{} does not list {what}", path.display()))?,
            );
        }
    }
    Ok(items)
}
