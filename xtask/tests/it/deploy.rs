//! Release commands (deploy, promote, rollback, cleanup, status) against the in-process local stack.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_bedrockagentcorecontrol::types::AgentRuntimeArtifact;
use sha2::{Digest, Sha256};
use xtask::agents::Agent;
use xtask::aws::{self, AwsClients, WaitPolicy};
use xtask::cli::Ctx;
use xtask::deploy::{DeployOptions, DeployOutcome, Report, deploy_agents_with};
use xtask::local::{LocalConfig, LocalStack};
use xtask::naming::Target;
use xtask::promote::{PromoteRequest, promote, rollback};
use xtask::records::{self, PromotionRecord, VersionRecord};

/// A local stack in a temp dir, a context on the real workspace, and clients for the stack.
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
        let root = xtask::settings::workspace_root();
        let settings = xtask::settings::Settings::from_workspace(&root).unwrap();
        let stack = LocalStack::start(LocalConfig {
            dir: temp.path().join("stack"),
            s3_port: 0,
            control_port: 0,
            transition_delay: transition,
            region: settings.region.clone(),
        })
        .await
        .unwrap();
        stack.ensure_bucket(&settings.bucket).await.unwrap();
        let mut aws =
            aws::local_clients(&stack.s3_endpoint(), &stack.control_endpoint(), stack.region(), &settings.bucket).await;
        // Short deadlines: every wait in these tests is over in well under a second.
        aws.wait = WaitPolicy { timeout: Duration::from_secs(20), ..WaitPolicy::default() };
        let agents = xtask::agents::discover(&root, &settings).unwrap();
        let ctx = Ctx { root, settings, aws: Default::default(), json: false };
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

fn fixture_zip(path: &Path, text: &str) {
    let mut writer = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    writer.start_file("main.py", zip::write::SimpleFileOptions::default()).unwrap();
    writer.write_all(format!("# {text}\nprint('hello')\n").as_bytes()).unwrap();
    writer.finish().unwrap();
}

/// Redactions for ids, ARNs' accounts, hashes, commits and times.
fn insta_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    // Same-length replacements keep the human tables aligned.
    settings.add_filter(r"\b([a-zA-Z][a-zA-Z0-9_]*)-[a-zA-Z0-9]{10}\b", "$1-XXXXXXXXXX");
    settings.add_filter(r"\b[0-9a-f]{64}\b", "[SHA256]");
    settings.add_filter(r"\b[0-9a-f]{40}\b", "[COMMIT]");
    settings.add_filter(r"\d{8}T\d{9}Z", "[TIME]");
    settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]");
    settings.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap()
}

/// The seed walkthrough: two agents through a PR, two merges, promotions, a rollback and cleanup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walkthrough_pr_merge_promote_rollback_cleanup() {
    let env = Env::start(Duration::from_millis(80)).await;
    let [dad, quotes] = [env.agents[0].name.clone(), env.agents[1].name.clone()];
    assert_eq!((dad.as_str(), quotes.as_str()), ("dad_joke_bot", "motivational_quotes_bot"));
    let pr = Target::Pr(1);
    let (dad_pr, quotes_pr) = (env.name(&dad, pr), env.name(&quotes, pr));
    let (dad_prod, quotes_prod) = (env.name(&dad, Target::Prod), env.name(&quotes, Target::Prod));

    // PR 1 opened: both agents get a runtime at version 1.
    let first = env.zips("first");
    let report = env.deploy(pr, &first, false).await;
    assert_eq!(report.failed, 0, "{report}");
    for outcome in report.results.iter().map(|entry| entry.outcome.as_ref().unwrap()) {
        assert_eq!((outcome.action.as_str(), outcome.version.as_deref()), ("created", Some("1")));
        assert_eq!(outcome.status, "READY");
        assert!(outcome.default_endpoint.as_deref().unwrap().ends_with("/runtime-endpoint/DEFAULT"));
    }
    insta_settings().bind(|| {
        insta::assert_snapshot!("deploy_pr_created_human", report.to_string());
        insta::assert_snapshot!("deploy_pr_created_json", json(&report));
    });
    env.assert_version(&dad_pr, "1", &first, &dad).await;
    env.assert_version(&quotes_pr, "1", &first, &quotes).await;
    assert_eq!(env.record(&dad_pr, "1").await.pr, Some(1));

    // The same code again makes no version: versions are a quota.
    let again = env.deploy(pr, &first, false).await;
    assert_eq!(again.failed, 0, "{again}");
    assert!(again.results.iter().all(|entry| entry.outcome.as_ref().unwrap().action == "up_to_date"), "{again}");
    insta_settings().bind(|| insta::assert_snapshot!("deploy_pr_up_to_date_human", again.to_string()));
    assert_eq!(env.versions(&dad_pr).await, ["1"]);

    // A push to the PR: version 2, DEFAULT follows it.
    let second = env.zips("second");
    let report = env.deploy(pr, &second, false).await;
    assert_eq!(report.failed, 0, "{report}");
    assert!(report.results.iter().all(|entry| entry.outcome.as_ref().unwrap().action == "updated"));
    env.assert_version(&dad_pr, "2", &second, &dad).await;
    env.assert_version(&quotes_pr, "2", &second, &quotes).await;
    assert_eq!(env.versions(&quotes_pr).await, ["1", "2"]);
    assert_eq!(env.endpoint_live(&dad_pr, "DEFAULT").await.as_deref(), Some("2"));
    assert!(env.object("dad_joke_bot_pr_1/v1/code.zip").await.is_some(), "v1's zip is never overwritten");

    // Merge: prod gets version 1, not live until promoted.
    let report = env.deploy(Target::Prod, &second, false).await;
    assert_eq!(report.failed, 0, "{report}");
    env.assert_version(&dad_prod, "1", &second, &dad).await;
    assert_eq!(env.endpoint_live(&dad_prod, "prod").await, None);

    let request = |agent: &str, version: u32, expect_live: Option<u32>| PromoteRequest {
        agent: agent.to_owned(),
        version,
        endpoint: "prod".to_owned(),
        expect_live,
        require_newer: true,
        dry_run: false,
    };
    for agent in [&dad, &quotes] {
        let outcome = promote(&env.ctx, &env.aws, &request(agent, 1, None)).await.unwrap();
        assert_eq!((outcome.action.as_str(), outcome.live_version.as_str()), ("promoted", "1"));
        assert_eq!(outcome.previous_version, None);
    }
    assert_eq!(env.endpoint_live(&dad_prod, "prod").await.as_deref(), Some("1"));
    assert_eq!(env.endpoint_live(&quotes_prod, "prod").await.as_deref(), Some("1"));
    // Promoting again is a no-op that succeeds.
    let repeat = promote(&env.ctx, &env.aws, &request(&dad, 1, Some(1))).await.unwrap();
    assert_eq!(repeat.action, "already_live");

    // A second merge: prod version 2; the prod endpoint stays on 1 until promoted.
    let third = env.zips("third");
    let report = env.deploy(Target::Prod, &third, false).await;
    assert_eq!(report.failed, 0, "{report}");
    env.assert_version(&dad_prod, "2", &third, &dad).await;
    assert_eq!(env.endpoint_live(&dad_prod, "prod").await.as_deref(), Some("1"));
    assert_eq!(env.endpoint_live(&dad_prod, "DEFAULT").await.as_deref(), Some("2"));

    // Compare and set: a stale expectation is refused and changes nothing.
    let stale = promote(&env.ctx, &env.aws, &request(&dad, 2, Some(2))).await.unwrap_err().to_string();
    assert!(stale.contains("serves version 1, not 2 (--expect-live)"), "{stale}");
    let promoted = promote(&env.ctx, &env.aws, &request(&dad, 2, Some(1))).await.unwrap();
    assert_eq!((promoted.previous_version.as_deref(), promoted.live_version.as_str()), (Some("1"), "2"));
    insta_settings().bind(|| insta::assert_snapshot!("promote_v2_json", json(&promoted)));
    assert_eq!(env.endpoint_live(&dad_prod, "prod").await.as_deref(), Some("2"));
    // require_newer: an old approval replayed cannot move prod back.
    let replay = promote(&env.ctx, &env.aws, &request(&dad, 1, None)).await.unwrap_err().to_string();
    assert!(replay.contains("refusing to move it back"), "{replay}");

    // Roll back: to the version served before, from the promotion records.
    let back = rollback(&env.ctx, &env.aws, &dad, "prod", None, false).await.unwrap();
    assert_eq!(
        (back.action.as_str(), back.previous_version.as_deref(), back.live_version.as_str()),
        ("rolled_back", Some("2"), "1")
    );
    assert_eq!(env.endpoint_live(&dad_prod, "prod").await.as_deref(), Some("1"));
    let history = records::list_promotions(&env.aws, &dad_prod, "prod").await.unwrap();
    let moves: Vec<(Option<&str>, &str, &str)> = history
        .iter()
        .map(|r: &PromotionRecord| (r.from_version.as_deref(), r.to_version.as_str(), r.kind.as_str()))
        .collect();
    assert_eq!(moves, [(None, "1", "promote"), (Some("1"), "2", "promote"), (Some("2"), "1", "rollback")]);

    // Status shows what each endpoint points at.
    let status = xtask::status::status(&env.ctx, &env.aws, None).await.unwrap();
    let prod_row = status.runtimes.iter().find(|runtime| runtime.runtime_name == dad_prod).unwrap();
    assert_eq!(prod_row.versions_used, 2);
    let prod_endpoint = prod_row.endpoints.iter().find(|endpoint| endpoint.name == "prod").unwrap();
    assert_eq!(prod_endpoint.live_version.as_deref(), Some("1"));
    assert_eq!(status.runtimes_used, 4);
    insta_settings().bind(|| insta::assert_snapshot!("status_human", status.to_string()));

    // PR closed: its runtimes go, prod stays, S3 keeps every zip and record.
    let all: Vec<String> =
        aws::list_runtimes(&env.aws).await.unwrap().iter().map(|r| r.agent_runtime_name().to_owned()).collect();
    let doomed = aws::pr_runtimes(&env.ctx.settings.scheme(), &all, 1);
    assert_eq!(doomed, [dad_pr.clone(), quotes_pr.clone()]);
    let results = xtask::cleanup::cleanup_runtimes(&env.ctx, &env.aws, &doomed, false).await;
    let report = Report::new("cleanup", doomed.iter().cloned(), results);
    assert_eq!(report.failed, 0, "{report}");
    insta_settings().bind(|| insta::assert_snapshot!("cleanup_pr_human", report.to_string()));
    let left: Vec<String> =
        aws::list_runtimes(&env.aws).await.unwrap().iter().map(|r| r.agent_runtime_name().to_owned()).collect();
    assert_eq!(left.len(), 2);
    assert!(left.contains(&dad_prod) && left.contains(&quotes_prod));
    assert!(env.object(&records::record_key(&dad_pr, "2")).await.is_some());
    assert!(env.object(&records::code_key(&dad_pr, 2)).await.is_some());
    // Cleaning again converges: already gone.
    let again = xtask::cleanup::cleanup_runtimes(&env.ctx, &env.aws, &doomed, false).await;
    assert!(again.iter().all(|result| result.as_ref().unwrap().action == "already_gone"));
    env.stack.shutdown().await;
}
