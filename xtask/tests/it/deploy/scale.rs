//! Many agents in an account of many runtimes: every command lists the runtimes once, however many
//! agents it works on, and the GitHub matrix and PR comment hold 50 agents. The agents are a
//! generated workspace (`bench scale`'s), never the repository's own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use agentcore_local::{LocalConfig, LocalStack, RequestCounts};
use xtask::aws::{self, AwsClients, WaitPolicy};
use xtask::deploy::{DeployOptions, deploy_agents_with};
use xtask::naming::Target;

use super::{fixture_zip, github_outputs};
use crate::support::{Ctx, ctx, run_async, xtask_command};

/// A generated workspace of agents, and a stack that already holds other runtimes.
struct Scale {
    temp: tempfile::TempDir,
    root: PathBuf,
    stack: LocalStack,
    ctx: Ctx,
    names: Vec<String>,
}

impl Scale {
    async fn start(agents: usize, preloaded: Vec<String>) -> Scale {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("workspace");
        let names = xtask::bench::scale::write_workspace(&root, agents).unwrap();
        let ctx = ctx(&root, Default::default());
        let stack = LocalStack::start(LocalConfig {
            transition_delay: Duration::from_millis(50),
            region: ctx.settings.region.clone(),
            ..LocalConfig::new(temp.path().join("stack"))
        })
        .await
        .unwrap();
        stack.ensure_bucket(&ctx.settings.bucket).await.unwrap();
        stack.preload_runtimes(preloaded).await.unwrap();
        Scale { temp, root, stack, ctx, names }
    }

    /// A command of the real binary on the workspace, against the stack (and with `env`): its
    /// stdout and the control-plane requests it made.
    async fn cli(&self, args: &[&str], env: &[(&str, &Path)]) -> (String, RequestCounts) {
        let mut command = xtask_command(&self.root);
        command.envs(self.stack.env_exports()).envs(env.iter().copied()).args(args);
        let before = self.stack.control_requests();
        let (ok, stdout, stderr) = run_async(command).await;
        assert!(ok, "cargo xtask {}: {stderr}", args.join(" "));
        (stdout, self.stack.control_requests().since(&before))
    }

    async fn clients(&self) -> AwsClients {
        let (stack, bucket) = (&self.stack, &self.ctx.settings.bucket);
        let mut aws = aws::local_clients(
            &stack.s3_endpoint(),
            &stack.control_endpoint(),
            stack.region(),
            bucket,
            agentcore_local::credentials(),
        )
        .await;
        aws.wait = WaitPolicy { timeout: Duration::from_secs(20), ..WaitPolicy::default() };
        aws
    }
}

/// Pages of one listing of `runtimes`, 100 a page.
fn pages(runtimes: usize) -> u64 {
    runtimes.div_ceil(100) as u64
}

fn others(count: usize) -> Vec<String> {
    (0..count).map(|index| format!("other_team_runtime_{index:04}")).collect()
}

fn counts(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
    pairs.iter().map(|(operation, count)| (operation.to_string(), *count)).collect()
}

fn by_operation(requests: &RequestCounts) -> Vec<(String, u64)> {
    requests.iter().map(|(operation, count)| (operation.to_owned(), count)).collect()
}

/// 250 runtimes of another team and two of a closed pull request: three pages. Each command lists
/// them once (three ListAgentRuntimes), not once per agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_command_lists_the_runtimes_once_whatever_the_number_of_agents() {
    let mut preloaded = others(250);
    preloaded.extend(["scale_agent_000_pr_9".to_owned(), "scale_agent_001_pr_9".to_owned()]);
    let scale = Scale::start(6, preloaded).await;
    let agents = scale.names.len() as u64;
    let in_account = 252 + scale.names.len();
    assert_eq!(pages(in_account), 3);

    let (stdout, requests) = scale.cli(&["deploy", "--all", "--pr", "1", "--json"], &[]).await;
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["failed"], 0, "{stdout}");
    assert_eq!(requests.get("ListAgentRuntimes"), pages(252), "one listing before any create: {requests:?}");
    assert_eq!(requests.get("CreateAgentRuntime"), agents);

    // Up to date: per agent its latest version, its DEFAULT endpoint and its tags, plus the one listing.
    let (stdout, requests) = scale.cli(&["deploy", "--all", "--pr", "1", "--json"], &[]).await;
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let results = report["results"].as_array().unwrap();
    assert!(results.iter().all(|entry| entry["outcome"]["action"] == "up_to_date"), "{stdout}");
    assert_eq!(
        by_operation(&requests),
        counts(&[
            ("GetAgentRuntime", agents),
            ("GetAgentRuntimeEndpoint", agents),
            ("ListAgentRuntimes", 3),
            ("ListTagsForResource", agents)
        ])
    );

    let (stdout, requests) = scale.cli(&["status", "--json"], &[]).await;
    let status: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(status["runtimes_used"], in_account);
    assert_eq!(
        by_operation(&requests),
        counts(&[
            ("GetAgentRuntime", agents + 2),
            ("ListAgentRuntimeEndpoints", agents + 2),
            ("ListAgentRuntimeVersions", agents + 2),
            ("ListAgentRuntimes", 3)
        ])
    );

    // The sweep deletes PR 9's two runtimes: still the one listing, not one more per runtime.
    let inputs = scale.temp.path();
    std::fs::write(inputs.join("pulls.json"), r#"[{"number": 1}]"#).unwrap();
    std::fs::write(inputs.join("issues.json"), "[]").unwrap();
    let event = crate::github::events_dir().join("schedule.json");
    let (pulls, issues) = (inputs.join("pulls.json"), inputs.join("issues.json"));
    let (event, pulls, issues) = (event.to_str().unwrap(), pulls.to_str().unwrap(), issues.to_str().unwrap());
    let args = ["github", "gc", "--event", event, "--open-pulls", pulls, "--open-issues", issues, "--json"];
    let (stdout, requests) = scale.cli(&args, &[]).await;
    let gc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(gc["deleted"], serde_json::json!(["scale_agent_000_pr_9", "scale_agent_001_pr_9"]));
    assert_eq!(requests.get("ListAgentRuntimes"), 3, "{requests:?}");
    assert_eq!(requests.get("DeleteAgentRuntime"), 2);

    let (_, requests) = scale.cli(&["cleanup", "--pr", "1", "--yes"], &[]).await;
    assert_eq!(requests.get("ListAgentRuntimes"), 3, "{requests:?}");
    assert_eq!(requests.get("DeleteAgentRuntime"), agents);
    scale.stack.shutdown().await;
}

/// Within one run the index follows what the run did: a runtime it created is found without
/// listing again, one it deleted is not found again, and one another process created after the
/// listing (a create answering 409) is looked up for real and updated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runs_listing_follows_its_own_creates_and_deletes_and_looks_again_on_a_conflict() {
    let scale = Scale::start(3, others(120)).await;
    let zips = scale.temp.path().join("zips");
    std::fs::create_dir_all(&zips).unwrap();
    for name in &scale.names {
        fixture_zip(&zips.join(format!("{name}.zip")), name);
    }
    let agents = xtask::agents::discover(&scale.root, &scale.ctx.settings).unwrap();
    let options = DeployOptions { force: false, dry_run: false, package_dir: Some(zips.clone()) };
    let aws = scale.clients().await;
    let runtime = |index: usize| scale.ctx.settings.scheme().runtime_name(&scale.names[index], Target::Pr(4)).unwrap();

    // Another process creates agent 2's runtime after this run listed.
    let before = scale.stack.control_requests();
    assert!(aws::index::runtime(&aws, &runtime(2)).await.unwrap().is_none());
    let other = aws.new_run();
    let made = deploy_agents_with(&scale.ctx, &other, &agents[2..], Target::Pr(4), &options).await;
    assert_eq!(made[0].as_ref().unwrap().action, "created");

    let results = deploy_agents_with(&scale.ctx, &aws, &agents, Target::Pr(4), &options).await;
    let actions: Vec<&str> = results.iter().map(|result| result.as_ref().unwrap().action.as_str()).collect();
    assert_eq!(actions, ["created", "created", "updated"], "the conflict converged on the other's runtime");
    let requests = scale.stack.control_requests().since(&before);
    // This run's listing, the other run's, and the one look after the 409 (two pages each).
    assert_eq!(requests.get("ListAgentRuntimes"), 6, "{requests:?}");

    // What this run created is found without listing again.
    let before = scale.stack.control_requests();
    for (index, result) in results.iter().enumerate() {
        let found = aws::index::runtime(&aws, &runtime(index)).await.unwrap().expect("known to the run");
        assert_eq!(Some(found.id), result.as_ref().unwrap().runtime_id);
    }
    let report = xtask::status::status(&scale.ctx.settings, &aws, None).await.unwrap();
    assert_eq!(report.runtimes.len(), 3);
    assert_eq!(report.runtimes_used, 123);
    assert_eq!(scale.stack.control_requests().since(&before).get("ListAgentRuntimes"), 0);

    // Deleted by this run: later steps do not find it, while the account may still list it.
    let deleted = xtask::cleanup::cleanup_runtimes(&aws, &[runtime(0)], false, scale.ctx.settings.max_parallel).await;
    assert_eq!(deleted[0].as_ref().unwrap().action, "deleted");
    assert!(aws::index::runtime(&aws, &runtime(0)).await.unwrap().is_none());
    let again = xtask::cleanup::cleanup_runtimes(&aws, &[runtime(0)], false, scale.ctx.settings.max_parallel).await;
    assert_eq!(again[0].as_ref().unwrap().action, "already_gone");
    let report = xtask::status::status(&scale.ctx.settings, &aws, None).await.unwrap();
    let names: Vec<&str> = report.runtimes.iter().map(|runtime| runtime.runtime_name.as_str()).collect();
    assert_eq!(names, [runtime(1), runtime(2)]);

    // A new run lists afresh and sees the same account.
    let fresh = aws.new_run();
    let listed = aws::index::runtimes(&fresh).await.unwrap();
    assert_eq!(listed.len(), 122);
    assert!(listed.iter().all(|listed| listed.name != runtime(0)));
    scale.stack.shutdown().await;
}

/// `github pr-plan` of a pull request touching 50 agents: the matrix's JSON lists all 50, within
/// GitHub's 256 jobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_matrix_holds_fifty_agents() {
    let scale = Scale::start(50, Vec::new()).await;
    let changed = scale.temp.path().join("changed.txt");
    let paths: Vec<String> = scale.names.iter().map(|name| format!("agents/{name}/main.py")).collect();
    std::fs::write(&changed, paths.join("\n")).unwrap();
    let output = scale.temp.path().join("github_output");
    let event = crate::github::events_dir().join("pr_opened.json");
    let args = ["github", "pr-plan", "--event", event.to_str().unwrap(), "--changed-files", changed.to_str().unwrap()];
    scale.cli(&args, &[("GITHUB_OUTPUT", &output)]).await;
    let outputs = github_outputs(&output);
    let matrix: Vec<String> = serde_json::from_str(&outputs["agents"]).expect("the matrix is a JSON array of names");
    assert_eq!(matrix, scale.names);
    assert!(matrix.len() <= 256, "GitHub runs at most 256 jobs of one matrix");
    assert!(!outputs["agents"].contains('\n'), "one line, as fromJSON in the workflow reads it");
    scale.stack.shutdown().await;
}

/// `github pr-comment` over 50 agents' result files, half of them failures with long errors: one
/// comment under GitHub's 65,536 characters that still lists every agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pr_comment_of_fifty_agents_stays_under_githubs_limit() {
    let scale = Scale::start(50, Vec::new()).await;
    let event = crate::github::events_dir().join("pr_opened.json");
    let payload: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&event).unwrap()).unwrap();
    let (pr, commit) = (payload["number"].as_u64().unwrap(), payload["pull_request"]["head"]["sha"].as_str().unwrap());
    let results = scale.temp.path().join("results");
    std::fs::create_dir_all(&results).unwrap();
    for (index, name) in scale.names.iter().enumerate() {
        let runtime = format!("{name}_pr_{pr}");
        let outcome = if index % 2 == 0 {
            serde_json::json!({ "Ok": {
                "runtime_name": runtime,
                "runtime_arn": format!("arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/{runtime}-AbCdE12345"),
                "version": "3", "status": "READY", "action": "updated",
                "s3_key": format!("{runtime}/v3/code.zip"),
            } })
        } else {
            let error = format!(
                "agent {name}: {} caused by: the last line says why",
                "a long chain of context; ".repeat(2_000)
            );
            serde_json::json!({ "Err": error })
        };
        let result = serde_json::json!([{ "agent": name, "pr": pr, "commit": commit, "outcome": outcome }]);
        std::fs::write(results.join(format!("{name}.json")), result.to_string()).unwrap();
    }
    let comment = scale.temp.path().join("comment.md");
    let agents = serde_json::to_string(&scale.names).unwrap();
    let (event, results, out) = (event.to_str().unwrap(), results.to_str().unwrap(), comment.to_str().unwrap());
    let args = ["github", "pr-comment", "--event", event, "--agents", &agents, "--results", results, "--out", out];
    scale.cli(&args, &[]).await;
    let markdown = std::fs::read_to_string(&comment).unwrap();
    assert!(markdown.chars().count() < xtask::github::render::GITHUB_BODY_LIMIT, "{} characters", markdown.len());
    for name in &scale.names {
        assert!(markdown.contains(&format!("| `{name}` |")), "{name} has its row");
    }
    assert!(markdown.contains("caused by: the last line says why"), "an error keeps its end");
    assert!(markdown.contains("characters cut; the job's log has the whole message"));
    assert!(markdown.contains("to keep this comment under GitHub's 65536-character limit"), "says what it left out");
    scale.stack.shutdown().await;
}

/// The agents of a generated workspace package into zips of their own, with no dependency work.
#[test]
fn the_generated_workspace_is_a_valid_one() {
    let temp = tempfile::tempdir().unwrap();
    let names = xtask::bench::scale::write_workspace(temp.path(), 3).unwrap();
    let ctx = ctx(temp.path(), Default::default());
    let agents = xtask::agents::discover(temp.path(), &ctx.settings).unwrap();
    assert_eq!(agents.iter().map(|agent| agent.name.clone()).collect::<Vec<_>>(), names);
    assert!(Path::new(&agents[0].requirements).is_file());
}
