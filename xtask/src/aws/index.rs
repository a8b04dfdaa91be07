//! The account's runtimes, listed once per command run and shared by every agent of the command.
//!
//! Listing pages through every runtime in the account (up to 1,000 by the default quota), so a
//! listing per agent costs agents × pages calls and invites throttling. The index lists on first
//! use, once, and then follows what this run does: a runtime it creates is recorded, one it deletes
//! is forgotten, so later steps of the run neither miss the first nor find the second. What other
//! processes do meanwhile shows as it always did: a create answering 409 looks again for real
//! ([`look_again`]), and a runtime someone else deleted answers 404 to the next call on it.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use anyhow::Result;
use aws_sdk_bedrockagentcorecontrol::types::AgentRuntime;
use tokio::sync::OnceCell;

use super::AwsClients;

/// A runtime as the listing showed it, or as this run left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeSummary {
    pub name: String,
    pub id: String,
    pub(crate) arn: String,
    /// The status when listed, or when this run last saw it (`CREATING` right after its create).
    pub(crate) status: String,
    /// When its latest version was made, as AgentCore reports it (`lastUpdatedAt`).
    pub(crate) last_updated: Option<aws_smithy_types::DateTime>,
}

impl From<&AgentRuntime> for RuntimeSummary {
    fn from(runtime: &AgentRuntime) -> RuntimeSummary {
        RuntimeSummary {
            name: runtime.agent_runtime_name().to_owned(),
            id: runtime.agent_runtime_id().to_owned(),
            arn: runtime.agent_runtime_arn().to_owned(),
            status: runtime.status().as_str().to_owned(),
            last_updated: Some(*runtime.last_updated_at()),
        }
    }
}

/// One command run's view of the account's runtimes, shared by the clones of its [`AwsClients`].
#[derive(Debug, Default)]
pub struct RuntimeIndex {
    listed: OnceCell<BTreeMap<String, RuntimeSummary>>,
    /// What this run learnt since: `Some` for a runtime it made or found again, `None` for one it
    /// deleted. These win over the listing.
    changes: Mutex<BTreeMap<String, Option<RuntimeSummary>>>,
}

impl RuntimeIndex {
    fn change(&self, name: &str) -> Option<Option<RuntimeSummary>> {
        self.changes.lock().unwrap_or_else(PoisonError::into_inner).get(name).cloned()
    }

    fn set(&self, name: &str, runtime: Option<RuntimeSummary>) {
        self.changes.lock().unwrap_or_else(PoisonError::into_inner).insert(name.to_owned(), runtime);
    }

    /// The listing, made by the first caller; the others wait for it instead of listing too.
    async fn listed(&self, aws: &AwsClients) -> Result<&BTreeMap<String, RuntimeSummary>> {
        self.listed
            .get_or_try_init(|| async {
                let runtimes = super::list_runtimes(aws).await?;
                Ok(runtimes.iter().map(|runtime| (runtime.agent_runtime_name().to_owned(), runtime.into())).collect())
            })
            .await
    }
}

/// The runtime called `name`, from this run's one listing.
pub async fn runtime(aws: &AwsClients, name: &str) -> Result<Option<RuntimeSummary>> {
    let index = &aws.runtimes;
    if let Some(known) = index.change(name) {
        return Ok(known);
    }
    let listed = index.listed(aws).await?;
    // A change made while the listing was under way is newer than the listing.
    Ok(index.change(name).unwrap_or_else(|| listed.get(name).cloned()))
}

/// Every runtime in the account, by name, from this run's one listing.
pub async fn runtimes(aws: &AwsClients) -> Result<Vec<RuntimeSummary>> {
    let index = &aws.runtimes;
    let mut all = index.listed(aws).await?.clone();
    for (name, change) in index.changes.lock().unwrap_or_else(PoisonError::into_inner).iter() {
        match change {
            Some(runtime) => all.insert(name.clone(), runtime.clone()),
            None => all.remove(name),
        };
    }
    Ok(all.into_values().collect())
}

/// Records a runtime as this run made or left it (created, or waited for until READY).
pub(crate) fn record(aws: &AwsClients, runtime: RuntimeSummary) {
    aws.runtimes.set(&runtime.name.clone(), Some(runtime));
}

/// Forgets a runtime this run deleted, or found gone.
pub(crate) fn deleted(aws: &AwsClients, name: &str) {
    aws.runtimes.set(name, None);
}

/// Looks for `name` with a listing of its own, for when the account changed behind this run's back
/// (a create answered 409: another process made it). Records what it finds.
pub(crate) async fn look_again(aws: &AwsClients, name: &str) -> Result<Option<RuntimeSummary>> {
    let found = super::find_runtime(aws, name).await?.map(|runtime| RuntimeSummary::from(&runtime));
    aws.runtimes.set(name, found.clone());
    Ok(found)
}
