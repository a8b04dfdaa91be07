//! Release commands (deploy, promote, rollback, cleanup, status) against the in-process local stack.

mod deny;
mod environments;
mod environments_prune;
mod prune;
mod scale;
mod settings;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agentcore_local::{LocalConfig, LocalStack};
use aws_sdk_bedrockagentcorecontrol::types::AgentRuntimeArtifact;
use sha2::{Digest, Sha256};
use xtask::agents::Agent;
use xtask::aws::{self, AwsClients, WaitPolicy};
use xtask::deploy::{DeployOptions, deploy_agents_with};
use xtask::naming::Target;
use xtask::promote::{PromoteRequest, promote, rollback};
use xtask::records::{self, PromotionRecord, VersionRecord};
use xtask::report::{DeployOutcome, Report};

use crate::support::{
    Ctx, clean_env, ctx, github_outputs, release_fixture, release_snapshot_settings, repo_root, run, run_async,
    xtask_command,
};

/// A local stack in a temp dir, a context on the release fixture's two agents, and clients for the stack.
struct Env {
    stack: LocalStack,
    ctx: Ctx,
    aws: AwsClients,
    agents: Vec<Agent>,
    temp: tempfile::TempDir,
}

impl Env {
    async fn start(transition: Duration) -> Env {
        let temp = tempfile::tempdir().unwrap();
        let ctx = ctx(&release_fixture(), Default::default());
        let settings = &ctx.settings;
        let (stack, aws) = start_stack(&temp.path().join("stack"), settings, transition).await;
        let agents = xtask::agents::discover(&ctx.root, settings).unwrap();
        Env { stack, ctx, aws, agents, temp }
    }

    /// Zips `<dir>/<agent>.zip` for every agent, with `revision` in main.py so each push differs.
    fn zips(&self, revision: &str) -> PathBuf {
        let dir = self.temp.path().join(format!("zips-{revision}"));
        std::fs::create_dir_all(&dir).unwrap();
        for agent in &self.agents {
            fixture_zip(&dir.join(format!("{}.zip", agent.name)), &format!("{} {revision}", agent.name));
        }
        dir
    }

    async fn deploy(&self, target: Target, zips: &Path, force: bool) -> Report<DeployOutcome> {
        let options = DeployOptions { force, dry_run: false, package_dir: Some(zips.to_path_buf()) };
        let results = deploy_agents_with(&self.ctx, &self.aws, &self.agents, target, &options).await;
        Report::new("deploy", self.agents.iter().map(|agent| agent.name.clone()), results)
    }

    fn name(&self, agent: &str, target: Target) -> String {
        self.ctx.settings.scheme().runtime_name(agent, target).unwrap()
    }

    async fn runtime_id(&self, name: &str) -> String {
        aws::find_runtime(&self.aws, name)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{name} missing"))
            .agent_runtime_id()
            .to_owned()
    }

    async fn object(&self, key: &str) -> Option<Vec<u8>> {
        match self.aws.s3.get_object().bucket(&self.aws.bucket).key(key).send().await {
            Ok(output) => Some(output.body.collect().await.unwrap().into_bytes().to_vec()),
            Err(err) if aws::http_status(&err) == Some(404) => None,
            Err(err) => panic!("get {key}: {err:?}"),
        }
    }

    async fn record(&self, name: &str, version: &str) -> VersionRecord {
        let bytes = self
            .object(&records::record_key(name, version))
            .await
            .unwrap_or_else(|| panic!("no record {name} v{version}"));
        serde_json::from_slice(&bytes).unwrap()
    }

    async fn endpoint_live(&self, name: &str, endpoint: &str) -> Option<String> {
        let id = self.runtime_id(name).await;
        let state = aws::get_endpoint(&self.aws, &id, endpoint).await.unwrap()?;
        assert_eq!(state.status().as_str(), "READY");
        state.live_version().map(str::to_owned)
    }

    async fn versions(&self, name: &str) -> Vec<String> {
        let id = self.runtime_id(name).await;
        aws::list_versions(&self.aws, &id).await.unwrap().iter().map(|v| v.agent_runtime_version().to_owned()).collect()
    }

    /// The version's artifact key as AgentCore holds it, checked against its record and S3.
    async fn assert_version(&self, name: &str, version: &str, zips: &Path, agent: &str) {
        let id = self.runtime_id(name).await;
        let runtime = aws::get_runtime(&self.aws, &id, Some(version)).await.unwrap().unwrap();
        assert_eq!(runtime.status().as_str(), "READY", "{name} v{version}");
        let Some(AgentRuntimeArtifact::CodeConfiguration(code)) = runtime.agent_runtime_artifact() else {
            panic!("{name} v{version} has no code artifact")
        };
        let key = code.code().unwrap().as_s3().unwrap().prefix().to_owned();
        let record = self.record(name, version).await;
        assert_eq!(record.code_key, key);
        assert_eq!(record.runtime_id, id);
        assert_eq!(record.agent, agent);
        let code = self.object(&key).await.expect("code zip in S3");
        let local = std::fs::read(zips.join(format!("{agent}.zip"))).unwrap();
        assert_eq!(code, local, "{key} holds the zip that was deployed");
        assert_eq!(record.zip_sha256, hex::encode(Sha256::digest(&code)));
        assert_eq!(
            runtime.environment_variables().and_then(|env| env.get("LOG_LEVEL")).map(String::as_str),
            Some("INFO"),
            "environment variables come from agent.toml"
        );
    }
}

/// A local stack in `dir` with the settings' bucket, and clients for it with short deadlines: every
/// wait in these tests is over in well under a second.
async fn start_stack(
    dir: &Path,
    settings: &xtask::settings::Settings,
    transition: Duration,
) -> (LocalStack, AwsClients) {
    let stack = LocalStack::start(LocalConfig {
        dir: dir.to_path_buf(),
        s3_port: 0,
        control_port: 0,
        transition_delay: transition,
        region: settings.region.clone(),
    })
    .await
    .unwrap();
    stack.ensure_bucket(&settings.bucket).await.unwrap();
    let mut aws = aws::local_clients(
        &stack.s3_endpoint(),
        &stack.control_endpoint(),
        stack.region(),
        &settings.bucket,
        agentcore_local::credentials(),
    )
    .await;
    aws.wait = WaitPolicy { timeout: Duration::from_secs(20), ..WaitPolicy::default() };
    (stack, aws)
}

fn fixture_zip(path: &Path, text: &str) {
    let mut writer = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    writer.start_file("main.py", zip::write::SimpleFileOptions::default()).unwrap();
    writer.write_all(format!("# {text}\nprint('hello')\n").as_bytes()).unwrap();
    writer.finish().unwrap();
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap()
}

/// The seed walkthrough: two agents through a PR, two merges, promotions, a rollback and cleanup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walkthrough_pr_merge_promote_rollback_cleanup() {
    let env = Env::start(Duration::from_millis(80)).await;
    let [echo, weather] = [env.agents[0].name.clone(), env.agents[1].name.clone()];
    assert_eq!((echo.as_str(), weather.as_str()), ("echo_bot", "weather_report_bot"));
    let pr = Target::Pr(1);
    let (echo_pr, weather_pr) = (env.name(&echo, pr), env.name(&weather, pr));
    let (echo_prod, weather_prod) = (env.name(&echo, Target::Prod), env.name(&weather, Target::Prod));

    // PR 1 opened: both agents get a runtime at version 1.
    let first = env.zips("first");
    let report = env.deploy(pr, &first, false).await;
    assert_eq!(report.failed, 0, "{report}");
    for outcome in report.results.iter().map(|entry| entry.outcome.as_ref().unwrap()) {
        assert_eq!((outcome.action.as_str(), outcome.version.as_deref()), ("created", Some("1")));
        assert_eq!(outcome.status, "READY");
        assert!(outcome.default_endpoint.as_deref().unwrap().ends_with("/runtime-endpoint/DEFAULT"));
    }
    release_snapshot_settings().bind(|| {
        insta::assert_snapshot!("deploy_pr_created_human", report.to_string());
        insta::assert_snapshot!("deploy_pr_created_json", json(&report));
    });
    env.assert_version(&echo_pr, "1", &first, &echo).await;
    env.assert_version(&weather_pr, "1", &first, &weather).await;
    assert_eq!(env.record(&echo_pr, "1").await.pr, Some(1));

    // The same code again makes no version: versions are a quota.
    let again = env.deploy(pr, &first, false).await;
    assert_eq!(again.failed, 0, "{again}");
    assert!(again.results.iter().all(|entry| entry.outcome.as_ref().unwrap().action == "up_to_date"), "{again}");
    release_snapshot_settings().bind(|| insta::assert_snapshot!("deploy_pr_up_to_date_human", again.to_string()));
    assert_eq!(env.versions(&echo_pr).await, ["1"]);

    // A push to the PR: version 2, DEFAULT follows it.
    let second = env.zips("second");
    let report = env.deploy(pr, &second, false).await;
    assert_eq!(report.failed, 0, "{report}");
    assert!(report.results.iter().all(|entry| entry.outcome.as_ref().unwrap().action == "updated"));
    env.assert_version(&echo_pr, "2", &second, &echo).await;
    env.assert_version(&weather_pr, "2", &second, &weather).await;
    assert_eq!(env.versions(&weather_pr).await, ["1", "2"]);
    assert_eq!(env.endpoint_live(&echo_pr, "DEFAULT").await.as_deref(), Some("2"));
    assert!(env.object("echo_bot_pr_1/v1/code.zip").await.is_some(), "v1's zip is never overwritten");

    // Merge: prod gets version 1, not live until promoted.
    let report = env.deploy(Target::Prod, &second, false).await;
    assert_eq!(report.failed, 0, "{report}");
    env.assert_version(&echo_prod, "1", &second, &echo).await;
    assert_eq!(env.endpoint_live(&echo_prod, "prod").await, None);

    let request = |agent: &str, version: u32, expect_live: Option<u32>| PromoteRequest {
        agent: agent.to_owned(),
        version,
        endpoint: "prod".to_owned(),
        expect_live,
        require_newer: true,
        dry_run: false,
        smoke: None,
    };
    for agent in [&echo, &weather] {
        let outcome = promote(&env.ctx, &env.aws, &request(agent, 1, None)).await.unwrap();
        assert_eq!((outcome.action.as_str(), outcome.live_version.as_str()), ("promoted", "1"));
        assert_eq!(outcome.previous_version, None);
    }
    assert_eq!(env.endpoint_live(&echo_prod, "prod").await.as_deref(), Some("1"));
    assert_eq!(env.endpoint_live(&weather_prod, "prod").await.as_deref(), Some("1"));
    // Promoting again is a no-op that succeeds.
    let repeat = promote(&env.ctx, &env.aws, &request(&echo, 1, Some(1))).await.unwrap();
    assert_eq!(repeat.action, "already_live");

    // A second merge: prod version 2; the prod endpoint stays on 1 until promoted.
    let third = env.zips("third");
    let report = env.deploy(Target::Prod, &third, false).await;
    assert_eq!(report.failed, 0, "{report}");
    env.assert_version(&echo_prod, "2", &third, &echo).await;
    assert_eq!(env.endpoint_live(&echo_prod, "prod").await.as_deref(), Some("1"));
    assert_eq!(env.endpoint_live(&echo_prod, "DEFAULT").await.as_deref(), Some("2"));

    // Compare and set: a stale expectation is refused and changes nothing.
    let stale = promote(&env.ctx, &env.aws, &request(&echo, 2, Some(2))).await.unwrap_err().to_string();
    assert!(stale.contains("serves version 1, not 2 (--expect-live)"), "{stale}");
    let promoted = promote(&env.ctx, &env.aws, &request(&echo, 2, Some(1))).await.unwrap();
    assert_eq!((promoted.previous_version.as_deref(), promoted.live_version.as_str()), (Some("1"), "2"));
    release_snapshot_settings().bind(|| insta::assert_snapshot!("promote_v2_json", json(&promoted)));
    assert_eq!(env.endpoint_live(&echo_prod, "prod").await.as_deref(), Some("2"));
    // require_newer: an old approval replayed cannot move prod back.
    let replay = promote(&env.ctx, &env.aws, &request(&echo, 1, None)).await.unwrap_err().to_string();
    assert!(replay.contains("refusing to move it back"), "{replay}");

    // Roll back: to the version served before, from the promotion records.
    let back = rollback(&env.ctx, &env.aws, &echo, "prod", None, false).await.unwrap();
    assert_eq!(
        (back.action.as_str(), back.previous_version.as_deref(), back.live_version.as_str()),
        ("rolled_back", Some("2"), "1")
    );
    assert_eq!(env.endpoint_live(&echo_prod, "prod").await.as_deref(), Some("1"));
    let history = records::list_promotions(&env.aws, &echo_prod, "prod").await.unwrap();
    let moves: Vec<(Option<&str>, &str, &str)> = history
        .iter()
        .map(|r: &PromotionRecord| (r.from_version.as_deref(), r.to_version.as_str(), r.kind.as_str()))
        .collect();
    assert_eq!(moves, [(None, "1", "promote"), (Some("1"), "2", "promote"), (Some("2"), "1", "rollback")]);
    // What the workflows read before promoting.
    let state = aws::prod_endpoint_state(&env.ctx.settings, &env.aws, &echo, None).await.unwrap().unwrap();
    assert_eq!(
        (
            state.runtime_name.as_str(),
            state.status.as_str(),
            state.live_version.as_deref(),
            state.latest_version.as_str()
        ),
        (echo_prod.as_str(), "READY", Some("1"), "2")
    );
    assert_eq!(aws::prod_endpoint_state(&env.ctx.settings, &env.aws, &echo, Some("canary")).await.unwrap(), None);

    // Status shows what each endpoint points at.
    let status = xtask::status::status(&env.ctx.settings, &env.aws, None).await.unwrap();
    let prod_row = status.runtimes.iter().find(|runtime| runtime.runtime_name == echo_prod).unwrap();
    assert_eq!(prod_row.versions_used, 2);
    let prod_endpoint = prod_row.endpoints.iter().find(|endpoint| endpoint.name == "prod").unwrap();
    assert_eq!(prod_endpoint.live_version.as_deref(), Some("1"));
    assert_eq!(status.runtimes_used, 4);
    release_snapshot_settings().bind(|| insta::assert_snapshot!("status_human", status.to_string()));

    // PR closed: its runtimes go, prod stays, S3 keeps every zip and record.
    let all: Vec<String> =
        aws::list_runtimes(&env.aws).await.unwrap().iter().map(|r| r.agent_runtime_name().to_owned()).collect();
    let doomed = aws::pr_runtimes(&env.ctx.settings.scheme(), &all, 1);
    assert_eq!(doomed, [echo_pr.clone(), weather_pr.clone()]);
    let results = xtask::cleanup::cleanup_runtimes(&env.aws, &doomed, false, env.ctx.settings.max_parallel).await;
    let report = Report::new("cleanup", doomed.iter().cloned(), results);
    assert_eq!(report.failed, 0, "{report}");
    release_snapshot_settings().bind(|| insta::assert_snapshot!("cleanup_pr_human", report.to_string()));
    let left: Vec<String> =
        aws::list_runtimes(&env.aws).await.unwrap().iter().map(|r| r.agent_runtime_name().to_owned()).collect();
    assert_eq!(left.len(), 2);
    assert!(left.contains(&echo_prod) && left.contains(&weather_prod));
    assert!(env.object(&records::record_key(&echo_pr, "2")).await.is_some());
    assert!(env.object(&records::code_key(&echo_pr, 2)).await.is_some());
    // Cleaning again converges: already gone.
    let again = xtask::cleanup::cleanup_runtimes(&env.aws, &doomed, false, env.ctx.settings.max_parallel).await;
    assert!(again.iter().all(|result| result.as_ref().unwrap().action == "already_gone"));
    // A version that never served the endpoint is no rollback target, even a newer one: that would be
    // a promotion without an approval.
    let fourth = env.zips("fourth");
    let report = env.deploy(Target::Prod, &fourth, false).await;
    assert_eq!(report.failed, 0, "{report}");
    env.assert_version(&echo_prod, "3", &fourth, &echo).await;
    let forward = rollback(&env.ctx, &env.aws, &echo, "prod", Some(3), false).await.unwrap_err().to_string();
    assert!(forward.contains("version 3 of echo_bot_prod never served endpoint prod"), "{forward}");
    assert_eq!(env.endpoint_live(&echo_prod, "prod").await.as_deref(), Some("1"));
    let served = rollback(&env.ctx, &env.aws, &echo, "prod", Some(2), true).await;
    assert!(served.is_ok(), "a version that served before is a rollback target: {served:?}");

    env.stack.shutdown().await;
}

fn outcome(report: &Report<DeployOutcome>, index: usize) -> &DeployOutcome {
    report.results[index].outcome.as_ref().unwrap_or_else(|| panic!("{report}"))
}

impl Env {
    /// Deploys only the first agent (echo_bot).
    async fn deploy_one(
        &self,
        target: Target,
        zips: &Path,
        force: bool,
        dry_run: bool,
    ) -> anyhow::Result<DeployOutcome> {
        let agent = &self.agents[0];
        xtask::deploy::deploy_zip(
            &self.ctx,
            &self.aws,
            agent,
            target,
            &zips.join(format!("{}.zip", agent.name)),
            force,
            dry_run,
        )
        .await
    }

    async fn bucket_keys(&self) -> Vec<String> {
        let output = self.aws.s3.list_objects_v2().bucket(&self.aws.bucket).send().await.unwrap();
        output.contents().iter().filter_map(|object| object.key().map(str::to_owned)).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_server_errors_on_every_operation_are_retried() {
    let env = Env::start(Duration::from_millis(50)).await;
    let faults = env.stack.faults();
    let tagging = ["TagResource", "UntagResource"];
    for operation in agentcore_local::OPERATIONS.iter().filter(|operation| !tagging.contains(operation)) {
        faults.throttle(operation, 2).unwrap();
        faults.internal_error(operation, 2).unwrap();
    }
    let zips = env.zips("faults");
    let created = env.deploy_one(Target::Prod, &zips, false, false).await.unwrap();
    assert_eq!(created.action, "created");
    // Tags changed behind the tool's back: the next deploy tags and untags, through faults too.
    let arn = created.runtime_arn.clone().unwrap();
    env.aws.control.untag_resource().resource_arn(&arn).tag_keys("team").send().await.unwrap();
    env.aws.control.tag_resource().resource_arn(&arn).tags("stray", "x").send().await.unwrap();
    for operation in tagging {
        faults.throttle(operation, 2).unwrap();
        faults.internal_error(operation, 2).unwrap();
    }
    let updated = env.deploy_one(Target::Prod, &zips, true, false).await.unwrap();
    assert_eq!((updated.action.as_str(), updated.version.as_deref()), ("updated", Some("2")));
    for version in [1, 2] {
        let request = PromoteRequest {
            agent: "echo_bot".into(),
            version,
            endpoint: "prod".into(),
            expect_live: None,
            require_newer: true,
            dry_run: false,
            smoke: None,
        };
        assert_eq!(promote(&env.ctx, &env.aws, &request).await.unwrap().action, "promoted");
    }
    let status = xtask::status::status(&env.ctx.settings, &env.aws, None).await.unwrap();
    assert_eq!(status.runtimes[0].versions_used, 2);
    let name = env.name("echo_bot", Target::Prod);
    let tags = env.aws.control.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    let tags: BTreeMap<String, String> = tags.tags().cloned().unwrap_or_default().into_iter().collect();
    assert_eq!(tags, BTreeMap::from([("team".into(), "fun".into()), ("agent".into(), "echo_bot".into())]));
    let results =
        xtask::cleanup::cleanup_runtimes(&env.aws, std::slice::from_ref(&name), false, env.ctx.settings.max_parallel)
            .await;
    let cleaned = results.into_iter().next().unwrap().unwrap();
    assert_eq!(
        (cleaned.action.as_str(), cleaned.endpoints_deleted.as_slice()),
        ("deleted", ["prod".to_owned()].as_slice())
    );
    // Every operation met its faults: the counters are used up, so each one was retried through.
    let left = faults.load().unwrap();
    for operation in agentcore_local::OPERATIONS {
        let state = &left.operations[*operation];
        assert_eq!((state.throttle, state.internal_error), (0, 0), "{operation} was never called");
    }
    env.stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_stuck_updating_hits_the_deadline_and_nothing_is_deleted() {
    let mut env = Env::start(Duration::from_millis(50)).await;
    let zips = env.zips("stuck");
    env.deploy_one(Target::Pr(6), &zips, false, false).await.unwrap();
    env.stack.faults().stuck("UpdateAgentRuntime", 1).unwrap();
    env.aws.wait.timeout = Duration::from_secs(1);
    let err = format!("{:#}", env.deploy_one(Target::Pr(6), &zips, true, false).await.unwrap_err());
    let name = env.name("echo_bot", Target::Pr(6));
    assert!(err.contains(&format!("runtime {name}")) && err.contains("version 2 is still UPDATING"), "{err}");
    assert!(err.contains("nothing was deleted") && err.contains("--timeout"), "{err}");
    assert_eq!(env.versions(&name).await, ["1", "2"]);
    // The stuck version still has its record, pointing at its own code.
    assert_eq!(env.record(&name, "2").await.code_key, records::code_key(&name, 2));
    env.stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_failed_shows_the_failure_reason_and_a_redeploy_recovers() {
    let env = Env::start(Duration::from_millis(50)).await;
    let zips = env.zips("failing");
    env.deploy_one(Target::Pr(7), &zips, false, false).await.unwrap();
    env.stack.faults().fail("UpdateAgentRuntime", 1, "the role cannot be assumed by bedrock-agentcore").unwrap();
    let results = xtask::deploy::deploy_agents_with(
        &env.ctx,
        &env.aws,
        &env.agents,
        Target::Pr(7),
        &DeployOptions { force: true, dry_run: false, package_dir: Some(zips.clone()) },
    )
    .await;
    let report = Report::new("deploy", env.agents.iter().map(|agent| agent.name.clone()), results);
    // One agent failing does not hide the other's result.
    assert_eq!(report.failed, 1, "{report}");
    assert_eq!(outcome(&report, 1).action, "created");
    release_snapshot_settings().bind(|| insta::assert_snapshot!("deploy_update_failed_human", report.to_string()));
    // The failed version is not "up to date": deploying again makes a working one.
    let again = env.deploy_one(Target::Pr(7), &zips, false, false).await.unwrap();
    assert_eq!(
        (again.action.as_str(), again.version.as_deref(), again.status.as_str()),
        ("updated", Some("3"), "READY")
    );
    env.stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_refuses_a_missing_version_default_and_a_moved_endpoint() {
    let env = Env::start(Duration::from_millis(50)).await;
    let zips = env.zips("promote");
    env.deploy_one(Target::Prod, &zips, false, false).await.unwrap();
    let request = |version: u32, endpoint: &str, expect_live: Option<u32>| PromoteRequest {
        agent: "echo_bot".into(),
        version,
        endpoint: endpoint.into(),
        expect_live,
        require_newer: false,
        dry_run: false,
        smoke: None,
    };
    let err = promote(&env.ctx, &env.aws, &request(9, "prod", None)).await.unwrap_err().to_string();
    assert!(err.contains("version 9 of runtime echo_bot_prod does not exist (latest is 1)"), "{err}");
    let err = promote(&env.ctx, &env.aws, &request(1, "DEFAULT", None)).await.unwrap_err().to_string();
    assert!(err.contains("refusing to move the DEFAULT endpoint"), "{err}");
    let err = promote(&env.ctx, &env.aws, &request(1, "prod", Some(3))).await.unwrap_err().to_string();
    assert!(err.contains("serves version none, not 3"), "{err}");
    let name = env.name("echo_bot", Target::Prod);
    assert_eq!(env.endpoint_live(&name, "prod").await, None, "nothing was created");
    let planned =
        promote(&env.ctx, &env.aws, &PromoteRequest { dry_run: true, ..request(1, "prod", None) }).await.unwrap();
    assert_eq!(planned.action, "planned");
    assert_eq!(env.endpoint_live(&name, "prod").await, None, "a dry run creates nothing");
    let err = rollback(&env.ctx, &env.aws, "echo_bot", "prod", None, false).await.unwrap_err().to_string();
    assert!(err.contains("has no endpoint prod"), "{err}");
    // Without history, rollback needs --to.
    promote(&env.ctx, &env.aws, &request(1, "prod", None)).await.unwrap();
    let err = rollback(&env.ctx, &env.aws, "echo_bot", "prod", None, false).await.unwrap_err().to_string();
    assert!(err.contains("pass --to N"), "{err}");
    env.stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_cleanup_says_what_is_left_and_a_rerun_converges() {
    let env = Env::start(Duration::from_millis(50)).await;
    let zips = env.zips("cleanup");
    let deployed = env.deploy_one(Target::Pr(8), &zips, false, false).await.unwrap();
    let runtime_id = deployed.runtime_id.clone().unwrap();
    for endpoint in ["preview", "qa"] {
        env.aws
            .control
            .create_agent_runtime_endpoint()
            .agent_runtime_id(&runtime_id)
            .name(endpoint)
            .send()
            .await
            .unwrap();
        aws::wait_endpoint_live(&env.aws, &runtime_id, "x", endpoint, "1").await.unwrap();
    }
    // The stack's own clients retry 3 times: 3 server errors make the runtime's delete fail.
    let fragile = AwsClients { s3: env.stack.s3_client(), control: env.stack.control_client(), ..env.aws.clone() };
    env.stack.faults().internal_error("DeleteAgentRuntime", 3).unwrap();
    let name = env.name("echo_bot", Target::Pr(8));
    let results =
        xtask::cleanup::cleanup_runtimes(&fragile, std::slice::from_ref(&name), false, env.ctx.settings.max_parallel)
            .await;
    let err = format!("{:#}", results.into_iter().next().unwrap().unwrap_err());
    assert!(err.contains(&format!("left: runtime {name} ({runtime_id}); re-run the cleanup")), "{err}");
    assert!(err.contains("InternalServerException"), "{err}");
    let endpoints: Vec<String> =
        aws::list_endpoints(&env.aws, &runtime_id).await.unwrap().iter().map(|e| e.name().to_owned()).collect();
    assert_eq!(endpoints, ["DEFAULT"], "the named endpoints went first");
    let results =
        xtask::cleanup::cleanup_runtimes(&env.aws, std::slice::from_ref(&name), false, env.ctx.settings.max_parallel)
            .await;
    assert_eq!(results.into_iter().next().unwrap().unwrap().action, "deleted");
    assert!(aws::find_runtime(&env.aws, &name).await.unwrap().is_none());
    env.stack.shutdown().await;
}

/// An endpoint whose delete fails stays DELETE_FAILED: cleanup names it, what is left and the fix,
/// leaves the runtime (AgentCore refuses to delete it while the endpoint exists), status shows the
/// endpoint DELETE_FAILED, and cleaning up again deletes both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_endpoint_delete_is_reported_and_a_rerun_converges() {
    let env = Env::start(Duration::from_millis(50)).await;
    let zips = env.zips("cleanup");
    let deployed = env.deploy_one(Target::Pr(8), &zips, false, false).await.unwrap();
    let runtime_id = deployed.runtime_id.clone().unwrap();
    env.aws.control.create_agent_runtime_endpoint().agent_runtime_id(&runtime_id).name("qa").send().await.unwrap();
    aws::wait_endpoint_live(&env.aws, &runtime_id, "x", "qa", "1").await.unwrap();
    env.stack.faults().fail("DeleteAgentRuntimeEndpoint", 1, "the endpoint's network interfaces are in use").unwrap();
    let name = env.name("echo_bot", Target::Pr(8));
    let cleanup = || xtask::cleanup::cleanup_runtimes(&env.aws, std::slice::from_ref(&name), false, 4);
    let err = format!("{:#}", cleanup().await.into_iter().next().unwrap().unwrap_err());
    assert_eq!(
        err,
        format!(
            "left: runtime {name} ({runtime_id}) with endpoints qa; re-run the cleanup; runtime {name} was not deleted: \
             it cannot be while endpoint qa exists: deleting endpoint qa of runtime {name} failed: the endpoint's network \
             interfaces are in use"
        )
    );
    assert_eq!(env.stack.control_requests().get("DeleteAgentRuntime"), 0, "the runtime was left alone");
    let report = xtask::status::status(&env.ctx.settings, &env.aws, None).await.unwrap();
    let shown = serde_json::to_value(&report).unwrap();
    let endpoints = &shown["runtimes"][0]["endpoints"];
    assert_eq!((&endpoints[1]["name"], &endpoints[1]["status"]), (&"qa".into(), &"DELETE_FAILED".into()), "{shown}");
    assert_eq!(shown["runtimes"][0]["status"], "READY");
    assert!(report.to_string().contains("DELETE_FAILED"), "{report}");
    assert_eq!(cleanup().await.into_iter().next().unwrap().unwrap().action, "deleted");
    assert!(aws::find_runtime(&env.aws, &name).await.unwrap().is_none());
    env.stack.shutdown().await;
}

/// Promote and rollback refuse to move an endpoint whose delete failed, naming the fix; once it is
/// deleted, a promotion creates it anew.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_and_rollback_refuse_a_delete_failed_endpoint() {
    let env = Env::start(Duration::from_millis(20)).await;
    env.deploy_one(Target::Prod, &env.zips("one"), false, false).await.unwrap();
    env.deploy_one(Target::Prod, &env.zips("two"), false, false).await.unwrap();
    let request = |version: u32| PromoteRequest {
        agent: "echo_bot".into(),
        version,
        endpoint: "prod".into(),
        expect_live: None,
        require_newer: false,
        dry_run: false,
        smoke: None,
    };
    promote(&env.ctx, &env.aws, &request(1)).await.unwrap();
    promote(&env.ctx, &env.aws, &request(2)).await.unwrap();
    let name = env.name("echo_bot", Target::Prod);
    let runtime_id = env.runtime_id(&name).await;
    env.stack.faults().fail("DeleteAgentRuntimeEndpoint", 1, "the endpoint's network interfaces are in use").unwrap();
    let delete = || env.aws.control.delete_agent_runtime_endpoint().agent_runtime_id(&runtime_id).endpoint_name("prod");
    delete().send().await.unwrap();
    let failed = aws::wait_endpoint_gone(&env.aws, &runtime_id, &name, "prod").await.unwrap_err();
    assert!(failed.to_string().contains("failed: the endpoint's network interfaces are in use"), "{failed:#}");
    let before = env.stack.control_requests();
    let expected = format!(
        "endpoint prod of {name} is DELETE_FAILED (the endpoint's network interfaces are in use): it cannot be moved; \
         delete it again with `aws bedrock-agentcore-control delete-agent-runtime-endpoint --agent-runtime-id {runtime_id} \
         --endpoint-name prod`, then promote to create it anew"
    );
    let err = promote(&env.ctx, &env.aws, &request(1)).await.unwrap_err();
    assert_eq!(format!("{err:#}"), expected);
    let dry = promote(&env.ctx, &env.aws, &PromoteRequest { dry_run: true, ..request(1) }).await.unwrap_err();
    assert_eq!(format!("{dry:#}"), expected, "a dry run says so too");
    let err = rollback(&env.ctx, &env.aws, "echo_bot", "prod", None, false).await.unwrap_err();
    assert_eq!(format!("{err:#}"), expected);
    assert_eq!(env.stack.control_requests().since(&before).get("UpdateAgentRuntimeEndpoint"), 0);
    delete().send().await.unwrap();
    aws::wait_endpoint_gone(&env.aws, &runtime_id, &name, "prod").await.unwrap();
    promote(&env.ctx, &env.aws, &request(1)).await.unwrap();
    assert_eq!(env.endpoint_live(&name, "prod").await.as_deref(), Some("1"));
    env.stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_deploys_of_a_new_runtime_converge_and_records_match_their_code() {
    let env = Env::start(Duration::from_millis(50)).await;
    let (one, two) = (env.zips("racer_one"), env.zips("racer_two"));
    let (first, second) = tokio::join!(
        env.deploy_one(Target::Pr(9), &one, false, false),
        env.deploy_one(Target::Pr(9), &two, false, false)
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    let mut actions = [first.action.as_str(), second.action.as_str()];
    actions.sort();
    assert_eq!(actions, ["created", "updated"]);
    let name = env.name("echo_bot", Target::Pr(9));
    assert_eq!(env.versions(&name).await, ["1", "2"]);
    for outcome in [&first, &second] {
        let version = outcome.version.as_deref().unwrap();
        let record = env.record(&name, version).await;
        let code = env.object(&record.code_key).await.unwrap();
        assert_eq!(record.zip_sha256, hex::encode(Sha256::digest(&code)), "v{version}'s record names its own code");
        assert_eq!(record.zip_sha256, outcome.zip_sha256);
    }
    env.stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_runs_print_the_plan_and_change_nothing() {
    let env = Env::start(Duration::from_millis(50)).await;
    let zips = env.zips("dry");
    let planned = env.deploy_one(Target::Pr(4), &zips, false, true).await.unwrap();
    assert_eq!(planned.action, "planned");
    let report = Report::new("deploy", ["echo_bot".to_owned()], vec![Ok(planned.clone())]);
    release_snapshot_settings().bind(|| insta::assert_snapshot!("deploy_dry_run_human", report.to_string()));
    assert!(aws::list_runtimes(&env.aws).await.unwrap().is_empty());
    assert!(env.bucket_keys().await.is_empty());
    env.deploy_one(Target::Pr(4), &zips, false, false).await.unwrap();
    let keys = env.bucket_keys().await;
    let name = env.name("echo_bot", Target::Pr(4));
    let cleanup =
        xtask::cleanup::cleanup_runtimes(&env.aws, std::slice::from_ref(&name), true, env.ctx.settings.max_parallel)
            .await;
    assert_eq!(cleanup.into_iter().next().unwrap().unwrap().action, "planned");
    assert!(aws::find_runtime(&env.aws, &name).await.unwrap().is_some());
    assert_eq!(env.bucket_keys().await, keys);
    env.stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_deploys_reports_to_github_and_cleans_up_with_confirmation() {
    let env = Env::start(Duration::from_millis(50)).await;
    let zips = env.zips("cli");
    let temp = env.temp.path();
    let with_stack = |args: &[&str]| {
        let mut command = xtask_command(&env.ctx.root);
        command.envs(env.stack.env_exports()).args(args);
        command
    };
    let (github_output, summary) = (temp.join("github_output"), temp.join("step_summary"));
    let zips_arg = zips.to_str().unwrap();
    let mut deploy = with_stack(&["deploy", "echo_bot", "--pr", "3", "--package-dir", zips_arg, "--json"]);
    deploy.env("GITHUB_OUTPUT", &github_output).env("GITHUB_STEP_SUMMARY", &summary);
    // A blocking child process inside an async test: run it off the runtime's threads.
    let (ok, stdout, stderr) = run_async(deploy).await;
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is only the JSON result");
    assert_eq!(report["results"][0]["outcome"]["action"], "created");
    assert_eq!(report["failed"], 0);
    assert!(stderr.contains("waiting until READY"), "progress goes to stderr: {stderr}");
    let outputs = std::fs::read_to_string(&github_output).unwrap();
    assert!(
        outputs.contains("deploy<<AGENTCORE_EOF_") && outputs.contains("\"runtime_name\":\"echo_bot_pr_3\""),
        "{outputs}"
    );
    assert!(outputs.contains("failed<<AGENTCORE_EOF_"), "{outputs}");
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.contains("| AGENT | RUNTIME |") && summary.contains("| echo_bot | echo_bot_pr_3 | created |"),
        "{summary}"
    );

    let status = with_stack(&["status", "--json"]);
    let (ok, stdout, stderr) = run_async(status).await;
    assert!(ok, "{stderr}");
    let status: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(status["runtimes"][0]["runtime_name"], "echo_bot_pr_3");
    assert_eq!(status["runtimes"][0]["endpoints"][0]["name"], "DEFAULT");

    let unconfirmed = with_stack(&["cleanup", "--pr", "3"]);
    let (ok, _, stderr) = run_async(unconfirmed).await;
    assert!(!ok && stderr.contains("no terminal to ask on, so pass --yes"), "{stderr}");
    let prod = with_stack(&["cleanup", "echo_bot_prod", "--yes"]);
    let (ok, _, stderr) = run_async(prod).await;
    assert!(!ok && stderr.contains("pass --force-prod"), "{stderr}");
    let foreign = with_stack(&["cleanup", "someone_elses_runtime", "--yes"]);
    let (ok, _, stderr) = run_async(foreign).await;
    assert!(!ok && stderr.contains("not a runtime name this project makes"), "{stderr}");
    assert!(aws::find_runtime(&env.aws, "echo_bot_pr_3").await.unwrap().is_some(), "nothing was deleted yet");

    let cleanup = with_stack(&["cleanup", "--pr", "3", "--yes"]);
    let (ok, stdout, stderr) = run_async(cleanup).await;
    assert!(ok, "{stderr}");
    release_snapshot_settings().bind(|| insta::assert_snapshot!("cli_cleanup_human", stdout));
    assert!(aws::find_runtime(&env.aws, "echo_bot_pr_3").await.unwrap().is_none());

    let unknown = with_stack(&["deploy", "no_such_agent", "--pr", "3"]);
    let (ok, _, stderr) = run_async(unknown).await;
    assert!(!ok && stderr.contains("no agent named `no_such_agent`"), "{stderr}");
    env.stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_without_credentials_names_the_fix() {
    let env = Env::start(Duration::from_millis(50)).await;
    let mut command = xtask_command(&env.ctx.root);
    for (name, value) in env.stack.env_exports() {
        if !name.starts_with("AWS_ACCESS_KEY_ID") && !name.starts_with("AWS_SECRET_ACCESS_KEY") {
            command.env(name, value);
        }
    }
    command.args(["status"]);
    let (ok, _, stderr) = run_async(command).await;
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("aws configure") && stderr.contains("--profile") && stderr.contains("--local"), "{stderr}");
    env.stack.shutdown().await;
}

/// The binary on the release fixture with `--local`: each command starts the bundled stack itself,
/// on the state in `state`, with short transitions.
fn run_local(state: &Path, args: &[&str]) -> (bool, String, String) {
    let mut command = xtask_command(&release_fixture());
    command.args(args).arg("--local").arg("--local-dir").arg(state).env("AGENTCORE_LOCAL_TRANSITION_MS", "50");
    run(&mut command)
}

#[test]
fn cli_local_flag_runs_the_stack_in_process_and_keeps_its_state() {
    let temp = tempfile::tempdir().unwrap();
    let zips = temp.path().join("zips");
    std::fs::create_dir_all(&zips).unwrap();
    fixture_zip(&zips.join("echo_bot.zip"), "local flag");
    let state = temp.path().join("state");
    let local = |args: &[&str]| run_local(&state, args);
    let (ok, stdout, stderr) = local(&["deploy", "echo_bot", "--pr", "2", "--package-dir", zips.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("echo_bot_pr_2") && stdout.contains("created"), "{stdout}");
    // A second command starts a new stack on the same state.
    let (ok, stdout, stderr) = local(&["status", "--json"]);
    assert!(ok, "{stderr}");
    let status: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(status["runtimes"][0]["runtime_name"], "echo_bot_pr_2");
    let (ok, stdout, stderr) =
        local(&["deploy", "echo_bot", "--pr", "2", "--package-dir", zips.to_str().unwrap(), "--dry-run"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("up_to_date"), "{stdout}");
    let (ok, _, stderr) = local(&["deploy", "echo_bot", "--pr", "5", "--package-dir", zips.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    // PR 2 closed, PR 5 open: only PR 2's runtime is stale.
    let (ok, stdout, stderr) = local(&["cleanup", "--stale", "--open-prs", "5", "--yes"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("echo_bot_pr_2") && !stdout.contains("echo_bot_pr_5"), "{stdout}");
    let (ok, stdout, _) = local(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(ok && status["runtimes"].as_array().unwrap().len() == 1, "{stdout}");
    assert_eq!(status["runtimes"][0]["runtime_name"], "echo_bot_pr_5");
    let (ok, _, stderr) = local(&["cleanup", "--stale", "--open-prs", "", "--yes"]);
    assert!(ok, "{stderr}");
    let (ok, stdout, _) = local(&["status"]);
    assert!(ok && stdout.contains("no runtime of this project"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_are_written_once_and_never_overwritten() {
    let env = Env::start(Duration::from_millis(50)).await;
    let key = "some_runtime/v1/record.json";
    let first = records::put_new(&env.aws, key, b"first".to_vec(), "application/json", None).await.unwrap();
    let second = records::put_new(&env.aws, key, b"second".to_vec(), "application/json", None).await.unwrap();
    assert_eq!((first, second), (records::PutNew::Created, records::PutNew::AlreadyExists));
    assert_eq!(env.object(key).await.unwrap(), b"first");
    // A taken code slot moves the upload to the next version number.
    let (zip, other) = (env.temp.path().join("a.zip"), env.temp.path().join("b.zip"));
    std::fs::write(&zip, b"zip").unwrap();
    std::fs::write(&other, b"other zip").unwrap();
    let code = records::upload_code(&env.aws, "some_runtime", 1, &zip, "abc").await.unwrap();
    assert_eq!(code, "some_runtime/v1/code.zip");
    let next = records::upload_code(&env.aws, "some_runtime", 1, &other, "def").await.unwrap();
    assert_eq!(next, "some_runtime/v2/code.zip");
    assert_eq!(env.object(&code).await.unwrap(), b"zip");
    env.stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_errors_name_the_resource_the_code_and_the_fix() {
    let env = Env::start(Duration::from_millis(50)).await;
    env.stack.faults().set_quotas(agentcore_local::Quotas { runtimes: 1, ..Default::default() }).unwrap();
    let report = env.deploy(Target::Pr(11), &env.zips("quota"), false).await;
    assert_eq!(report.failed, 1, "{report}");
    // Both agents create at once: whichever comes second hits the quota of one runtime.
    let failed = report.results.iter().find(|entry| !entry.ok).unwrap();
    let error = failed.error.as_deref().unwrap();
    let expected =
        format!("CreateAgentRuntime on runtime {}_pr_11 failed: ServiceQuotaExceededException:", failed.name);
    assert!(error.starts_with(&expected), "{error}");
    assert!(error.contains("cargo xtask cleanup --stale"), "{error}");

    let mut command = xtask_command(&env.ctx.root);
    command.envs(env.stack.env_exports()).env("AWS_SECRET_ACCESS_KEY", "not-the-secret").args(["status"]);
    let (ok, _, stderr) = run_async(command).await;
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("ListAgentRuntimes on the account's runtimes failed: InvalidSignatureException"),
        "{stderr}"
    );
    assert!(stderr.contains("the credentials were refused"), "{stderr}");
    env.stack.shutdown().await;
}

#[test]
fn release_commands_help() {
    for command in ["deploy", "promote", "rollback", "cleanup", "prune", "status"] {
        let (ok, stdout, stderr) = run(xtask_command(&release_fixture()).args([command, "--help"]));
        assert!(ok, "{stderr}");
        // The command's own part; the global flags after `--json` belong to the whole tool.
        let own = stdout.split("      --json").next().unwrap().to_owned();
        assert!(own.len() < stdout.len(), "{stdout}");
        release_snapshot_settings().bind(|| insta::assert_snapshot!(format!("help_{command}"), own));
    }
}

#[test]
fn cli_promotes_and_rolls_back() {
    let temp = tempfile::tempdir().unwrap();
    let zips = temp.path().join("zips");
    std::fs::create_dir_all(&zips).unwrap();
    fixture_zip(&zips.join("echo_bot.zip"), "promote");
    let state = temp.path().join("state");
    let local = |args: &[&str]| run_local(&state, args);
    let zips = zips.to_str().unwrap();
    let (ok, _, stderr) = local(&["deploy", "echo_bot", "--prod", "--package-dir", zips]);
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = local(&["promote", "echo_bot", "--version", "1", "--json", "--no-smoke"]);
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["results"][0]["outcome"]["action"], "promoted");
    let (ok, stdout, _) = local(&["promote", "echo_bot", "--version", "1"]);
    assert!(ok && stdout.contains("already_live"), "{stdout}");
    // Failure reasons are part of the result (stdout); stderr ends with what failed.
    let (ok, stdout, stderr) = local(&["rollback", "echo_bot"]);
    assert!(!ok && stdout.contains("FAILED echo_bot:") && stdout.contains("pass --to N"), "{stdout}");
    assert!(stderr.ends_with("error: 1 of 1 failed (echo_bot); the reasons are above\n"), "{stderr}");
    let (ok, _, stderr) = local(&["deploy", "echo_bot", "--prod", "--force", "--package-dir", zips]);
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = local(&["promote", "echo_bot", "--version", "2", "--expect-live", "1", "--no-smoke"]);
    assert!(ok, "{stderr}");
    release_snapshot_settings().bind(|| insta::assert_snapshot!("cli_promote_human", stdout));
    let (ok, stdout, stderr) = local(&["rollback", "echo_bot", "--dry-run", "--json"]);
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        report["results"][0]["outcome"]["plan"],
        "move endpoint prod of echo_bot_prod from version 2 to 1, wait until live"
    );
    let (ok, stdout, stderr) = local(&["rollback", "echo_bot"]);
    assert!(ok && stdout.contains("rolled_back"), "{stderr}");
    let (ok, stdout, _) = local(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let endpoints = status["runtimes"][0]["endpoints"].as_array().unwrap();
    let prod = endpoints.iter().find(|endpoint| endpoint["name"] == "prod").unwrap();
    assert!(ok && prod["live_version"] == "1", "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_made_again_keeps_the_old_records_and_adds_its_own() {
    let env = Env::start(Duration::from_millis(50)).await;
    let (old_zips, new_zips) = (env.zips("reopen_old"), env.zips("reopen_new"));
    let name = env.name("echo_bot", Target::Pr(12));
    let old = env.deploy_one(Target::Pr(12), &old_zips, false, false).await.unwrap();
    let results =
        xtask::cleanup::cleanup_runtimes(&env.aws, std::slice::from_ref(&name), false, env.ctx.settings.max_parallel)
            .await;
    results.into_iter().next().unwrap().unwrap();
    // The pull request is reopened: a new runtime of the same name starts at version 1 again.
    let new = env.deploy_one(Target::Pr(12), &new_zips, false, false).await.unwrap();
    assert_eq!((new.action.as_str(), new.version.as_deref()), ("created", Some("1")));
    let new_id = new.runtime_id.clone().unwrap();
    assert_ne!(old.runtime_id.as_deref(), Some(new_id.as_str()));
    assert_eq!(env.record(&name, "1").await.runtime_id, old.runtime_id.unwrap(), "the old record is untouched");
    let new_key = records::record_key_for_id(&name, "1", &new_id);
    assert_eq!(new.record_key.as_deref(), Some(new_key.as_str()));
    let record: VersionRecord = serde_json::from_slice(&env.object(&new_key).await.unwrap()).unwrap();
    assert_eq!((record.runtime_id.as_str(), record.code_key.as_str()), (new_id.as_str(), "echo_bot_pr_12/v2/code.zip"));
    // And the new runtime's record is found again: the same zip is up to date.
    let again = env.deploy_one(Target::Pr(12), &new_zips, false, false).await.unwrap();
    assert_eq!(again.action, "up_to_date");
    assert_eq!(again.record_key.as_deref(), Some(new_key.as_str()));
    env.stack.shutdown().await;
}

/// Runs the binary with `command` (words split on spaces) on the release fixture and the local stack
/// in `state`, under util-linux `script`, which gives it a pseudo-terminal; types `answer` on it and
/// returns what the terminal showed. Fails, naming the fix, where `script` does not run.
fn on_terminal(state: &Path, command: &str, answer: &str) -> String {
    let script_runs = std::process::Command::new("script").arg("--version").output();
    assert!(
        script_runs.as_ref().is_ok_and(|output| output.status.success()),
        "this test needs `script` from util-linux, to give the command a terminal, and it does not run ({}): \
         install util-linux (`apt-get install util-linux`), or put its `script` on PATH",
        script_runs.map_or_else(|err| err.to_string(), |output| output.status.to_string())
    );
    let line = format!("{} {command} --local --local-dir {}", env!("CARGO_BIN_EXE_xtask"), state.display());
    let mut script = std::process::Command::new("script");
    clean_env(&mut script, &release_fixture());
    script.args(["-qec", &line, "/dev/null"]).env("AGENTCORE_LOCAL_TRANSITION_MS", "50");
    let mut child = script.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(format!("{answer}\n").as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// On a terminal, cleanup deletes only what a person confirms by typing the runtime's name.
#[test]
fn cleanup_on_a_terminal_asks_for_the_runtime_name() {
    let temp = tempfile::tempdir().unwrap();
    let zips = temp.path().join("zips");
    std::fs::create_dir_all(&zips).unwrap();
    fixture_zip(&zips.join("echo_bot.zip"), "tty");
    let state = temp.path().join("state");
    let (ok, _, stderr) =
        run_local(&state, &["deploy", "echo_bot", "--pr", "4", "--package-dir", zips.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let on_terminal = |answer: &str| on_terminal(&state, "cleanup --pr 4", answer);
    let declined = on_terminal("echo_bot_pr_5");
    assert!(declined.contains("type its name to confirm") && declined.contains("not confirmed, skipped"), "{declined}");
    let (_, stdout, _) = run_local(&state, &["status"]);
    assert!(stdout.contains("echo_bot_pr_4"), "{stdout}");
    let confirmed = on_terminal("echo_bot_pr_4");
    assert!(confirmed.contains("deleted"), "{confirmed}");
    let (_, stdout, _) = run_local(&state, &["status"]);
    assert!(stdout.contains("no runtime of this project"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_promotion_hits_the_deadline_and_records_nothing() {
    let mut env = Env::start(Duration::from_millis(50)).await;
    let zips = env.zips("stuck_promotion");
    env.deploy_one(Target::Prod, &zips, false, false).await.unwrap();
    env.deploy_one(Target::Prod, &zips, true, false).await.unwrap();
    let request = |version: u32| PromoteRequest {
        agent: "echo_bot".into(),
        version,
        endpoint: "prod".into(),
        expect_live: None,
        require_newer: true,
        dry_run: false,
        smoke: None,
    };
    promote(&env.ctx, &env.aws, &request(1)).await.unwrap();
    env.stack.faults().stuck("UpdateAgentRuntimeEndpoint", 1).unwrap();
    env.aws.wait.timeout = Duration::from_secs(1);
    let err = promote(&env.ctx, &env.aws, &request(2)).await.unwrap_err().to_string();
    assert!(
        err.contains("endpoint prod of runtime echo_bot_prod is still UPDATING (live version 1, wanted 2)"),
        "{err}"
    );
    let name = env.name("echo_bot", Target::Prod);
    let history = records::list_promotions(&env.aws, &name, "prod").await.unwrap();
    assert_eq!(history.len(), 1, "only the promotion that happened is recorded");
    // While it is still moving, a promotion elsewhere is refused rather than piled on.
    let err = rollback(&env.ctx, &env.aws, "echo_bot", "prod", Some(1), false).await.unwrap_err().to_string();
    assert!(err.contains("is UPDATING (towards version 2); wait until it is READY"), "{err}");
    // The same promotion again waits for it, and still records nothing while it never arrives.
    let err = promote(&env.ctx, &env.aws, &request(2)).await.unwrap_err().to_string();
    assert!(err.contains("is still UPDATING (live version 1, wanted 2)"), "{err}");
    assert_eq!(records::list_promotions(&env.aws, &name, "prod").await.unwrap().len(), 1);
    env.stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_runtime_name_is_refused_before_any_call() {
    let env = Env::start(Duration::from_millis(50)).await;
    let zips = env.zips("long_names");
    let mut command = xtask_command(&env.ctx.root);
    command.envs(env.stack.env_exports()).args([
        "deploy",
        "--all",
        "--pr",
        "1234567",
        "--runtime-name",
        "{agent}_{target}_with_a_longer_suffix",
        "--package-dir",
        zips.to_str().unwrap(),
    ]);
    let (ok, _, stderr) = run_async(command).await;
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains(
            "runtime name `weather_report_bot_pr_1234567_with_a_longer_suffix` for agent `weather_report_bot`"
        ) && stderr.contains("shorten"),
        "{stderr}"
    );
    assert!(aws::list_runtimes(&env.aws).await.unwrap().is_empty(), "the valid agent was not deployed either");
    assert!(env.bucket_keys().await.is_empty());
    env.stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_outlast_throttling_that_outlasts_the_sdk_retries() {
    let env = Env::start(Duration::from_millis(50)).await;
    // A client that gives up after two quick attempts, so a poll fails on throttling right away.
    use aws_sdk_bedrockagentcorecontrol::config;
    let control = config::Builder::new()
        .behavior_version(config::BehaviorVersion::latest())
        .http_client(xtask::aws::http_client())
        .region(config::Region::new(env.stack.region().to_owned()))
        .credentials_provider(aws_credential_types::Credentials::new(
            agentcore_local::ACCESS_KEY_ID,
            agentcore_local::SECRET_ACCESS_KEY,
            None,
            None,
            "test",
        ))
        .endpoint_url(env.stack.control_endpoint())
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(Duration::from_millis(1)),
        )
        .build();
    let impatient =
        AwsClients { control: aws_sdk_bedrockagentcorecontrol::Client::from_conf(control), ..env.aws.clone() };
    env.stack.faults().throttle("GetAgentRuntime", 7).unwrap();
    let agent = &env.agents[0];
    let zips = env.zips("throttled_waits");
    let zip = zips.join(format!("{}.zip", agent.name));
    let outcome =
        xtask::deploy::deploy_zip(&env.ctx, &impatient, agent, Target::Pr(13), &zip, false, false).await.unwrap();
    assert_eq!((outcome.action.as_str(), outcome.status.as_str()), ("created", "READY"));
    assert_eq!(env.stack.faults().load().unwrap().operations["GetAgentRuntime"].throttle, 0);
    // Outside a wait, throttling that outlasts the retries is an error that names the fix.
    env.stack.faults().throttle("ListAgentRuntimes", 2).unwrap();
    let err = aws::list_runtimes(&impatient).await.unwrap_err().to_string();
    assert!(err.contains("ThrottlingException") && err.contains("lower --max-parallel"), "{err}");
    env.stack.shutdown().await;
}

/// One command run as a GitHub Actions step against the stack.
struct Step {
    ok: bool,
    stdout: String,
    stderr: String,
    outputs: BTreeMap<String, String>,
    summary: String,
}

impl Env {
    async fn github_step(&self, number: usize, args: &[&str]) -> Step {
        let dir = self.temp.path().join(format!("step-{number}"));
        std::fs::create_dir_all(&dir).unwrap();
        let (output, summary) = (dir.join("output"), dir.join("summary"));
        let mut command = xtask_command(&self.ctx.root);
        command
            .envs(self.stack.env_exports())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .args(args);
        let (ok, stdout, stderr) = run_async(command).await;
        let outputs = if output.exists() { github_outputs(&output) } else { BTreeMap::new() };
        let summary = std::fs::read_to_string(&summary).unwrap_or_default();
        Step { ok, stdout, stderr, outputs, summary }
    }

    /// Everything a command could change: runtimes, versions, endpoints, and the bucket's keys.
    async fn state(&self) -> String {
        // A look of its own: the commands ran in other processes.
        let status = xtask::status::status(&self.ctx.settings, &self.aws.new_run(), None).await.unwrap();
        json(&(status, self.bucket_keys().await))
    }
}

/// Every release command as a GitHub Actions step: `$GITHUB_OUTPUT` holds the same JSON as stdout
/// and the failure count, the step summary is markdown, and every mutating command's `--dry-run`
/// leaves AgentCore and the bucket as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_reports_to_github_and_every_dry_run_changes_nothing() {
    let env = Env::start(Duration::from_millis(50)).await;
    let zips = env.zips("github");
    let zips = zips.to_str().unwrap();
    let deploy = ["deploy", "echo_bot", "--prod", "--package-dir", zips, "--json"];
    let steps: &[(&[&str], &str, bool)] = &[
        (&[&deploy[..], &["--dry-run"]].concat(), "deploy", true),
        (&deploy, "deploy", false),
        (&["promote", "echo_bot", "--version", "1", "--json", "--dry-run"], "promote", true),
        (&["promote", "echo_bot", "--version", "1", "--json", "--no-smoke"], "promote", false),
        (&[&deploy[..], &["--force"]].concat(), "deploy", false),
        (&["promote", "echo_bot", "--version", "2", "--expect-live", "1", "--json", "--no-smoke"], "promote", false),
        (&["rollback", "echo_bot", "--json", "--dry-run"], "rollback", true),
        (&["rollback", "echo_bot", "--json"], "rollback", false),
        (&["promote", "echo_bot", "--version", "9", "--json"], "promote", false),
        (&["status", "--json"], "status", false),
        (&["cleanup", "echo_bot_prod", "--force-prod", "--yes", "--json", "--dry-run"], "cleanup", true),
        (&["cleanup", "echo_bot_prod", "--force-prod", "--yes", "--json"], "cleanup", false),
    ];
    let mut summaries = String::new();
    for (number, (args, key, dry_run)) in steps.iter().enumerate() {
        let before = env.state().await;
        let step = env.github_step(number, args).await;
        let shown = args.join(" ").replace(zips, "ZIPS");
        let expect_failure = args.contains(&"9");
        assert_eq!(step.ok, !expect_failure, "{shown}: {}", step.stderr);
        let stdout: serde_json::Value =
            serde_json::from_str(&step.stdout).unwrap_or_else(|err| panic!("{shown}: {err}: {}", step.stdout));
        let written: serde_json::Value = serde_json::from_str(&step.outputs[*key]).unwrap();
        assert_eq!(written, stdout, "{shown}: $GITHUB_OUTPUT `{key}` is the result printed");
        if *key != "status" {
            let failed = if expect_failure { "1" } else { "0" };
            assert_eq!(step.outputs["failed"], failed, "{shown}");
            // A failed step adds `error`, the message `main` prints on stderr.
            assert_eq!(step.outputs.len(), 2 + usize::from(expect_failure), "{shown}: {:?}", step.outputs.keys());
            if expect_failure {
                assert!(step.outputs["error"].contains("failed"), "{shown}: {}", step.outputs["error"]);
            }
        }
        let after = env.state().await;
        if *dry_run || expect_failure || *key == "status" {
            assert_eq!(before, after, "{shown} changed something");
        } else {
            assert_ne!(before, after, "{shown} changed nothing");
        }
        if *dry_run {
            let plan = &stdout["results"][0]["outcome"]["plan"];
            assert!(plan.as_str().is_some_and(|plan| step.summary.contains(plan)), "{shown}: {}", step.summary);
        }
        summaries += &format!("<!-- cargo xtask {shown} -->\n{}\n", step.summary);
    }
    release_snapshot_settings().bind(|| insta::assert_snapshot!("github_step_summaries", summaries));
    env.stack.shutdown().await;
}

/// README's main job with real packaging (dependencies from PyPI through the workspace's shared
/// dependency cache): `deploy --all --pr 1 --local` makes version 1 of every agent's runtime from the
/// zips `package` builds, and running it again is up to date. The only test here that packages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_all_packages_for_real_and_a_rerun_is_up_to_date() {
    let temp = tempfile::tempdir().unwrap();
    let state = temp.path().join("state");
    let root = repo_root();
    let ctx = ctx(&root, Default::default());
    let settings = &ctx.settings;
    let agents = xtask::agents::discover(&root, settings).unwrap();
    assert!(!agents.is_empty(), "no agent under {}/agents to deploy", root.display());
    let deploy = || {
        let mut command = xtask_command(&root);
        command
            .args(["deploy", "--all", "--pr", "1", "--json", "--local", "--local-dir"])
            .arg(&state)
            .env("AGENTCORE_LOCAL_TRANSITION_MS", "50");
        command
    };
    // The stack's state, read once the command has exited (the CLI ran its own stack on `state`).
    let inspect = async || {
        let stack = LocalStack::start(LocalConfig {
            dir: state.clone(),
            s3_port: 0,
            control_port: 0,
            transition_delay: Duration::from_millis(50),
            region: settings.region.clone(),
        })
        .await
        .unwrap();
        let aws = aws::local_clients(
            &stack.s3_endpoint(),
            &stack.control_endpoint(),
            stack.region(),
            &settings.bucket,
            agentcore_local::credentials(),
        )
        .await;
        (stack, aws)
    };
    let results = |stdout: &str| -> Vec<serde_json::Value> {
        let report: serde_json::Value = serde_json::from_str(stdout).expect("stdout is the JSON result");
        assert_eq!(report["failed"], 0, "{report:#}");
        let results = report["results"].as_array().unwrap().clone();
        let names: Vec<&str> = results.iter().map(|entry| entry["name"].as_str().unwrap()).collect();
        let expected: Vec<&str> = agents.iter().map(|agent| agent.name.as_str()).collect();
        assert_eq!(names, expected);
        results.iter().map(|entry| entry["outcome"].clone()).collect()
    };

    let first = deploy();
    let (ok, stdout, stderr) = run_async(first).await;
    assert!(ok, "{stderr}");
    assert!(stderr.contains("packaging"), "{stderr}");
    let first = results(&stdout);
    let (stack, aws) = inspect().await;
    let mut package_hashes = Vec::new();
    for (agent, outcome) in agents.iter().zip(&first) {
        let name = settings.scheme().runtime_name(&agent.name, Target::Pr(1)).unwrap();
        let package = xtask::package::default_out_dir(&root).join(format!("{}.zip", agent.name));
        let sha256 = hex::encode(Sha256::digest(std::fs::read(&package).unwrap()));
        assert_eq!(outcome["zip_sha256"], sha256.as_str(), "{} deployed the zip `package` built", agent.name);
        assert_eq!((outcome["action"].as_str(), outcome["version"].as_str()), (Some("created"), Some("1")));
        assert_eq!(outcome["status"], "READY");
        let runtime = aws::find_runtime(&aws, &name).await.unwrap().unwrap_or_else(|| panic!("{name} missing"));
        let id = runtime.agent_runtime_id();
        assert_eq!(outcome["runtime_id"], id);
        let versions = aws::list_versions(&aws, id).await.unwrap();
        let versions: Vec<(&str, &str)> =
            versions.iter().map(|v| (v.agent_runtime_version(), v.status().as_str())).collect();
        assert_eq!(versions, [("1", "READY")], "{name}");
        let latest = aws::get_runtime(&aws, id, Some("1")).await.unwrap().unwrap();
        let Some(AgentRuntimeArtifact::CodeConfiguration(code)) = latest.agent_runtime_artifact() else {
            panic!("{name} has no code artifact")
        };
        let key = code.code().unwrap().as_s3().unwrap().prefix().to_owned();
        assert_eq!(key, records::code_key(&name, 1));
        assert_eq!(outcome["s3_key"], key.as_str());
        let object = aws.s3.get_object().bucket(&aws.bucket).key(&key).send().await.unwrap();
        let code = object.body.collect().await.unwrap().into_bytes();
        assert_eq!(hex::encode(Sha256::digest(&code)), sha256, "s3://{}/{key} holds the package", aws.bucket);
        let (record_key, record) = records::read_version_record(&aws, &name, "1", id).await.unwrap().unwrap();
        assert_eq!(record_key, records::record_key(&name, "1"));
        assert_eq!(outcome["record_key"], record_key.as_str());
        assert_eq!(
            (record.agent.as_str(), record.zip_sha256.as_str(), record.code_key.as_str(), record.pr),
            (agent.name.as_str(), sha256.as_str(), key.as_str(), Some(1))
        );
        assert_eq!(record.tool_version, env!("CARGO_PKG_VERSION"));
        assert!(record.git_commit.is_some(), "the record names the commit");
        package_hashes.push(sha256);
    }
    let keys = |aws: AwsClients| async move {
        let listed = aws.s3.list_objects_v2().bucket(&aws.bucket).send().await.unwrap();
        let mut keys: Vec<String> = listed.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect();
        keys.sort();
        keys
    };
    let keys_before = keys(aws.clone()).await;
    assert_eq!(keys_before.len(), 2 * agents.len(), "a code zip and a record per runtime: {keys_before:?}");
    stack.shutdown().await;

    let second = deploy();
    let (ok, stdout, stderr) = run_async(second).await;
    assert!(ok, "{stderr}");
    let second = results(&stdout);
    for ((agent, outcome), sha256) in agents.iter().zip(&second).zip(&package_hashes) {
        assert_eq!(
            (outcome["action"].as_str(), outcome["version"].as_str()),
            (Some("up_to_date"), Some("1")),
            "{}",
            agent.name
        );
        assert_eq!(outcome["zip_sha256"], sha256.as_str(), "packaging is deterministic");
    }
    let (stack, aws) = inspect().await;
    for agent in &agents {
        let name = settings.scheme().runtime_name(&agent.name, Target::Pr(1)).unwrap();
        let id = aws::find_runtime(&aws, &name).await.unwrap().unwrap().agent_runtime_id().to_owned();
        assert_eq!(aws::list_versions(&aws, &id).await.unwrap().len(), 1, "{name}: no new version");
    }
    assert_eq!(keys(aws.clone()).await, keys_before, "nothing new in the bucket");
    stack.shutdown().await;
}

/// A missing bucket is refused before anything changes, with the fix; AccessDenied answers (from a
/// server refusing as AWS does) name the IAM action to allow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_and_access_denied_name_the_fix() {
    let env = Env::start(Duration::from_millis(50)).await;
    let zips = env.zips("bucket");
    let zips_arg = zips.to_str().unwrap().to_owned();
    let missing = "no-such-bucket";
    let bucket_fix = format!(
        "bucket {missing} does not exist: create it (`aws s3 mb s3://{missing}`), or point at another one with --bucket / AGENTCORE_BUCKET"
    );

    let step = env
        .github_step(0, &["deploy", "echo_bot", "--pr", "21", "--package-dir", zips_arg.as_str(), "--bucket", missing])
        .await;
    assert!(!step.ok, "{}", step.stderr);
    assert!(step.stdout.contains(&format!("FAILED echo_bot: {bucket_fix}")), "{}", step.stdout);
    assert!(aws::list_runtimes(&env.aws).await.unwrap().is_empty(), "nothing was created");

    // A promotion that could not be recorded is refused before the endpoint moves.
    env.deploy_one(Target::Prod, &zips, false, false).await.unwrap();
    let step = env.github_step(1, &["promote", "echo_bot", "--version", "1", "--bucket", missing]).await;
    assert!(!step.ok, "{}", step.stderr);
    assert!(step.stdout.contains(&format!("FAILED echo_bot: {bucket_fix}")), "{}", step.stdout);
    assert_eq!(env.endpoint_live(&env.name("echo_bot", Target::Prod), "prod").await, None);

    // Reading from a missing bucket is an error, not "no record yet".
    let no_bucket = deny::start(deny::Api::S3NoSuchBucket).await;
    let nowhere = aws::local_clients(
        &no_bucket.url,
        &env.stack.control_endpoint(),
        env.stack.region(),
        missing,
        agentcore_local::credentials(),
    )
    .await;
    let err = records::check_bucket(&nowhere).await.unwrap_err().to_string();
    assert_eq!(err, bucket_fix);
    let elsewhere = deny::start(deny::Api::S3WrongRegion).await;
    let abroad = aws::local_clients(
        &elsewhere.url,
        &env.stack.control_endpoint(),
        env.stack.region(),
        "b",
        agentcore_local::credentials(),
    )
    .await;
    let err = records::check_bucket(&abroad).await.unwrap_err().to_string();
    assert_eq!(
        err,
        "bucket b is in region eu-west-1, not this one; pass --region (or AWS_REGION) to match it, or another bucket with --bucket"
    );
    let err = records::get_json::<VersionRecord>(&nowhere, "x/v1/record.json").await.unwrap_err().to_string();
    assert!(
        err.starts_with("GetObject on s3://no-such-bucket/x/v1/record.json failed: NoSuchBucket:")
            && err.ends_with("; create the bucket, or point at another one with --bucket / AGENTCORE_BUCKET"),
        "{err}"
    );
    let err = records::list_promotions(&nowhere, "x", "prod").await.unwrap_err().to_string();
    assert!(err.contains("NoSuchBucket") && err.contains("--bucket"), "{err}");

    // AccessDenied on the control plane names the action, from the CLI.
    let denied_control = deny::start(deny::Api::Control).await;
    let denied_s3 = deny::start(deny::Api::S3).await;
    let mut command = xtask_command(&env.ctx.root);
    command
        .envs(env.stack.env_exports())
        .env("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL", &denied_control.url)
        .args(["status"]);
    let (ok, _, stderr) = run_async(command).await;
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("error: ListAgentRuntimes on the account's runtimes failed: AccessDeniedException: User: arn:aws:iam::123456789012:user/ci is not authorized to perform this action; allow `bedrock-agentcore:ListAgentRuntimes` for your IAM identity (or pick another one with --profile)"),
        "{stderr}"
    );
    // And on S3: a deploy stops at the bucket check, before anything is created.
    let mut command = xtask_command(&env.ctx.root);
    command.envs(env.stack.env_exports()).env("AWS_ENDPOINT_URL_S3", &denied_s3.url).args([
        "deploy",
        "echo_bot",
        "--pr",
        "22",
        "--package-dir",
        zips_arg.as_str(),
    ]);
    let (ok, stdout, stderr) = run_async(command).await;
    assert!(!ok, "{stderr}");
    assert!(
        stdout.contains(
            "HeadBucket on s3://agentcore-artifacts-123456789012 failed: 403 Forbidden; allow `s3:ListBucket`"
        ),
        "{stdout}"
    );
    assert!(aws::find_runtime(&env.aws, &env.name("echo_bot", Target::Pr(22))).await.unwrap().is_none());
    let refused = aws::local_clients(
        &denied_s3.url,
        &env.stack.control_endpoint(),
        env.stack.region(),
        &env.aws.bucket,
        agentcore_local::credentials(),
    )
    .await;
    let err = records::put_new(&refused, "k/v1/record.json", b"{}".to_vec(), "application/json", None)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "PutObject on s3://agentcore-artifacts-123456789012/k/v1/record.json failed: AccessDenied: Access Denied; allow `s3:PutObject` for your IAM identity (or pick another one with --profile)"
    );
    let err = records::get_json::<VersionRecord>(&refused, "k/v1/record.json").await.unwrap_err().to_string();
    assert!(err.contains("AccessDenied") && err.contains("allow `s3:GetObject`"), "{err}");
    let err = records::list_promotions(&refused, "k", "prod").await.unwrap_err().to_string();
    assert!(err.contains("AccessDenied") && err.contains("allow `s3:ListBucket`"), "{err}");
    env.stack.shutdown().await;
}

/// A deploy that stopped waiting (interrupted, or past its deadline) leaves a version in CREATING;
/// deploying the same code again waits for that version instead of spending another. A promotion
/// that stopped waiting is likewise waited for, and recorded, when run again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_after_an_interrupted_wait_waits_for_the_same_version_or_endpoint_move() {
    let mut env = Env::start(Duration::from_millis(1500)).await;
    let zips = env.zips("interrupted");
    env.aws.wait.timeout = Duration::from_millis(200);
    let err = format!("{:#}", env.deploy_one(Target::Pr(14), &zips, false, false).await.unwrap_err());
    assert!(err.contains("version 1 is still CREATING"), "{err}");
    let planned = env.deploy_one(Target::Pr(14), &zips, false, true).await.unwrap();
    assert_eq!(planned.action, "planned");
    assert!(
        planned.plan.as_ref().unwrap().to_string().starts_with("wait until version 1 of echo_bot_pr_14"),
        "{planned:?}"
    );
    env.aws.wait.timeout = Duration::from_secs(20);
    let again = env.deploy_one(Target::Pr(14), &zips, false, false).await.unwrap();
    assert_eq!(
        (again.action.as_str(), again.version.as_deref(), again.status.as_str()),
        ("up_to_date", Some("1"), "READY")
    );
    assert!(again.default_endpoint.is_some());
    assert_eq!(env.versions(&env.name("echo_bot", Target::Pr(14))).await, ["1"], "no version spent");
    // Other code is not waited for: it makes a new version.
    let other = env.zips("interrupted_other");
    let updated = env.deploy_one(Target::Pr(14), &other, false, false).await.unwrap();
    assert_eq!((updated.action.as_str(), updated.version.as_deref()), ("updated", Some("2")));

    // The same for a promotion: re-running it waits for the move and records it once.
    env.deploy_one(Target::Prod, &zips, false, false).await.unwrap();
    env.deploy_one(Target::Prod, &other, false, false).await.unwrap();
    let request = |version: u32, dry_run: bool| PromoteRequest {
        agent: "echo_bot".into(),
        version,
        endpoint: "prod".into(),
        expect_live: Some(1).filter(|_| version == 2),
        require_newer: true,
        dry_run,
        smoke: None,
    };
    promote(&env.ctx, &env.aws, &request(1, false)).await.unwrap();
    env.aws.wait.timeout = Duration::from_millis(200);
    let err = promote(&env.ctx, &env.aws, &request(2, false)).await.unwrap_err().to_string();
    assert!(err.contains("is still UPDATING (live version 1, wanted 2)"), "{err}");
    let planned = promote(&env.ctx, &env.aws, &request(2, true)).await.unwrap();
    assert_eq!(
        planned.plan.as_ref().map(ToString::to_string).as_deref(),
        Some("wait until endpoint prod of echo_bot_prod, already moving from version 1 to 2, is live")
    );
    env.aws.wait.timeout = Duration::from_secs(20);
    let resumed = promote(&env.ctx, &env.aws, &request(2, false)).await.unwrap();
    assert_eq!(
        (resumed.action.as_str(), resumed.previous_version.as_deref(), resumed.live_version.as_str()),
        ("promoted", Some("1"), "2")
    );
    let name = env.name("echo_bot", Target::Prod);
    let moves: Vec<(Option<String>, String)> = records::list_promotions(&env.aws, &name, "prod")
        .await
        .unwrap()
        .into_iter()
        .map(|record| (record.from_version, record.to_version))
        .collect();
    assert_eq!(moves, [(None, "1".to_owned()), (Some("1".to_owned()), "2".to_owned())]);

    // A record lost after the endpoint moved is written when the promotion is run again.
    let lost = resumed.record_key.unwrap();
    env.aws.s3.delete_object().bucket(&env.aws.bucket).key(&lost).send().await.unwrap();
    let again = promote(&env.ctx, &env.aws, &request(2, false)).await.unwrap();
    assert_eq!(again.action, "already_live");
    assert!(again.record_key.as_deref().is_some_and(|key| key != lost), "{again:?}");
    let history = records::list_promotions(&env.aws, &name, "prod").await.unwrap();
    let last = history.last().unwrap();
    assert_eq!((history.len(), last.from_version.as_deref(), last.to_version.as_str()), (2, Some("1"), "2"));
    let repeat = promote(&env.ctx, &env.aws, &request(2, false)).await.unwrap();
    assert_eq!((repeat.action.as_str(), repeat.record_key), ("already_live", None), "recorded once");
    env.stack.shutdown().await;
}

/// A missing zip or a zero timeout is refused before any call, with the fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_deploy_input_is_refused_before_any_call() {
    let env = Env::start(Duration::from_millis(50)).await;
    let zips = env.zips("partial");
    std::fs::remove_file(zips.join("weather_report_bot.zip")).unwrap();
    let zips_arg = zips.to_str().unwrap().to_owned();
    let mut command = xtask_command(&env.ctx.root);
    command.envs(env.stack.env_exports()).args(["deploy", "--all", "--pr", "15", "--package-dir", &zips_arg]);
    let (ok, _, stderr) = run_async(command).await;
    assert!(!ok, "{stderr}");
    let expected = format!(
        "error: no zip for agent weather_report_bot in {zips_arg}: build it with `cargo xtask package weather_report_bot --out {zips_arg}`, or leave out --package-dir to package now\n"
    );
    assert_eq!(stderr, expected);
    assert!(aws::list_runtimes(&env.aws).await.unwrap().is_empty(), "echo_bot was not deployed either");
    assert!(env.bucket_keys().await.is_empty());
    for command_line in [
        &["deploy", "echo_bot", "--pr", "15", "--timeout", "0"][..],
        &["promote", "echo_bot", "--version", "1", "--timeout", "0"],
        &["rollback", "echo_bot", "--timeout", "0"],
        &["cleanup", "--pr", "15", "--yes", "--timeout", "0"],
        &["promote", "echo_bot", "--version", "1", "--expect-live", "0"],
    ] {
        let output = xtask_command(&env.ctx.root).envs(env.stack.env_exports()).args(command_line).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{command_line:?}: {stderr}");
        assert!(stderr.contains("invalid value '0' for '--"), "{stderr}");
    }
    let mut command = xtask_command(&env.ctx.root);
    command.envs(env.stack.env_exports()).args(["cleanup", "echo_bot_pr_15", "echo_bot_pr_15", "--yes"]);
    let (ok, _, stderr) = run_async(command).await;
    assert!(!ok && stderr.contains("runtime `echo_bot_pr_15` is listed twice"), "{stderr}");
    env.stack.shutdown().await;
}
