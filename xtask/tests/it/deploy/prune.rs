//! `prune` and `github gc --prune` on the release fixture's prod runtime: exactly the protected
//! versions stay across a history of deploys, promotions and a rollback; a dry run changes nothing;
//! what an endpoint references is never asked for; a failed deletion is reported on its version and
//! a re-run converges; without a terminal or `--yes` nothing runs; `status --versions` agrees.

use std::path::Path;
use std::time::Duration;

use xtask::aws;
use xtask::naming::Target;
use xtask::promote::{PromoteRequest, promote, rollback};
use xtask::report::{PruneAction, PruneOutcome, Report};

use super::{Env, fixture_zip, json, on_terminal, run_local};
use crate::support::{release_snapshot_settings, repo_root};

const AGENT: &str = "echo_bot";

impl Env {
    async fn promote_to(&self, version: u32) {
        let request = PromoteRequest {
            agent: AGENT.into(),
            version,
            endpoint: "prod".into(),
            expect_live: None,
            require_newer: false,
            dry_run: false,
            smoke: None,
        };
        assert_eq!(promote(&self.ctx, &self.aws, &request).await.unwrap().action, "promoted");
    }

    /// Adds versions to the prod runtime until it has `last`.
    async fn deploy_until(&self, zips: &Path, last: u32) {
        loop {
            let outcome = self.deploy_one(Target::Prod, zips, true, false).await.unwrap();
            let version: u32 = outcome.version.as_deref().unwrap().parse().unwrap();
            if version >= last {
                assert_eq!(version, last);
                return;
            }
        }
    }

    /// Prunes echo_bot's prod runtime, keeping `keep`, at most `max_parallel` at once.
    async fn prune(&self, keep: u32, dry_run: bool, max_parallel: usize) -> Report<PruneOutcome> {
        let runtimes = [(AGENT.to_owned(), self.name(AGENT, Target::Prod))];
        let results = xtask::prune::prune_runtimes(&self.aws, &runtimes, keep, dry_run, max_parallel).await;
        Report::new("prune", [AGENT.to_owned()], results)
    }

    /// The prod runtime's versions once every deletion is over (listed numbers, ascending).
    async fn versions_settled(&self) -> Vec<u32> {
        let name = self.name(AGENT, Target::Prod);
        let id = self.runtime_id(&name).await;
        for _ in 0..100 {
            let versions = aws::list_versions(&self.aws, &id).await.unwrap();
            if versions.iter().all(|version| version.status().as_str() != "DELETING") {
                return versions
                    .iter()
                    .map(|version| version.agent_runtime_version().parse::<u32>().unwrap())
                    .collect();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("versions of {name} still DELETING");
    }

    fn deletes(&self, before: &agentcore_local::RequestCounts) -> u64 {
        self.stack.control_requests().since(before).get("DeleteAgentRuntime")
    }
}

fn outcome(report: &Report<PruneOutcome>) -> &PruneOutcome {
    report.results[0].outcome.as_ref().unwrap_or_else(|| panic!("{report}"))
}

/// 15 versions; prod promoted to 3 (after 4 was made), to 7 (after 8), to 10 (after 11), rolled back
/// to 7 (after 12). Keeping 5 (11–15) keeps 7 (live) and 10 (live after 11 was made, and where a
/// rollback goes); 3 was live only before the window opened. The dry run asks for no deletion;
/// the run deletes exactly the rest; a re-run deletes nothing more; status shows the same reasons.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_keeps_exactly_the_protected_versions_across_promotions_and_a_rollback() {
    let env = Env::start(Duration::from_millis(30)).await;
    let zips = env.zips("prune");
    env.deploy_until(&zips, 4).await;
    env.promote_to(3).await;
    env.deploy_until(&zips, 8).await;
    env.promote_to(7).await;
    env.deploy_until(&zips, 11).await;
    env.promote_to(10).await;
    env.deploy_until(&zips, 12).await;
    let rolled = rollback(&env.ctx, &env.aws, AGENT, "prod", None, false).await.unwrap();
    assert_eq!((rolled.previous_version.as_deref(), rolled.live_version.as_str()), (Some("10"), "7"));
    env.deploy_until(&zips, 15).await;
    let kept = [7, 10, 11, 12, 13, 14, 15];
    let doomed = [1, 2, 3, 4, 5, 6, 8, 9];

    let before = env.stack.control_requests();
    let keys = env.bucket_keys().await;
    let planned = env.prune(5, true, 8).await;
    assert_eq!(env.deletes(&before), 0, "a dry run deletes nothing");
    assert_eq!(env.versions_settled().await, (1..=15).collect::<Vec<_>>());
    assert_eq!(env.bucket_keys().await, keys);
    let plan = outcome(&planned);
    assert_eq!(
        (plan.with_action(PruneAction::Planned), plan.with_action(PruneAction::Kept)),
        (doomed.to_vec(), kept.to_vec())
    );
    release_snapshot_settings().bind(|| insta::assert_snapshot!("prune_dry_run_json", json(&planned)));

    // status --versions applies the same rule.
    let status = xtask::status::status_with(&env.ctx.settings, &env.aws, None, Some(5)).await.unwrap();
    let prod = status.runtimes.iter().find(|runtime| runtime.runtime_name == "echo_bot_prod").unwrap();
    assert_eq!(prod.prune_keep, Some(5));
    for (version, verdict) in prod.versions.iter().zip(&plan.versions) {
        assert_eq!(version.protected_by.as_ref(), Some(&verdict.protected_by), "version {}", version.version);
    }

    let before = env.stack.control_requests();
    let report = env.prune(5, false, 8).await;
    assert_eq!(report.failed, 0, "{report}");
    assert_eq!(outcome(&report).with_action(PruneAction::Deleted), doomed);
    assert_eq!(env.deletes(&before), doomed.len() as u64, "one request per deleted version, none refused");
    release_snapshot_settings().bind(|| insta::assert_snapshot!("prune_human", report.to_string()));
    assert_eq!(env.versions_settled().await, kept);
    assert_eq!(env.endpoint_live("echo_bot_prod", "prod").await.as_deref(), Some("7"));
    // Code zips and records stay.
    let keys = env.bucket_keys().await;
    assert!(
        keys.contains(&"echo_bot_prod/v1/code.zip".to_owned())
            && keys.contains(&"echo_bot_prod/v1/record.json".to_owned())
    );

    // Again: everything left is protected.
    let before = env.stack.control_requests();
    let again = env.prune(5, false, 8).await;
    assert_eq!(outcome(&again).with_action(PruneAction::Kept), kept);
    assert_eq!(env.deletes(&before), 0);
    // And the rollback still works: back to 10, where the last move came from.
    let rolled = rollback(&env.ctx, &env.aws, AGENT, "prod", None, false).await.unwrap();
    assert_eq!(rolled.live_version, "10");
    env.stack.shutdown().await;
}

/// Versions an endpoint serves or is moving to are never asked for, however old; keep 0 leaves only
/// them (and where a rollback goes). A deletion that fails is reported on its version and the rest
/// go on; a re-run deletes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referenced_versions_are_never_deleted_and_a_rerun_converges() {
    let mut env = Env::start(Duration::from_millis(30)).await;
    let zips = env.zips("referenced");
    env.deploy_until(&zips, 2).await;
    env.promote_to(2).await;
    env.deploy_until(&zips, 8).await;
    let name = env.name(AGENT, Target::Prod);
    let id = env.runtime_id(&name).await;
    let control = &env.aws.control;
    control
        .create_agent_runtime_endpoint()
        .agent_runtime_id(&id)
        .name("canary")
        .agent_runtime_version("1")
        .send()
        .await
        .unwrap();
    aws::wait_endpoint_live(&env.aws, &id, &name, "canary", "1").await.unwrap();
    // canary stays on its way from 1 to 3.
    env.stack.faults().stuck("UpdateAgentRuntimeEndpoint", 1).unwrap();
    control
        .update_agent_runtime_endpoint()
        .agent_runtime_id(&id)
        .endpoint_name("canary")
        .agent_runtime_version("3")
        .send()
        .await
        .unwrap();

    let planned = env.prune(0, true, 8).await;
    let plan = outcome(&planned);
    assert_eq!(plan.with_action(PruneAction::Kept), [1, 2, 3, 8]);
    let why = |version: u32| xtask::report::reasons(&plan.versions[version as usize - 1].protected_by);
    assert_eq!(why(1), "endpoint canary live");
    assert_eq!(why(3), "endpoint canary target");
    assert_eq!(why(2), "endpoint prod live");
    assert_eq!(why(8), "endpoint DEFAULT live");

    // Without retries, one injected server error fails the first deletion (one at a time: version 4).
    let retried = env.aws.control.clone();
    env.aws.control = aws_sdk_bedrockagentcorecontrol::Client::from_conf(
        retried.config().to_builder().retry_config(aws_smithy_types::retry::RetryConfig::disabled()).build(),
    );
    env.stack.faults().internal_error("DeleteAgentRuntime", 1).unwrap();
    let before = env.stack.control_requests();
    let report = env.prune(0, false, 1).await;
    assert_eq!(report.failed, 1, "{report}");
    let first = outcome(&report);
    assert_eq!(first.with_action(PruneAction::Failed), [4]);
    assert_eq!(first.with_action(PruneAction::Deleted), [5, 6, 7]);
    let error = report.results[0].error.as_deref().unwrap();
    assert!(
        error.contains("version 4: DeleteAgentRuntime on version 4 of runtime echo_bot_prod")
            && error.contains("re-run"),
        "{error}"
    );
    assert_eq!(env.deletes(&before), 4, "versions 4 to 7, never 1, 2, 3 or 8");
    let shown = report.to_string();
    assert!(shown.contains("FAILED echo_bot: version 4:"), "{shown}");

    assert_eq!(env.versions_settled().await, [1, 2, 3, 4, 8]);
    let again = env.prune(0, false, 1).await;
    assert_eq!(again.failed, 0, "{again}");
    assert_eq!(outcome(&again).with_action(PruneAction::Deleted), [4], "what is gone already is done");
    env.aws.control = retried;
    assert_eq!(env.versions_settled().await, [1, 2, 3, 8]);
    env.stack.shutdown().await;
}

/// `github gc --prune` prunes every agent's prod runtime with `prune_keep` and says so in its
/// summary; with `prune_keep = 0` it does nothing and makes no call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_prunes_every_prod_runtime_and_summarizes() {
    let mut env = Env::start(Duration::from_millis(30)).await;
    let zips = env.zips("gc");
    env.deploy_until(&zips, 2).await;
    env.promote_to(2).await;
    env.deploy_until(&zips, 6).await;
    let temp = tempfile::tempdir().unwrap();
    let args = |dry_run| xtask::github::GcArgs {
        event: xtask::github::EventArgs {
            event: repo_root().join("tests/events/schedule.json"),
            out: Some(temp.path().join("summary.md")),
        },
        open_pulls: None,
        open_issues: None,
        newest_number: None,
        bot_login: xtask::github::DEFAULT_BOT_LOGIN.into(),
        superseded_dir: None,
        idle_dir: None,
        prune: true,
        dry_run,
    };
    env.ctx.settings.prune_keep = 2;
    let before = env.stack.control_requests();
    let planned = xtask::github::gc(&env.ctx, &args(true), Some(env.aws.clone())).await.unwrap();
    assert_eq!(planned.result, "planned");
    assert_eq!(env.deletes(&before), 0);
    assert_eq!(planned.pruned[0].with_action(PruneAction::Planned), [1, 3, 4]);

    let report = xtask::github::gc(&env.ctx, &args(false), Some(env.aws.clone())).await.unwrap();
    assert_eq!(report.result, "deleted");
    assert_eq!(report.pruned[0].with_action(PruneAction::Deleted), [1, 3, 4]);
    assert_eq!(report.pruned[1].runtime_id, None, "weather_report_bot has no prod runtime");
    let summary = std::fs::read_to_string(temp.path().join("summary.md")).unwrap();
    assert_eq!(report.markdown.as_deref(), Some(summary.as_str()));
    release_snapshot_settings().bind(|| insta::assert_snapshot!("gc_prune_summary", summary));
    assert_eq!(env.versions_settled().await, [2, 5, 6]);

    env.ctx.settings.prune_keep = 0;
    let before = env.stack.control_requests();
    let off = xtask::github::gc(&env.ctx, &args(false), Some(env.aws.clone())).await.unwrap();
    assert_eq!((off.result.as_str(), off.pruned.len()), ("nothing", 0));
    assert!(off.markdown.unwrap().contains("Pruning is off"));
    assert_eq!(env.stack.control_requests().since(&before).total(), 0);
    env.stack.shutdown().await;
}

/// The command: without a terminal it needs --yes (or --dry-run) and calls nothing; --dry-run and
/// --json print the plan; --yes deletes. On a terminal it asks, and only `yes` deletes.
#[test]
fn cli_prune_asks_or_needs_yes() {
    let temp = tempfile::tempdir().unwrap();
    let zips = temp.path().join("zips");
    std::fs::create_dir_all(&zips).unwrap();
    fixture_zip(&zips.join("echo_bot.zip"), "cli prune");
    let state = temp.path().join("state");
    let local = |args: &[&str]| run_local(&state, args);
    let zips = zips.to_str().unwrap();
    for _ in 0..4 {
        let (ok, _, stderr) = local(&["deploy", "echo_bot", "--prod", "--force", "--package-dir", zips]);
        assert!(ok, "{stderr}");
    }

    let (ok, stdout, stderr) = local(&["prune", "echo_bot", "--keep", "2"]);
    assert!(!ok && stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("needs confirmation") && stderr.contains("--yes") && stderr.contains("--dry-run"),
        "{stderr}"
    );
    assert!(!stderr.contains("local stack"), "refused before connecting: {stderr}");

    let (ok, stdout, stderr) = local(&["prune", "echo_bot", "--prod", "--keep", "2", "--dry-run", "--json"]);
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["results"][0]["outcome"]["plan"], "delete versions 1, 2 of runtime echo_bot_prod");

    let on_terminal = |answer: &str| on_terminal(&state, "prune echo_bot --keep 2", answer);
    let declined = on_terminal("no");
    assert!(
        declined.contains("delete versions 1, 2 of echo_bot_prod") && declined.contains("type `yes`"),
        "{declined}"
    );
    assert!(declined.contains("not confirmed: nothing was deleted"), "{declined}");
    let confirmed = on_terminal("yes");
    assert!(confirmed.contains("deleted"), "{confirmed}");
    let (ok, stdout, stderr) = local(&["prune", "echo_bot", "--keep", "2", "--yes", "--json"]);
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let versions = report["results"][0]["outcome"]["versions"].as_array().unwrap();
    let left: Vec<(&serde_json::Value, &serde_json::Value)> =
        versions.iter().map(|version| (&version["version"], &version["action"])).collect();
    assert_eq!(left, [(&3.into(), &"kept".into()), (&4.into(), &"kept".into())], "nothing left to delete: {stdout}");
}
