//! `cargo xtask prune`: delete the versions of each agent's long-lived runtime that nothing needs,
//! so a busy prod runtime (a version per merge) stays far from AgentCore's 1,000 versions.
//!
//! A version is protected, and kept, when an endpoint (DEFAULT included) serves it or is moving to
//! it, when it is one of the newest N, or when it is a rollback target: live on an endpoint in a
//! promotion record of the kept window (written since the oldest of the newest N was made), or the
//! version an endpoint's last move came from, where `rollback` goes back to. [`protect`] is that
//! rule, the one `status --versions` shows and `github gc --prune` applies. Code zips and records
//! stay in S3.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, Result, bail};
use aws_sdk_bedrockagentcorecontrol::types::{AgentRuntime, AgentRuntimeEndpoint};
use futures_util::StreamExt;

use crate::aws::{self, AwsClients};
use crate::context::Ctx;
use crate::naming::Target;
use crate::progress;
use crate::records::{self, PromotionRecord};
use crate::report::{Plan, Protection, PruneAction, PruneOutcome, Report, Status, VersionVerdict};
use crate::select::Selection;
use crate::settings::Settings;

/// Newest versions kept when neither `--keep` nor the `prune_keep` setting says otherwise.
pub const DEFAULT_KEEP: u32 = 10;

/// The target whose runtimes prune works on when none is named: the long-lived prod runtime.
const DEFAULT_TARGET: Target = Target::Prod;

#[derive(clap::Args, Debug, Clone)]
pub struct PruneArgs {
    #[command(flatten)]
    pub(crate) selection: Selection,
    /// Prune each agent's long-lived prod runtime (the default; short for --env prod)
    #[arg(long, conflicts_with = "env")]
    pub(crate) prod: bool,
    /// Prune each agent's runtime of this environment (its region, account and names)
    #[arg(long, value_name = "NAME")]
    pub(crate) env: Option<String>,
    /// Keep the newest N versions, besides those an endpoint or a rollback needs (default: the
    /// prune_keep setting, 10)
    #[arg(long, value_name = "N")]
    pub(crate) keep: Option<u32>,
    /// Print what would be deleted and change nothing
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Do not ask for confirmation (CI)
    #[arg(long)]
    pub(crate) yes: bool,
}

impl PruneArgs {
    pub(crate) async fn run(self, ctx: &Ctx) -> Result<()> {
        let agents = self.selection.resolve(ctx)?;
        let keep = self.keep.unwrap_or_else(|| default_keep(&ctx.settings));
        // The environment's place and names: `--env NAME`, else prod (`--prod`, the default).
        let env = match (&self.env, self.prod) {
            (Some(name), false) => name.as_str(),
            _ => crate::settings::PROD,
        };
        let ctx = &ctx.for_env(env)?;
        let target = DEFAULT_TARGET;
        // Every runtime name is checked before the first call.
        let runtimes = agents
            .iter()
            .map(|agent| Ok((agent.name.clone(), runtime_name(&ctx.settings, &agent.name, target)?)))
            .collect::<Result<Vec<_>>>()?;
        if !self.yes && !self.dry_run && !std::io::stdin().is_terminal() {
            bail!(
                "prune deletes runtime versions and needs confirmation: there is no terminal to ask on, so pass --yes \
                 (or --dry-run to see what it would delete)"
            );
        }
        let (aws, _stack) = crate::connect::connect(ctx).await?;
        let max_parallel = ctx.settings.max_parallel;
        let surveys = survey_runtimes(&aws, &runtimes, keep, max_parallel).await;
        if !self.yes && !self.dry_run && !confirm(&surveys)? {
            bail!("not confirmed: nothing was deleted");
        }
        let results = finish(&aws, surveys, self.dry_run, max_parallel).await;
        Report::new("prune", agents.iter().map(|agent| agent.name.clone()), results).publish(ctx.json, &ctx.github)
    }
}

/// Newest versions kept by default: the `prune_keep` setting, or [`DEFAULT_KEEP`] where that is 0
/// (which turns off only gc's pruning).
pub(crate) fn default_keep(settings: &Settings) -> u32 {
    if settings.prune_keep == 0 { DEFAULT_KEEP } else { settings.prune_keep }
}

/// The runtime of `agent` in `target` that prune works on, named as `promote`, `rollback` and
/// `status` name it: the one place that resolves it.
pub(crate) fn runtime_name(settings: &Settings, agent: &str, target: Target) -> Result<String> {
    settings.scheme().runtime_name(agent, target)
}

/// Prunes each `(agent, runtime name)`, at most `max_parallel` surveys and deletions at once: one
/// result per runtime, in order. What `github gc --prune` runs.
pub async fn prune_runtimes(
    aws: &AwsClients,
    runtimes: &[(String, String)],
    keep: u32,
    dry_run: bool,
    max_parallel: usize,
) -> Vec<Result<PruneOutcome>> {
    let surveys = survey_runtimes(aws, runtimes, keep, max_parallel).await;
    finish(aws, surveys, dry_run, max_parallel).await
}

/// One version as the protection rule sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListedVersion {
    pub(crate) number: u32,
    pub(crate) status: Status,
    /// When AgentCore made it (its `lastUpdatedAt`), in milliseconds since the epoch.
    pub(crate) made_at_ms: i64,
}

impl ListedVersion {
    pub(crate) fn from_listing(versions: &[AgentRuntime]) -> Vec<ListedVersion> {
        versions
            .iter()
            .map(|version| ListedVersion {
                number: aws::version_number(version.agent_runtime_version()),
                status: Status::from(version.status().as_str()),
                made_at_ms: millis(version.last_updated_at()),
            })
            .collect()
    }
}

/// One endpoint as the protection rule sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EndpointRef {
    pub(crate) name: String,
    pub(crate) live: Option<u32>,
    pub(crate) target: Option<u32>,
}

impl EndpointRef {
    pub(crate) fn from_listing(endpoints: &[AgentRuntimeEndpoint]) -> Vec<EndpointRef> {
        endpoints
            .iter()
            .map(|endpoint| EndpointRef {
                name: endpoint.name().to_owned(),
                live: endpoint.live_version().map(aws::version_number),
                target: endpoint.target_version().map(aws::version_number),
            })
            .collect()
    }
}

fn millis(time: &aws_smithy_types::DateTime) -> i64 {
    time.secs() * 1000 + i64::from(time.subsec_nanos() / 1_000_000)
}

/// The promotion records that count: none, those written since a time (milliseconds), or all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Window {
    Empty,
    Since(i64),
}

impl Window {
    /// The window of the newest `keep` versions that are not being deleted: since the oldest of
    /// them was made; all of history when there are no more than `keep`.
    fn of(versions: &[ListedVersion], keep: u32) -> Window {
        if keep == 0 {
            return Window::Empty;
        }
        let mut alive: Vec<&ListedVersion> =
            versions.iter().filter(|version| version.status != Status::Deleting).collect();
        if alive.len() <= keep as usize {
            return Window::Since(i64::MIN);
        }
        alive.sort_by_key(|version| std::cmp::Reverse(version.number));
        let start = alive.iter().take(keep as usize).map(|version| version.made_at_ms).min();
        Window::Since(start.unwrap_or(i64::MIN))
    }

    /// Whether a record written at `at` (RFC 3339) is in the window; one whose time does not parse is.
    fn holds(self, at: &str) -> bool {
        match self {
            Window::Empty => false,
            Window::Since(start) => parse_millis(at).is_none_or(|time| time >= start),
        }
    }

    /// The same test on a record's key, whose name starts with its compact time; a key without one is in.
    fn holds_key(self, file_name: &str) -> bool {
        match self {
            Window::Empty => false,
            Window::Since(i64::MIN) => true,
            Window::Since(start) => {
                let since = records::compact_time(&records::rfc3339(aws_smithy_types::DateTime::from_millis(start)));
                file_name.get(..since.len()).is_none_or(|time| time >= since.as_str())
            }
        }
    }
}

fn parse_millis(at: &str) -> Option<i64> {
    aws_smithy_types::DateTime::from_str(at, aws_smithy_types::date_time::Format::DateTime)
        .ok()
        .map(|time| millis(&time))
}

/// The protection rule: for each version, why it is kept (no reason: prune deletes it). A version
/// is kept when an endpoint (DEFAULT included) serves it or is moving to it; when it is one of the
/// newest `keep` versions not being deleted; when a promotion record of the kept window (written
/// since the oldest of those was made) has it live on an endpoint, before or after the move; and
/// when an endpoint's newest move, or the newest move to what it serves now, came from it (where
/// `rollback` goes back to), however old that move. `promotions` are the runtime's own records,
/// oldest first.
pub(crate) fn protect(
    versions: &[ListedVersion],
    endpoints: &[EndpointRef],
    promotions: &[PromotionRecord],
    keep: u32,
) -> BTreeMap<u32, Vec<Protection>> {
    let mut protected: BTreeMap<u32, Vec<Protection>> =
        versions.iter().map(|version| (version.number, vec![])).collect();
    let mut add = |version: u32, protection: Protection| {
        if let Some(reasons) = protected.get_mut(&version)
            && !reasons.contains(&protection)
        {
            reasons.push(protection);
        }
    };
    for endpoint in endpoints {
        let name = endpoint.name.clone();
        if let Some(live) = endpoint.live {
            add(
                live,
                Protection::Endpoint { endpoint: name.clone(), live: true, target: endpoint.target == Some(live) },
            );
        }
        if let Some(target) = endpoint.target.filter(|target| endpoint.live != Some(*target)) {
            add(target, Protection::Endpoint { endpoint: name, live: false, target: true });
        }
    }
    let mut alive: Vec<u32> =
        versions.iter().filter(|version| version.status != Status::Deleting).map(|version| version.number).collect();
    alive.sort_unstable_by(|a, b| b.cmp(a));
    for version in alive.into_iter().take(keep as usize) {
        add(version, Protection::Newest { keep });
    }
    // (version, endpoint) → the time of the newest record that makes it a rollback target.
    let mut targets: BTreeMap<(u32, String), String> = BTreeMap::new();
    let mut target = |version: Option<&str>, record: &PromotionRecord| {
        let Some(version) = version.and_then(|version| version.parse::<u32>().ok()) else { return };
        let at = targets.entry((version, record.endpoint.clone())).or_default();
        if record.at > *at {
            at.clone_from(&record.at);
        }
    };
    let window = Window::of(versions, keep);
    for record in promotions.iter().filter(|record| window.holds(&record.at)) {
        target(Some(&record.to_version), record);
        target(record.from_version.as_deref(), record);
    }
    let moved: BTreeSet<&str> = promotions.iter().map(|record| record.endpoint.as_str()).collect();
    for endpoint in moved {
        let history: Vec<&PromotionRecord> = promotions.iter().filter(|record| record.endpoint == endpoint).collect();
        if let Some(newest) = history.last() {
            target(newest.from_version.as_deref(), newest);
        }
        let live = endpoints.iter().find(|known| known.name == endpoint).and_then(|known| known.live);
        if let Some(live) = live
            && let Some(to_live) = history.iter().rev().find(|record| record.to_version == live.to_string())
        {
            target(to_live.from_version.as_deref(), to_live);
        }
    }
    for ((version, endpoint), promotion) in targets {
        add(version, Protection::RollbackTarget { endpoint, promotion });
    }
    protected
}

/// The runtime's promotion records that [`protect`] reads, oldest first: on each endpoint, those of
/// the kept window, and going back from the newest the ones up to the newest move to the version the
/// endpoint serves now. Records of an earlier runtime of the same name are left out.
async fn promotion_history(
    aws: &AwsClients,
    runtime_name: &str,
    runtime_id: &str,
    window: Window,
    endpoints: &[EndpointRef],
) -> Result<Vec<PromotionRecord>> {
    let prefix = records::all_promotions_prefix(runtime_name);
    let keys = records::keys_under(aws, &prefix).await?;
    let mut by_endpoint: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for key in &keys {
        if let Some((endpoint, file)) = key[prefix.len()..].split_once('/') {
            by_endpoint.entry(endpoint).or_default().push((key.as_str(), file));
        }
    }
    let mut wanted: Vec<&str> = Vec::new();
    let mut found: BTreeMap<String, PromotionRecord> = BTreeMap::new();
    for (endpoint, files) in &by_endpoint {
        wanted.extend(files.iter().filter(|(_, file)| window.holds_key(file)).map(|(key, _)| *key));
        // Back from the newest: the last move, and the last move to what the endpoint serves now.
        let live = endpoints.iter().find(|known| known.name == *endpoint).and_then(|known| known.live);
        for (key, _) in files.iter().rev() {
            let Some(record) = read_record(aws, key, runtime_id).await? else { continue };
            let done = live.is_none_or(|live| record.to_version == live.to_string());
            found.insert((*key).to_owned(), record);
            if done {
                break;
            }
        }
    }
    wanted.retain(|key| !found.contains_key(*key));
    let rest: Vec<Result<Option<PromotionRecord>>> = futures_util::stream::iter(wanted.iter().copied())
        .map(|key| read_record(aws, key, runtime_id))
        .buffered(8)
        .collect()
        .await;
    for (key, record) in wanted.iter().zip(rest) {
        if let Some(record) = record? {
            found.insert((*key).to_owned(), record);
        }
    }
    // Keys lead with the time, per endpoint; across endpoints the records' own times order them.
    let mut history: Vec<PromotionRecord> = found.into_values().collect();
    history.sort_by(|a, b| a.at.cmp(&b.at));
    Ok(history)
}

/// The promotion record at `key`, if it is one of the runtime with `runtime_id`.
async fn read_record(aws: &AwsClients, key: &str, runtime_id: &str) -> Result<Option<PromotionRecord>> {
    let record = records::get_json::<PromotionRecord>(aws, key).await?;
    Ok(record.filter(|record| record.runtime_id == runtime_id))
}

/// Why each version of a runtime is kept, from its versions and endpoints as listed and its
/// promotion records in S3: [`protect`] on what AgentCore and S3 hold now.
pub(crate) async fn protections(
    aws: &AwsClients,
    runtime_name: &str,
    runtime_id: &str,
    versions: &[ListedVersion],
    endpoints: &[EndpointRef],
    keep: u32,
) -> Result<BTreeMap<u32, Vec<Protection>>> {
    let window = Window::of(versions, keep);
    let history = promotion_history(aws, runtime_name, runtime_id, window, endpoints).await?;
    Ok(protect(versions, endpoints, &history, keep))
}

/// What prune would do to one runtime, reading AgentCore and S3 and changing nothing: every version
/// with its protections; those without are `planned` (`deleted` when already being deleted).
async fn survey(aws: &AwsClients, agent: &str, runtime_name: &str, keep: u32) -> Result<PruneOutcome> {
    let mut outcome = PruneOutcome {
        agent: agent.to_owned(),
        runtime_name: runtime_name.to_owned(),
        runtime_id: None,
        keep,
        versions: vec![],
        plan: None,
    };
    let Some(runtime) = aws::index::runtime(aws, runtime_name).await? else {
        progress!("{agent}: no runtime {runtime_name}, nothing to prune");
        return Ok(outcome);
    };
    let versions = ListedVersion::from_listing(&aws::list_versions(aws, &runtime.id).await?);
    let endpoints = EndpointRef::from_listing(&aws::list_endpoints(aws, &runtime.id).await?);
    let mut protected = protections(aws, runtime_name, &runtime.id, &versions, &endpoints, keep).await?;
    outcome.runtime_id = Some(runtime.id.clone());
    outcome.versions = versions
        .into_iter()
        .map(|version| {
            let protected_by = protected.remove(&version.number).unwrap_or_default();
            let action = match (protected_by.is_empty(), &version.status) {
                (false, _) => PruneAction::Kept,
                (true, Status::Deleting) => PruneAction::Deleted,
                (true, _) => PruneAction::Planned,
            };
            VersionVerdict { version: version.number, status: version.status, action, protected_by, error: None }
        })
        .collect();
    Ok(outcome)
}

async fn survey_runtimes(
    aws: &AwsClients,
    runtimes: &[(String, String)],
    keep: u32,
    max_parallel: usize,
) -> Vec<Result<PruneOutcome>> {
    futures_util::stream::iter(runtimes)
        .map(|(agent, runtime_name)| survey(aws, agent, runtime_name, keep))
        .buffered(max_parallel.max(1))
        .collect()
        .await
}

/// Asks on the terminal before deleting what the surveys plan; nothing to delete needs no answer.
fn confirm(surveys: &[Result<PruneOutcome>]) -> Result<bool> {
    let mut count = 0;
    for outcome in surveys.iter().flatten() {
        let planned = outcome.with_action(PruneAction::Planned);
        if !planned.is_empty() {
            let list: Vec<String> = planned.iter().map(u32::to_string).collect();
            eprintln!("{}: delete versions {} of {}", outcome.agent, list.join(", "), outcome.runtime_name);
            count += planned.len();
        }
    }
    if count == 0 {
        return Ok(true);
    }
    eprint!("delete these {count} versions (code zips and records stay in S3)? type `yes` to confirm: ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).context("cannot read the confirmation")?;
    Ok(answer.trim() == "yes")
}

/// Carries out the surveys: with `dry_run`, the plans; else, once the endpoints are read again
/// (what one serves or targets now is kept, whatever the survey found), the deletions, at most
/// `max_parallel` at once. A deletion that fails is reported on its version; the others go on.
async fn finish(
    aws: &AwsClients,
    surveys: Vec<Result<PruneOutcome>>,
    dry_run: bool,
    max_parallel: usize,
) -> Vec<Result<PruneOutcome>> {
    let mut outcomes = surveys;
    let mut jobs: Vec<(usize, usize, String, String, u32)> = Vec::new();
    for (index, result) in outcomes.iter_mut().enumerate() {
        let Ok(outcome) = result else { continue };
        let planned = outcome.with_action(PruneAction::Planned);
        let Some(runtime_id) = outcome.runtime_id.clone().filter(|_| !planned.is_empty()) else { continue };
        if dry_run {
            outcome.plan = Some(Plan::DeleteVersions { runtime: outcome.runtime_name.clone(), versions: planned });
            continue;
        }
        let endpoints = match aws::list_endpoints(aws, &runtime_id).await {
            Ok(endpoints) => EndpointRef::from_listing(&endpoints),
            Err(err) => {
                *result = Err(err.context("nothing was deleted"));
                continue;
            }
        };
        for (position, version) in outcome.versions.iter_mut().enumerate() {
            if version.action != PruneAction::Planned {
                continue;
            }
            let referenced = endpoint_protections(&endpoints, version.version);
            if referenced.is_empty() {
                jobs.push((index, position, runtime_id.clone(), outcome.runtime_name.clone(), version.version));
            } else {
                version.protected_by = referenced;
                version.action = PruneAction::Kept;
            }
        }
        let doomed: Vec<String> =
            jobs.iter().filter(|(owner, ..)| *owner == index).map(|(.., version)| version.to_string()).collect();
        if !doomed.is_empty() {
            progress!("{}: deleting versions {} of {}", outcome.agent, doomed.join(", "), outcome.runtime_name);
        }
    }
    let done: Vec<(usize, usize, Result<()>)> = futures_util::stream::iter(jobs)
        .map(|(index, position, runtime_id, runtime_name, version)| async move {
            (index, position, aws::delete_version(aws, &runtime_id, &runtime_name, version).await)
        })
        .buffer_unordered(max_parallel.max(1))
        .collect()
        .await;
    for (index, position, result) in done {
        let Ok(outcome) = &mut outcomes[index] else { continue };
        let version = &mut outcome.versions[position];
        match result {
            Ok(()) => {
                version.action = PruneAction::Deleted;
                version.status = Status::Deleting;
            }
            Err(err) => {
                version.action = PruneAction::Failed;
                version.error = Some(format!("{err:#}"));
            }
        }
    }
    outcomes
}

/// The endpoint protections of `version` among `endpoints`, as [`protect`] words them.
fn endpoint_protections(endpoints: &[EndpointRef], version: u32) -> Vec<Protection> {
    let listed = [ListedVersion { number: version, status: Status::Ready, made_at_ms: 0 }];
    protect(&listed, endpoints, &[], 0).remove(&version).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::PromotionKind;

    /// Versions 1..=count, version N made at N seconds.
    fn versions(count: u32) -> Vec<ListedVersion> {
        (1..=count)
            .map(|number| ListedVersion { number, status: Status::Ready, made_at_ms: i64::from(number) * 1000 })
            .collect()
    }

    fn endpoint(name: &str, live: Option<u32>, target: Option<u32>) -> EndpointRef {
        EndpointRef { name: name.into(), live, target }
    }

    /// A move of `prod` at `second` seconds.
    fn moved(second: i64, from: Option<u32>, to: u32) -> PromotionRecord {
        PromotionRecord {
            agent: "bot".into(),
            runtime_name: "bot_prod".into(),
            runtime_id: "bot_prod-AbCdE12345".into(),
            endpoint: "prod".into(),
            from_version: from.map(|version| version.to_string()),
            to_version: to.to_string(),
            kind: PromotionKind::Promote,
            actor: "someone".into(),
            git_commit: None,
            at: records::rfc3339(aws_smithy_types::DateTime::from_millis(second * 1000 + 500)),
            smoke: None,
        }
    }

    fn kept(protected: &BTreeMap<u32, Vec<Protection>>) -> Vec<u32> {
        protected.iter().filter(|(_, reasons)| !reasons.is_empty()).map(|(version, _)| *version).collect()
    }

    fn why(protected: &BTreeMap<u32, Vec<Protection>>, version: u32) -> String {
        crate::report::reasons(&protected[&version])
    }

    /// 15 versions; prod promoted to 3 (after 4 was made), to 7 (after 8), to 10 (after 11), rolled
    /// back to 7 (after 12). Keeping 5 (11–15): 7 serves, 10 was live after 11 was made; 3 was live
    /// only before, so it goes.
    #[test]
    fn a_history_of_promotions_and_a_rollback() {
        let history = [moved(4, None, 3), moved(8, Some(3), 7), moved(11, Some(7), 10), moved(12, Some(10), 7)];
        let endpoints = [endpoint("DEFAULT", Some(15), Some(15)), endpoint("prod", Some(7), Some(7))];
        let protected = protect(&versions(15), &endpoints, &history, 5);
        assert_eq!(kept(&protected), [7, 10, 11, 12, 13, 14, 15]);
        assert_eq!(why(&protected, 7), "endpoint prod live, rollback target (promotion 1970-01-01T00:00:12.500Z)");
        assert_eq!(why(&protected, 10), "rollback target (promotion 1970-01-01T00:00:12.500Z)");
        assert_eq!(why(&protected, 15), "endpoint DEFAULT live, newest 5");
        assert_eq!(why(&protected, 3), "not protected");
        // Keeping 9 (7–15) opens the window when 7 was made: the move to 7 came from 3.
        let protected = protect(&versions(15), &endpoints, &history, 9);
        assert_eq!(kept(&protected), [3, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    }

    /// What an endpoint serves or moves to is kept outside any window, keep 0 included; so is where
    /// `rollback` goes back to, however old the move.
    #[test]
    fn endpoints_and_the_last_move_are_kept_whatever_the_window() {
        let endpoints = [endpoint("DEFAULT", Some(19), Some(20)), endpoint("prod", Some(2), Some(5))];
        let history = [moved(3, Some(1), 2)];
        let protected = protect(&versions(20), &endpoints, &history, 0);
        assert_eq!(kept(&protected), [1, 2, 5, 19, 20]);
        assert_eq!(why(&protected, 5), "endpoint prod target");
        assert_eq!(why(&protected, 20), "endpoint DEFAULT target");
        assert_eq!(why(&protected, 1), "rollback target (promotion 1970-01-01T00:00:03.500Z)");
        // A newer move elsewhere does not hide the move to what prod serves now.
        let stray = PromotionRecord { endpoint: "canary".into(), ..moved(9, Some(8), 9) };
        let protected = protect(&versions(20), &endpoints, &[history[0].clone(), stray], 0);
        assert_eq!(kept(&protected), [1, 2, 5, 8, 19, 20]);
    }

    /// With no more versions than are kept, the whole history counts; versions being deleted count
    /// neither among the newest nor for the window.
    #[test]
    fn short_histories_and_versions_being_deleted() {
        let history = [moved(1, None, 1), moved(2, Some(1), 2)];
        let protected = protect(&versions(3), &[], &history, 10);
        assert!(protected.values().all(|reasons| reasons.contains(&Protection::Newest { keep: 10 })));
        let mut listed = versions(4);
        listed[3].status = Status::Deleting;
        let protected = protect(&listed, &[], &[], 2);
        assert_eq!(kept(&protected), [2, 3]);
    }

    #[test]
    fn the_window_reads_record_keys_by_their_time() {
        let window = Window::Since(1_795_715_231_007);
        assert!(window.holds_key("20261126T174711007Z-v3.json"));
        assert!(window.holds_key("20261127T000000000Z-v4-1.json"));
        assert!(!window.holds_key("20261126T174711006Z-v2.json"));
        assert!(window.holds_key("odd.json"), "a key without a time is read");
        assert!(!Window::Empty.holds_key("20261126T174711007Z-v3.json"));
        assert!(window.holds("2026-11-26T17:47:11.007Z") && !window.holds("2026-11-26T17:47:11.006Z"));
        assert!(window.holds("not a time"));
    }
}
