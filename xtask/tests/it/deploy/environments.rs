//! Environments on the local stack: the release fixture's agents taken from a pull request to
//! staging and on to prod, each environment with its own bucket (and prod in another region, which
//! the local stack does not emulate), the very same zip in each, and records that link them.

use std::path::{Path, PathBuf};

use agentcore_local::{LocalConfig, LocalStack};
use sha2::{Digest, Sha256};
use xtask::records::{self, VersionRecord};

use super::fixture_zip;
use crate::support::{PROD_BUCKET, PROD_DEPLOY_ROLE, STAGING_BUCKET, environments_workspace, run, xtask_command};

/// The binary on `root` with `--local` on the state in `state`.
fn local(root: &Path, state: &Path, args: &[&str]) -> (bool, String, String) {
    let mut command = xtask_command(root);
    command.args(args).arg("--local").arg("--local-dir").arg(state).env("AGENTCORE_LOCAL_TRANSITION_MS", "50");
    run(&mut command)
}

fn ok(result: (bool, String, String)) -> String {
    let (ok, stdout, stderr) = result;
    assert!(ok, "stdout:\n{stdout}\nstderr:\n{stderr}");
    stdout
}

struct World {
    root: PathBuf,
    state: PathBuf,
    _temp: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("workspace");
        environments_workspace(&root);
        let state = temp.path().join("state");
        World { root, state, _temp: temp }
    }

    fn run(&self, args: &[&str]) -> (bool, String, String) {
        local(&self.root, &self.state, args)
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut args = args.to_vec();
        args.push("--json");
        serde_json::from_str(&ok(self.run(&args))).unwrap()
    }

    /// A stack on the same state, to look into S3 as the commands left it.
    async fn stack(&self) -> LocalStack {
        let mut config = LocalConfig::new(&self.state);
        config.region = "us-east-1".into();
        LocalStack::start(config).await.unwrap()
    }
}

async fn object(stack: &LocalStack, bucket: &str, key: &str) -> Option<Vec<u8>> {
    match stack.s3_client().get_object().bucket(bucket).key(key).send().await {
        Ok(output) => Some(output.body.collect().await.unwrap().into_bytes().to_vec()),
        Err(_) => None,
    }
}

async fn record(stack: &LocalStack, bucket: &str, runtime: &str, version: &str) -> VersionRecord {
    let bytes = object(stack, bucket, &records::record_key(runtime, version))
        .await
        .unwrap_or_else(|| panic!("no record of {runtime} v{version} in {bucket}"));
    serde_json::from_slice(&bytes).unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A pull request's zip goes to staging, live there, then on to prod: the same bytes in three
/// runtimes and two buckets, each record naming the version it came from; a zip changed in S3
/// after its version was made is refused before anything changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_bytes_go_from_a_pull_request_through_staging_to_prod() {
    let world = World::new();
    let zips = world.root.join("zips");
    std::fs::create_dir_all(&zips).unwrap();
    fixture_zip(&zips.join("echo_bot.zip"), "environments");
    let packaged = std::fs::read(zips.join("echo_bot.zip")).unwrap();
    let digest = sha256(&packaged);

    // Unknown environments are refused with the known ones, before any call.
    let (ok_, _, stderr) = world.run(&["deploy", "echo_bot", "--env", "qa", "--from-pr", "7"]);
    assert!(!ok_ && stderr.contains("there is no environment `qa`; the known ones are prod, staging"), "{stderr}");
    let (ok_, _, stderr) = world.run(&["status", "--env", "qa"]);
    assert!(!ok_ && stderr.contains("the known ones are prod, staging"), "{stderr}");

    // PR 7's preview, in the workspace's bucket.
    let report = world.json(&["deploy", "echo_bot", "--pr", "7", "--package-dir", zips.to_str().unwrap()]);
    assert_eq!(report["results"][0]["outcome"]["runtime_name"], "echo_bot_pr_7");

    // Staging takes the exact zip PR 7's latest version runs.
    let report = world.json(&["deploy", "echo_bot", "--env", "staging", "--from-pr", "7"]);
    let staged = &report["results"][0]["outcome"];
    assert_eq!(staged["runtime_name"], "echo_bot_staging", "{report}");
    assert_eq!((staged["action"].as_str(), staged["version"].as_str()), (Some("created"), Some("1")));
    assert_eq!(staged["zip_sha256"], digest.as_str());
    assert_eq!(staged["source"]["pr"], 7);
    assert_eq!(staged["source"]["runtime_name"], "echo_bot_pr_7");
    // Nothing is live on staging yet: --from-env takes the live version by default.
    let (ok_, stdout, _) = world.run(&["deploy", "echo_bot", "--env", "prod", "--from-env", "staging"]);
    assert!(!ok_ && stdout.contains("endpoint live of echo_bot_staging serves no version"), "{stdout}");
    assert!(stdout.contains("pass --version N"), "{stdout}");
    let promoted = world.json(&["promote", "echo_bot", "--env", "staging", "--version", "1", "--no-smoke"]);
    assert_eq!(promoted["results"][0]["outcome"]["endpoint"], "live", "{promoted}");
    assert_eq!(promoted["results"][0]["outcome"]["action"], "promoted", "{promoted}");

    // Prod takes the zip live on staging, into its own bucket.
    let report = world.json(&["deploy", "echo_bot", "--prod", "--from-env", "staging"]);
    let released = &report["results"][0]["outcome"];
    assert_eq!(released["runtime_name"], "echo_bot_prod", "{report}");
    assert_eq!(released["version"], "1");
    assert_eq!(released["s3_key"], "echo_bot_prod/v1/code.zip");
    assert_eq!(released["zip_sha256"], digest.as_str());
    assert_eq!(released["source"]["env"], "staging");
    assert_eq!(released["source"]["bucket"], STAGING_BUCKET);
    // Again: the same bytes are up to date, no new version.
    let again = world.json(&["deploy", "echo_bot", "--env", "prod", "--from-env", "staging", "--version", "1"]);
    assert_eq!(again["results"][0]["outcome"]["action"], "up_to_date", "{again}");

    let stack = world.stack().await;
    let pr = record(&stack, "agentcore-artifacts-123456789012", "echo_bot_pr_7", "1").await;
    let staging = record(&stack, STAGING_BUCKET, "echo_bot_staging", "1").await;
    let prod = record(&stack, PROD_BUCKET, "echo_bot_prod", "1").await;
    assert_eq!((pr.env.as_deref(), pr.pr), (None, Some(7)));
    assert_eq!(staging.env.as_deref(), Some("staging"));
    assert_eq!(prod.env.as_deref(), Some("prod"));
    for record in [&pr, &staging, &prod] {
        assert_eq!(record.zip_sha256, digest, "{record:?}");
    }
    let from_pr = staging.source.clone().expect("staging names its source");
    assert_eq!((from_pr.pr, from_pr.env.as_deref()), (Some(7), None));
    assert_eq!((from_pr.runtime_id.as_str(), from_pr.version.as_str()), (pr.runtime_id.as_str(), "1"));
    assert_eq!(from_pr.code_key, pr.code_key);
    let from_staging = prod.source.clone().expect("prod names its source");
    assert_eq!(from_staging.env.as_deref(), Some("staging"));
    assert_eq!((from_staging.runtime_id.as_str(), from_staging.version.as_str()), (staging.runtime_id.as_str(), "1"));
    assert_eq!((from_staging.bucket.as_str(), from_staging.zip_sha256.as_str()), (STAGING_BUCKET, digest.as_str()));
    // The bytes themselves, in each bucket under each runtime's own layout.
    for (bucket, key) in [
        ("agentcore-artifacts-123456789012", "echo_bot_pr_7/v1/code.zip"),
        (STAGING_BUCKET, "echo_bot_staging/v1/code.zip"),
        (PROD_BUCKET, "echo_bot_prod/v1/code.zip"),
    ] {
        assert_eq!(object(&stack, bucket, key).await.as_deref(), Some(packaged.as_slice()), "{bucket}/{key}");
    }
    // The prod runtime runs from prod's bucket, with prod's role.
    let raw = object(&stack, PROD_BUCKET, "echo_bot_prod/v1/record.json").await.unwrap();
    let raw: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(raw["config"]["bucket"], PROD_BUCKET);
    assert_eq!(raw["config"]["role_arn"], "arn:aws:iam::210987654321:role/AgentCoreRuntimeRole");
    assert_eq!(prod.code_key, "echo_bot_prod/v1/code.zip");

    // Staging's zip changed after its version was made: prod refuses it, before any change.
    stack
        .s3_client()
        .put_object()
        .bucket(STAGING_BUCKET)
        .key("echo_bot_staging/v1/code.zip")
        .body(b"not the zip that ran".to_vec().into())
        .send()
        .await
        .unwrap();
    let (ok_, stdout, stderr) = world.run(&["deploy", "echo_bot", "--prod", "--from-env", "staging", "--force"]);
    assert!(!ok_, "{stdout}\n{stderr}");
    assert!(stdout.contains("refusing the zip of staging's echo_bot_staging version 1"), "{stdout}");
    assert!(stdout.contains(&format!("but its deploy record states {digest}")), "{stdout}");
    let status = world.json(&["status", "--env", "prod"]);
    let runtimes = status["runtimes"].as_array().unwrap();
    let prod_runtime = runtimes.iter().find(|runtime| runtime["runtime_name"] == "echo_bot_prod").unwrap();
    assert_eq!(prod_runtime["latest_version"], "1", "no version was made: {status}");
    assert!(object(&stack, PROD_BUCKET, "echo_bot_prod/v2/code.zip").await.is_none());

    // status --env shows that environment's runtime under its name; the default shows the rest.
    let status = world.json(&["status", "--env", "staging"]);
    let staging_runtime =
        status["runtimes"].as_array().unwrap().iter().find(|r| r["runtime_name"] == "echo_bot_staging");
    assert_eq!(staging_runtime.unwrap()["target"], "staging", "{status}");
    let status = world.json(&["status"]);
    let targets: Vec<&str> =
        status["runtimes"].as_array().unwrap().iter().map(|r| r["target"].as_str().unwrap()).collect();
    assert_eq!(targets, ["pr_7", "prod", "staging"], "{status}");
    stack.shutdown().await;

    // Taking an environment's zip into itself, and a version with neither --from-env nor --from-pr.
    let (ok_, _, stderr) = world.run(&["deploy", "echo_bot", "--env", "staging", "--from-env", "staging"]);
    assert!(!ok_ && stderr.contains("names the environment deployed to"), "{stderr}");
    let (ok_, _, stderr) = world.run(&["deploy", "echo_bot", "--prod", "--version", "1"]);
    assert!(!ok_ && stderr.contains("--from-env"), "{stderr}");
    // An environment's runtime is deleted only through its --env, and with --force-prod.
    let (ok_, _, stderr) = world.run(&["cleanup", "echo_bot_staging", "--yes"]);
    assert!(!ok_ && stderr.contains("pass --env staging"), "{stderr}");
    let (ok_, _, stderr) = world.run(&["cleanup", "echo_bot_staging", "--env", "staging", "--yes"]);
    assert!(!ok_ && stderr.contains("is the long-lived staging runtime; pass --force-prod"), "{stderr}");
    // Rollback and invoke know the environment too.
    let (ok_, stdout, _) = world.run(&["rollback", "echo_bot", "--env", "staging", "--dry-run"]);
    assert!(!ok_ && stdout.contains("which version live served before version 1"), "{stdout}");
    let (ok_, _, stderr) = world.run(&["invoke", "weather_report_bot", "--env", "staging"]);
    assert!(!ok_, "{stderr}");
    assert!(
        stderr.contains("there is no runtime weather_report_bot_staging: deploy it with `cargo xtask deploy weather_report_bot --env staging --local`"),
        "{stderr}"
    );
    let (ok_, _, stderr) = world.run(&["invoke", "echo_bot", "--env", "staging", "--endpoint", "canary"]);
    assert!(!ok_, "{stderr}");
    assert!(
        stderr.contains("`cargo xtask promote echo_bot --env staging --version N --endpoint canary --local`"),
        "{stderr}"
    );
}

/// An environment with a role to assume gets its credentials from STS before any call; a role that
/// cannot be assumed stops the command there, naming the role and the fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_environment_assumes_its_role_before_any_call() {
    let world = World::new();
    let denied = super::deny::start(super::deny::Api::S3).await;
    let mut command = xtask_command(&world.root);
    command
        .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        .args(["status", "--env", "prod", "--endpoint-url", &denied.url]);
    let (ok_, _, stderr) = crate::support::run_async(command).await;
    assert!(!ok_, "{stderr}");
    assert!(stderr.contains(&format!("error: cannot assume role {PROD_DEPLOY_ROLE}: ")), "{stderr}");
    assert!(stderr.contains("allow `sts:AssumeRole` on it"), "{stderr}");
    // Staging assumes nothing: its calls go out with the credentials found (and are refused there).
    let mut command = xtask_command(&world.root);
    command
        .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        .args(["status", "--env", "staging", "--endpoint-url", &denied.url]);
    let (ok_, _, stderr) = crate::support::run_async(command).await;
    assert!(!ok_ && !stderr.contains("assume role"), "{stderr}");
    assert!(stderr.contains("ListAgentRuntimes"), "{stderr}");
}

/// `local up` makes every environment's bucket, so that commands pointed at it by its exports
/// (not through `--local`) find each one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_up_makes_every_environments_bucket() {
    use std::io::BufRead;
    let world = World::new();
    let mut child = xtask_command(&world.root)
        .args(["local", "up", "--dir"])
        .arg(&world.state)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    /// Stops `local up` when the test ends, whether it passes or panics.
    struct Running(std::process::Child);
    impl Drop for Running {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _running = Running(child);
    let exports: Vec<(String, String)> = tokio::task::spawn_blocking(move || {
        stdout
            .lines()
            .map_while(Result::ok)
            .take(8)
            .filter_map(|line| {
                let (name, value) = line.strip_prefix("export ")?.split_once('=')?;
                Some((name.to_owned(), value.to_owned()))
            })
            .collect()
    })
    .await
    .unwrap();
    let endpoint = exports.iter().find(|(name, _)| name == "AWS_ENDPOINT_URL_S3").map(|(_, value)| value.clone());
    let s3 = xtask::aws::local_clients(
        &endpoint.expect("local up printed its S3 endpoint"),
        "http://127.0.0.1:9",
        "us-east-1",
        "unused",
        agentcore_local::credentials(),
    )
    .await
    .s3;
    for bucket in ["agentcore-artifacts-123456789012", STAGING_BUCKET, PROD_BUCKET] {
        let found = s3.head_bucket().bucket(bucket).send().await;
        assert!(found.is_ok(), "{bucket}: {found:?}");
    }
}

/// The local stack serves one account in one region: an environment in another region or account
/// is served by it all the same (its region and role ignored), which is fine while its runtimes
/// have names of their own; two environments that name their runtimes alike and differ only by
/// region or account would share runtimes there, so a command of either is refused locally, before
/// any change, naming both and the fix.
#[test]
fn environments_that_differ_only_by_region_are_refused_locally() {
    let world = World::new();
    let manifest = world.root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        format!("{text}\n[workspace.metadata.agentcore.environments.prod_eu]\nregion = \"eu-central-1\"\ntarget = \"prod\"\n"),
    )
    .unwrap();
    for args in
        [&["status", "--env", "prod_eu"][..], &["status", "--env", "prod"], &["prune", "--all", "--prod", "--dry-run"]]
    {
        let (ok_, stdout, stderr) = world.run(args);
        assert!(!ok_, "{args:?}: {stdout}");
        let names = ["environments prod and prod_eu", "environments prod_eu and prod"];
        assert!(names.iter().any(|named| stderr.contains(named)), "{args:?}: {stderr}");
        assert!(
            stderr.contains("the local stack does not emulate (it serves one account in one region)")
                && stderr.contains("give one of them another `target`"),
            "{args:?}: {stderr}"
        );
    }
    assert!(!world.state.exists(), "refused before the stack started");
    // Staging names its runtimes its own way: it works locally, prod_eu or not.
    ok(world.run(&["status", "--env", "staging"]));
}
