//! Version hygiene with environments, on the local stack: `github gc --prune` prunes each
//! long-lived place of a chain (staging and prod, each with its own bucket of promotion records)
//! and keeps each one's protected versions; a place whose records cannot be read loses nothing;
//! `prune --env` and `status --versions --env` work on that environment alone, reading its bucket;
//! hints name the environment the user chose.

use std::path::Path;
use std::time::Duration;

use xtask::aws::{self, AwsClients};
use xtask::context::Ctx;
use xtask::naming::Target;
use xtask::promote::{PromoteRequest, promote};
use xtask::report::{PruneAction, PruneOutcome};

use super::{fixture_zip, start_stack};
use crate::support::{PROD_BUCKET, STAGING_BUCKET, ctx, environments_workspace, release_snapshot_settings, repo_root};

const AGENT: &str = "echo_bot";

/// One environment of the chain: its context, and clients with its bucket.
struct Place {
    ctx: Ctx,
    aws: AwsClients,
    endpoint: &'static str,
}

impl Place {
    fn new(base: &Ctx, aws: &AwsClients, name: &str, bucket: &str, endpoint: &'static str) -> Place {
        let ctx = base.for_env(name).unwrap();
        assert_eq!(ctx.settings.bucket, bucket);
        Place { ctx, aws: AwsClients { bucket: bucket.to_owned(), ..aws.clone() }, endpoint }
    }

    fn runtime(&self) -> String {
        self.ctx.settings.scheme().runtime_name(AGENT, Target::Prod).unwrap()
    }

    /// Adds versions to echo_bot's runtime here until it has `last`.
    async fn deploy_until(&self, zip: &Path, last: u32) {
        let agents = xtask::agents::discover(&self.ctx.root, &self.ctx.settings).unwrap();
        let agent = agents.iter().find(|agent| agent.name == AGENT).unwrap();
        loop {
            let outcome =
                xtask::deploy::deploy_zip(&self.ctx, &self.aws, agent, Target::Prod, zip, true, false).await.unwrap();
            let version: u32 = outcome.version.as_deref().unwrap().parse().unwrap();
            if version >= last {
                assert_eq!(version, last);
                return;
            }
        }
    }

    async fn promote_to(&self, version: u32) {
        let request = PromoteRequest {
            agent: AGENT.into(),
            version,
            endpoint: self.endpoint.into(),
            expect_live: None,
            require_newer: false,
            dry_run: false,
            smoke: None,
        };
        assert_eq!(promote(&self.ctx, &self.aws, &request).await.unwrap().action, "promoted");
    }

    /// The runtime's versions once every deletion is over.
    async fn versions_settled(&self) -> Vec<u32> {
        let id = aws::find_runtime(&self.aws, &self.runtime()).await.unwrap().unwrap().agent_runtime_id().to_owned();
        for _ in 0..100 {
            let versions = aws::list_versions(&self.aws, &id).await.unwrap();
            if versions.iter().all(|version| version.status().as_str() != "DELETING") {
                return versions.iter().map(|version| version.agent_runtime_version().parse().unwrap()).collect();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("versions of {} still DELETING", self.runtime());
    }
}

fn outcome_of<'a>(pruned: &'a [PruneOutcome], runtime: &str) -> &'a PruneOutcome {
    pruned.iter().find(|outcome| outcome.runtime_name == runtime).unwrap_or_else(|| panic!("no {runtime}: {pruned:?}"))
}

/// Staging (endpoint `live`) and prod (endpoint `prod`), each in its own bucket, each with a history
/// of versions and moves. Keeping 2: on staging, 5–6 are the newest, 4 is live and 2 is where a
/// rollback goes (1 and 3 go); on prod, 4–5 are the newest, 3 is live and 1 is where a rollback
/// goes (2 goes). The rollback targets are known only from each environment's own records, so
/// reading the other bucket would delete them. A dry run changes nothing and its summary names
/// both; an unreadable record in staging's bucket keeps every staging version while prod is pruned,
/// and fails the step; once it is readable again, the re-run prunes staging and converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_prunes_staging_and_prod_each_by_its_own_records() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("workspace");
    environments_workspace(&root);
    let mut base = ctx(&root, Default::default());
    base.settings.prune_keep = 2;
    let (stack, aws) = start_stack(&temp.path().join("stack"), &base.settings, Duration::from_millis(30)).await;
    for bucket in [STAGING_BUCKET, PROD_BUCKET] {
        stack.ensure_bucket(bucket).await.unwrap();
    }
    let staging = Place::new(&base, &aws, "staging", STAGING_BUCKET, "live");
    let prod = Place::new(&base, &aws, "prod", PROD_BUCKET, "prod");
    let zip = temp.path().join("echo_bot.zip");
    fixture_zip(&zip, "environments prune");

    staging.deploy_until(&zip, 3).await;
    staging.promote_to(2).await;
    staging.deploy_until(&zip, 5).await;
    staging.promote_to(4).await;
    staging.deploy_until(&zip, 6).await;
    prod.deploy_until(&zip, 2).await;
    prod.promote_to(1).await;
    prod.deploy_until(&zip, 4).await;
    prod.promote_to(3).await;
    prod.deploy_until(&zip, 5).await;

    let summary_path = temp.path().join("summary.md");
    let args = |dry_run| xtask::github::GcArgs {
        event: xtask::github::EventArgs {
            event: repo_root().join("tests/events/schedule.json"),
            out: Some(summary_path.clone()),
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
    let deletes =
        |before: &agentcore_local::RequestCounts| stack.control_requests().since(before).get("DeleteAgentRuntime");

    let before = stack.control_requests();
    let planned = xtask::github::gc(&base, &args(true), Some(aws.clone())).await.unwrap();
    assert_eq!(planned.result, "planned");
    assert_eq!(deletes(&before), 0, "a dry run deletes nothing");
    let runtimes: Vec<&str> = planned.pruned.iter().map(|outcome| outcome.runtime_name.as_str()).collect();
    assert_eq!(
        runtimes,
        ["echo_bot_staging", "weather_report_bot_staging", "echo_bot_prod", "weather_report_bot_prod"]
    );
    let staging_plan = outcome_of(&planned.pruned, "echo_bot_staging");
    assert_eq!(staging_plan.with_action(PruneAction::Planned), [1, 3]);
    assert_eq!(staging_plan.with_action(PruneAction::Kept), [2, 4, 5, 6]);
    let prod_plan = outcome_of(&planned.pruned, "echo_bot_prod");
    assert_eq!(prod_plan.with_action(PruneAction::Planned), [2]);
    assert_eq!(prod_plan.with_action(PruneAction::Kept), [1, 3, 4, 5]);
    let why = |outcome: &PruneOutcome, version: u32| {
        xtask::report::reasons(&outcome.versions[version as usize - 1].protected_by)
    };
    assert!(why(staging_plan, 2).starts_with("rollback target (promotion "), "{}", why(staging_plan, 2));
    assert!(why(prod_plan, 1).starts_with("rollback target (promotion "), "{}", why(prod_plan, 1));
    assert_eq!(planned.agents, ["echo_bot", "weather_report_bot"]);
    let summary = std::fs::read_to_string(&summary_path).unwrap();
    assert_eq!(planned.markdown.as_deref(), Some(summary.as_str()));
    release_snapshot_settings().bind(|| insta::assert_snapshot!("gc_prune_chain_dry_run_summary", summary));

    // A promotion record of staging that does not parse: staging's runtime is not pruned at all.
    let bad_key = "echo_bot_staging/promotions/live/99991231T235959999Z-v9.json";
    stack
        .s3_client()
        .put_object()
        .bucket(STAGING_BUCKET)
        .key(bad_key)
        .body(b"not a record".to_vec().into())
        .send()
        .await
        .unwrap();
    let before = stack.control_requests();
    let err = xtask::github::gc(&base, &args(false), Some(aws.clone())).await.unwrap_err();
    let err = format!("{err:#}");
    assert!(err.contains("pruning failed on 1 of 4 runtimes of staging and prod"), "{err}");
    assert_eq!(deletes(&before), 1, "prod's version 2 only");
    assert_eq!(staging.versions_settled().await, [1, 2, 3, 4, 5, 6]);
    assert_eq!(prod.versions_settled().await, [1, 3, 4, 5]);
    let summary = std::fs::read_to_string(&summary_path).unwrap();
    assert!(summary.contains("**Not pruned**") && summary.contains("echo_bot_staging (echo_bot): "), "{summary}");
    assert!(summary.contains(&format!("s3://{STAGING_BUCKET}/{bad_key} is not a valid record")), "{summary}");

    // Readable again: staging is pruned, prod has nothing more to give.
    stack.s3_client().delete_object().bucket(STAGING_BUCKET).key(bad_key).send().await.unwrap();
    let report = xtask::github::gc(&base, &args(false), Some(aws.clone())).await.unwrap();
    assert_eq!(report.result, "deleted");
    assert_eq!(outcome_of(&report.pruned, "echo_bot_staging").with_action(PruneAction::Deleted), [1, 3]);
    assert_eq!(outcome_of(&report.pruned, "echo_bot_prod").with_action(PruneAction::Deleted), Vec::<u32>::new());
    assert_eq!(staging.versions_settled().await, [2, 4, 5, 6]);
    let again = xtask::github::gc(&base, &args(false), Some(aws.clone())).await.unwrap();
    assert_eq!(again.result, "nothing");
    stack.shutdown().await;
}
