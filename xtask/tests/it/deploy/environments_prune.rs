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

/// The binary on the environments workspace at `root`, `--local` on the state in `state`.
fn local(root: &Path, state: &Path, args: &[&str]) -> (bool, String, String) {
    let mut command = crate::support::xtask_command(root);
    command.args(args).arg("--local").arg("--local-dir").arg(state).env("AGENTCORE_LOCAL_TRANSITION_MS", "50");
    crate::support::run(&mut command)
}

/// Of a runtime in a `status --versions --json` report, each version with the rules protecting it.
fn protections(status: &serde_json::Value, runtime: &str) -> Vec<(String, Vec<String>)> {
    let runtimes = status["runtimes"].as_array().unwrap();
    let found = runtimes.iter().find(|found| found["runtime_name"] == runtime);
    let found = found.unwrap_or_else(|| panic!("no {runtime} in {status}"));
    found["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|version| {
            let reasons = version["protected_by"].as_array().unwrap_or_else(|| panic!("no protected_by: {version}"));
            let reasons = reasons
                .iter()
                .map(|reason| match reason["endpoint"].as_str() {
                    Some(endpoint) => format!("{} {endpoint}", reason["reason"].as_str().unwrap()),
                    None => reason["reason"].as_str().unwrap().to_owned(),
                })
                .collect();
            (version["version"].as_str().unwrap().to_owned(), reasons)
        })
        .collect()
}

/// `prune --env staging` and `status --versions` on staging's runtime, with prod's runtime in the
/// same local stack and each environment's records in its own bucket: prune plans staging's
/// versions only and keeps the one a rollback of `live` goes back to (known only from staging's
/// bucket); status, with `--env staging` or from the workspace's place (which staging shares),
/// gives the same reasons; an unknown environment is refused with the known ones; hints about a
/// missing runtime name `--env staging`.
#[test]
fn prune_and_status_versions_work_on_the_environment_named() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("workspace");
    environments_workspace(&root);
    let state = temp.path().join("state");
    let run = |args: &[&str]| local(&root, &state, args);
    let ok = |args: &[&str]| {
        let (ok, stdout, stderr) = run(args);
        assert!(ok, "{args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        stdout
    };
    let json = |args: &[&str]| -> serde_json::Value {
        let mut args = args.to_vec();
        args.push("--json");
        serde_json::from_str(&ok(&args)).unwrap()
    };
    let zips = temp.path().join("zips");
    std::fs::create_dir_all(&zips).unwrap();
    fixture_zip(&zips.join("echo_bot.zip"), "prune --env");
    let zips = zips.to_str().unwrap();

    let (ok_, stdout, stderr) = run(&["prune", "echo_bot", "--env", "qa", "--dry-run"]);
    assert!(!ok_ && stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("there is no environment `qa`; the known ones are prod, staging"), "{stderr}");
    // Before staging has a runtime, the hints say how to make it: in staging, not prod.
    let (ok_, stdout, stderr) = run(&["promote", "echo_bot", "--env", "staging", "--version", "1", "--no-smoke"]);
    assert!(!ok_, "{stdout}\n{stderr}");
    let hint =
        "runtime echo_bot_staging does not exist; deploy it first with `cargo xtask deploy echo_bot --env staging`";
    assert!(stdout.contains(hint), "{stdout}");
    let (ok_, stdout, stderr) = run(&["rollback", "echo_bot", "--env", "staging"]);
    assert!(!ok_ && stdout.contains(hint), "{stdout}\n{stderr}");

    let deploy = ["deploy", "echo_bot", "--env", "staging", "--force", "--package-dir", zips];
    let promote = |version: &str| ok(&["promote", "echo_bot", "--env", "staging", "--version", version, "--no-smoke"]);
    ok(&deploy);
    ok(&deploy);
    promote("1");
    ok(&deploy);
    promote("2");
    ok(&deploy);
    ok(&deploy);
    for _ in 0..2 {
        ok(&["deploy", "echo_bot", "--prod", "--force", "--package-dir", zips]);
    }

    // Staging v1..v5: 5 is the newest, 2 is live, 1 is where a rollback of live goes; 3 and 4 go.
    let report = json(&["prune", "--all", "--env", "staging", "--keep", "1", "--dry-run"]);
    let results = report["results"].as_array().unwrap();
    let runtimes: Vec<&str> =
        results.iter().map(|result| result["outcome"]["runtime_name"].as_str().unwrap()).collect();
    assert_eq!(runtimes, ["echo_bot_staging", "weather_report_bot_staging"], "{report}");
    assert_eq!(results[0]["outcome"]["plan"], "delete versions 3, 4 of runtime echo_bot_staging", "{report}");
    assert_eq!(results[1]["outcome"]["runtime_id"], serde_json::Value::Null, "{report}");
    assert!(!report.to_string().contains("_prod"), "{report}");

    let expected: Vec<(String, Vec<String>)> = [
        ("1", vec!["rollback_target live"]),
        ("2", vec!["endpoint live"]),
        ("3", vec![]),
        ("4", vec![]),
        ("5", vec!["endpoint DEFAULT", "newest"]),
    ]
    .into_iter()
    .map(|(version, reasons)| (version.to_owned(), reasons.into_iter().map(str::to_owned).collect()))
    .collect();
    let status = json(&["status", "--env", "staging", "--versions", "--keep", "1"]);
    assert_eq!(protections(&status, "echo_bot_staging"), expected, "{status}");
    let names: Vec<&str> = status["runtimes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|runtime| runtime["runtime_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["echo_bot_staging"], "prod is in another region and account: {status}");
    // From the workspace's place, which staging shares: staging's runtime still by staging's records.
    let status = json(&["status", "--versions", "--keep", "1"]);
    assert_eq!(protections(&status, "echo_bot_staging"), expected, "{status}");
    let prod = protections(&status, "echo_bot_prod");
    assert_eq!(prod.iter().map(|(version, _)| version.as_str()).collect::<Vec<_>>(), ["1", "2"], "{status}");

    // With --yes, exactly those go, and prod keeps every version.
    let report = json(&["prune", "echo_bot", "--env", "staging", "--keep", "1", "--yes"]);
    let deleted: Vec<u64> = report["results"][0]["outcome"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|version| version["action"] == "deleted")
        .map(|version| version["version"].as_u64().unwrap())
        .collect();
    assert_eq!(deleted, [3, 4], "{report}");
    let status = json(&["status", "--env", "prod"]);
    let prod = status["runtimes"].as_array().unwrap().iter().find(|runtime| runtime["runtime_name"] == "echo_bot_prod");
    assert_eq!(prod.unwrap()["versions_used"], 2, "prune --env staging leaves prod alone: {status}");
}

/// On AWS each place of the chain is reached on its own: prod's role that cannot be assumed stops
/// nothing else (staging is still tried, here refused too), and the step fails with a summary that
/// says, per environment, what could not be pruned and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_prune_reports_each_environment_it_cannot_reach() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("workspace");
    environments_workspace(&root);
    let denied = super::deny::start(super::deny::Api::Control).await;
    let summary = temp.path().join("summary.md");
    let mut command = crate::support::xtask_command(&root);
    command
        .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        .args(["github", "gc", "--prune", "--event"])
        .arg(repo_root().join("tests/events/schedule.json"))
        .arg("--out")
        .arg(&summary)
        .args(["--endpoint-url", &denied.url]);
    let (ok_, stdout, stderr) = crate::support::run_async(command).await;
    assert!(!ok_, "{stdout}\n{stderr}");
    assert!(stderr.contains("pruning failed on 4 of 4 runtimes of staging and prod"), "{stderr}");
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(summary.starts_with("## Old staging and prod versions"), "{summary}");
    for env in ["staging", "prod"] {
        assert!(summary.contains(&format!("### {env}\n\nNo {env} runtime was pruned: see below.")), "{summary}");
    }
    assert!(
        summary.contains(&format!(
            "prod: none of its 2 runtimes was pruned, it cannot be reached: cannot assume role {}",
            crate::support::PROD_DEPLOY_ROLE
        )),
        "{summary}"
    );
    for runtime in ["echo_bot_staging (echo_bot): ", "weather_report_bot_staging (weather_report_bot): "] {
        assert!(summary.contains(runtime), "{summary}");
    }
    assert!(summary.contains("ListAgentRuntimes"), "{summary}");
}
