//! agent.toml's runtime settings (VPC, lifecycle, JWT authorizer, request headers, platform version,
//! allowed ports, minimum memory, Python 3.14) and tags, deployed to the local stack: each reaches
//! GetAgentRuntime, a change of one makes exactly one new version, a bad one is refused before any
//! call; tags follow agent.toml; a failed delete is reported and a re-run converges.

use std::path::PathBuf;
use std::time::Duration;

use agentcore_local::LocalStack;
use serde_json::{Value, json};
use xtask::agents::Agent;
use xtask::aws::{self, AwsClients};
use xtask::deploy::{DeployOptions, deploy_agents_with};
use xtask::naming::Target;
use xtask::report::DeployOutcome;

use super::{fixture_zip, start_stack};
use crate::support::{Ctx, copy_workspace, ctx, release_fixture, release_snapshot_settings, run_async, xtask_command};

/// The release fixture copied into a temp dir, with echo_bot's agent.toml ours to rewrite, and a
/// local stack.
struct Workspace {
    stack: LocalStack,
    aws: AwsClients,
    temp: tempfile::TempDir,
}

/// echo_bot's manifest without settings; what a test adds follows it (top-level keys, then tables).
const BASE: &str = "description = \"Says back what the user wrote\"\nentry_point = \"main.py\"\n";

impl Workspace {
    async fn start() -> Workspace {
        let temp = tempfile::tempdir().unwrap();
        copy_workspace(&release_fixture(), &temp.path().join("repo"));
        std::fs::remove_dir_all(temp.path().join("repo/agents/weather_report_bot")).unwrap();
        let settings = ctx(&temp.path().join("repo"), Default::default()).settings;
        let (stack, aws) = start_stack(&temp.path().join("stack"), &settings, Duration::from_millis(20)).await;
        let workspace = Workspace { stack, aws, temp };
        std::fs::create_dir_all(workspace.zips()).unwrap();
        fixture_zip(&workspace.zips().join("echo_bot.zip"), "echo_bot settings");
        workspace
    }

    fn root(&self) -> PathBuf {
        self.temp.path().join("repo")
    }

    fn zips(&self) -> PathBuf {
        self.temp.path().join("zips")
    }

    fn write(&self, manifest: &str) {
        std::fs::write(self.root().join("agents/echo_bot/agent.toml"), manifest).unwrap();
    }

    fn ctx(&self) -> (Ctx, Vec<Agent>) {
        let ctx = ctx(&self.root(), Default::default());
        let agents = xtask::agents::discover(&ctx.root, &ctx.settings).unwrap_or_else(|err| panic!("{err:#}"));
        (ctx, agents)
    }

    /// Deploys echo_bot with `manifest` to pull request 1.
    async fn deploy(&self, manifest: &str) -> DeployOutcome {
        self.write(manifest);
        let (ctx, agents) = self.ctx();
        let options = DeployOptions { force: false, dry_run: false, package_dir: Some(self.zips()) };
        let mut results = deploy_agents_with(&ctx, &self.aws.new_run(), &agents, Target::Pr(1), &options).await;
        results.remove(0).unwrap_or_else(|err| panic!("{err:#}"))
    }

    /// The latest version as GetAgentRuntime's JSON (every member, as AgentCore sent it).
    async fn latest(&self, outcome: &DeployOutcome) -> Value {
        let id = outcome.runtime_id.as_deref().unwrap();
        aws::get_runtime_json(&self.aws, id, None).await.unwrap().unwrap()
    }

    async fn tags(&self, outcome: &DeployOutcome) -> Value {
        let arn = outcome.runtime_arn.as_deref().unwrap();
        let listed = self.aws.control.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
        serde_json::to_value(listed.tags().cloned().unwrap_or_default()).unwrap()
    }

    /// Runs the binary on the workspace against the stack.
    async fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let mut command = xtask_command(&self.root());
        command.envs(self.stack.env_exports()).args(args);
        run_async(command).await
    }
}

const FULL: &str = r#"
python_runtime = "PYTHON_3_14"
platform_version = "V2"
network_mode = "VPC"
request_headers = ["Authorization", "X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant"]
allowed_ports = [8081, "9000-9010"]

[vpc]
subnets = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
security_groups = ["sg-0123456789abcdef0"]

[lifecycle]
idle_timeout_secs = 600
max_lifetime_secs = 3600

[authorizer.jwt]
discovery_url = "https://idp.example.com/.well-known/openid-configuration"
allowed_audiences = ["agents"]
allowed_clients = ["web"]
allowed_scopes = ["agent/invoke"]

[resources]
min_memory_mib = 2048
"#;

/// Every setting reaches GetAgentRuntime (and status); a deploy of the same is up to date; each
/// change makes exactly one new version with the new value, and then is up to date again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_setting_reaches_the_runtime_and_a_change_makes_one_version() {
    let workspace = Workspace::start().await;
    let full = format!("{BASE}{FULL}");
    let created = workspace.deploy(&full).await;
    assert_eq!((created.action.as_str(), created.version.as_deref()), ("created", Some("1")));
    let got = workspace.latest(&created).await;
    assert_eq!(got["agentRuntimeArtifact"]["codeConfiguration"]["runtime"], "PYTHON_3_14");
    assert_eq!(got["platformVersion"], "V2");
    assert_eq!(
        got["networkConfiguration"],
        json!({"networkMode": "VPC", "networkModeConfig": {
            "subnets": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"], "securityGroups": ["sg-0123456789abcdef0"]}})
    );
    assert_eq!(got["lifecycleConfiguration"], json!({"idleRuntimeSessionTimeout": 600, "maxLifetime": 3600}));
    assert_eq!(
        got["authorizerConfiguration"],
        json!({"customJWTAuthorizer": {
            "discoveryUrl": "https://idp.example.com/.well-known/openid-configuration",
            "allowedAudience": ["agents"], "allowedClients": ["web"], "allowedScopes": ["agent/invoke"]}})
    );
    assert_eq!(
        got["requestHeaderConfiguration"],
        json!({"requestHeaderAllowlist": ["Authorization", "X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant"]})
    );
    assert_eq!(got["allowedPorts"], json!([{"port": 8081}, {"portRange": {"from": 9000, "to": 9010}}]));
    assert_eq!(got["resourceConfigurations"], json!([{"minimumMemoryInMiB": 2048}]));
    let (ok, stdout, stderr) = workspace.cli(&["status", "--json"]).await;
    assert!(ok, "{stderr}");
    let status: Value = serde_json::from_str(&stdout).unwrap();
    let settings = &status["runtimes"][0]["settings"];
    assert_eq!((&settings["network_mode"], &settings["auth"]), (&json!("VPC"), &json!("JWT")), "{settings}");
    assert_eq!(settings["allowed_ports"], json!(["8081", "9000-9010"]));
    assert_eq!(settings["min_memory_mib"], 2048);
    assert!(workspace.cli(&["status"]).await.1.contains(" VPC      JWT  "), "the table's NETWORK and AUTH columns");
    assert_eq!(workspace.deploy(&full).await.action.as_str(), "up_to_date");

    // One setting at a time: (what changes in agent.toml, the member of GetAgentRuntime, its new value).
    let changes: &[(&str, &str, &str, Value)] = &[
        (
            "idle_timeout_secs = 600",
            "idle_timeout_secs = 900",
            "lifecycleConfiguration",
            json!({"idleRuntimeSessionTimeout": 900, "maxLifetime": 3600}),
        ),
        (
            "\"subnet-0123456789abcdef1\"",
            "\"subnet-0123456789abcdef2\"",
            "networkConfiguration",
            json!({"networkMode": "VPC", "networkModeConfig": {
            "subnets": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef2"], "securityGroups": ["sg-0123456789abcdef0"]}}),
        ),
        (
            "allowed_clients = [\"web\"]",
            "allowed_clients = [\"web\", \"cli\"]",
            "authorizerConfiguration",
            json!({"customJWTAuthorizer": {
            "discoveryUrl": "https://idp.example.com/.well-known/openid-configuration",
            "allowedAudience": ["agents"], "allowedClients": ["web", "cli"], "allowedScopes": ["agent/invoke"]}}),
        ),
        (
            "\"Authorization\", ",
            "",
            "requestHeaderConfiguration",
            json!({"requestHeaderAllowlist": ["X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant"]}),
        ),
        ("platform_version = \"V2\"", "platform_version = \"V1\"", "platformVersion", json!("V1")),
        ("[8081, \"9000-9010\"]", "[8081]", "allowedPorts", json!([{"port": 8081}])),
        (
            "min_memory_mib = 2048",
            "min_memory_mib = 4096",
            "resourceConfigurations",
            json!([{"minimumMemoryInMiB": 4096}]),
        ),
        ("PYTHON_3_14", "PYTHON_3_13", "agentRuntimeArtifact", Value::Null),
    ];
    let mut manifest = full.clone();
    let mut version = 1;
    for (from, to, member, value) in changes {
        assert!(manifest.contains(from), "{from}");
        manifest = manifest.replacen(from, to, 1);
        let outcome = workspace.deploy(&manifest).await;
        version += 1;
        assert_eq!(
            (outcome.action.as_str(), outcome.version.clone()),
            ("updated", Some(version.to_string())),
            "{member}"
        );
        let got = workspace.latest(&outcome).await;
        if !value.is_null() {
            assert_eq!(&got[*member], value, "{member}");
        }
        assert_eq!(workspace.deploy(&manifest).await.action.as_str(), "up_to_date", "{member}");
    }
    assert_eq!(workspace.latest(&created).await["agentRuntimeArtifact"]["codeConfiguration"]["runtime"], "PYTHON_3_13");

    // Dropping the settings (back to a public, IAM-authorized runtime) is one more version.
    let outcome = workspace.deploy(BASE).await;
    assert_eq!(outcome.version.as_deref(), Some(&*(version + 1).to_string()));
    let got = workspace.latest(&outcome).await;
    assert_eq!(got["networkConfiguration"], json!({"networkMode": "PUBLIC"}));
    assert_eq!(got["platformVersion"], "V1", "always sent, the workspace default");
    for member in ["authorizerConfiguration", "requestHeaderConfiguration", "allowedPorts", "resourceConfigurations"] {
        assert!(got.get(member).is_none(), "{member}: {got}");
    }
    workspace.stack.shutdown().await;
}

/// A VPC agent without a `[vpc]` of its own is deployed into the workspace's; a PUBLIC one is not,
/// and an agent's own `[vpc]` wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vpc_agent_without_its_own_vpc_takes_the_workspaces() {
    let workspace = Workspace::start().await;
    let manifest = workspace.root().join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let vpc = "\n[workspace.metadata.agentcore.vpc]\nsubnets = [\"subnet-0000000000000000a\"]\nsecurity_groups = [\"sg-0000000000000000a\"]\n";
    std::fs::write(&manifest, format!("{text}{vpc}")).unwrap();
    let outcome = workspace.deploy(BASE).await;
    assert!(
        workspace
            .latest(&outcome)
            .await
            .get("networkConfiguration")
            .is_some_and(|n| n.get("networkModeConfig").is_none())
    );
    let outcome = workspace.deploy(&format!("{BASE}network_mode = \"VPC\"\n")).await;
    let got = workspace.latest(&outcome).await;
    assert_eq!(got["networkConfiguration"]["networkModeConfig"]["subnets"], json!(["subnet-0000000000000000a"]));
    let own = "network_mode = \"VPC\"\n[vpc]\nsubnets = [\"subnet-0000000000000000b\"]\nsecurity_groups = [\"sg-0000000000000000b\"]\n";
    let outcome = workspace.deploy(&format!("{BASE}{own}")).await;
    let got = workspace.latest(&outcome).await;
    assert_eq!(got["networkConfiguration"]["networkModeConfig"]["securityGroups"], json!(["sg-0000000000000000b"]));
    workspace.stack.shutdown().await;
}

/// A record written by an earlier release (without the settings added since) of a version AgentCore
/// reports on V1 is up to date with an agent.toml that sets none of them: upgrading the tool makes no
/// version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_of_an_earlier_release_make_no_new_version() {
    let workspace = Workspace::start().await;
    let outcome = workspace.deploy(BASE).await;
    let key = outcome.record_key.clone().unwrap();
    let s3 = &workspace.aws.s3;
    let object = s3.get_object().bucket(&workspace.aws.bucket).key(&key).send().await.unwrap();
    let mut record: Value = serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(record["config"]["platform_version"], "V1");
    record["config"].as_object_mut().unwrap().remove("platform_version");
    let body = serde_json::to_vec(&record).unwrap();
    s3.put_object().bucket(&workspace.aws.bucket).key(&key).body(body.into()).send().await.unwrap();
    assert_eq!(workspace.deploy(BASE).await.action.as_str(), "up_to_date");
    // Asking for V2 is a change, though.
    let outcome = workspace.deploy(&format!("{BASE}platform_version = \"V2\"\n")).await;
    assert_eq!(outcome.action.as_str(), "updated");
    workspace.stack.shutdown().await;
}

/// Bad settings are refused before any request, each naming the agent, the key, the rule and the fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settings_are_refused_before_any_call() {
    let workspace = Workspace::start().await;
    let zips = workspace.zips();
    let zips = zips.to_str().unwrap();
    let cases: &[(&str, &str)] = &[
        ("vpc_ids", "network_mode = \"VPC\"\n[vpc]\nsubnets = [\"subnet-12\"]\nsecurity_groups = []\n"),
        ("vpc_without_vpc", "network_mode = \"VPC\"\n"),
        ("lifecycle", "[lifecycle]\nidle_timeout_secs = 7200\nmax_lifetime_secs = 3600\n"),
        ("lifecycle_too_long", "[lifecycle]\nmax_lifetime_secs = 86400\n"),
        ("jwt", "[authorizer.jwt]\ndiscovery_url = \"https://idp.example.com/jwks.json\"\nallowed_clients = []\n"),
        ("headers", "request_headers = [\"Authorization\", \"X-Amzn-Trace-Id\", \"Host\"]\n"),
        ("platform", "platform_version = \"V3\"\n"),
        ("ports", "allowed_ports = [8443, \"9000-9100\", 9050, 7000]\n"),
        ("port_range", "allowed_ports = [\"9000..9100\"]\n"),
        ("memory", "[resources]\nmin_memory_mib = 0\n"),
        ("unknown_key", "[lifecycle]\nidle_timeout = 60\n"),
        ("python", "python_runtime = \"PYTHON_3_15\"\n"),
    ];
    let mut shown = String::new();
    for (name, settings) in cases {
        workspace.write(&format!("{BASE}{settings}"));
        let (ok, _, stderr) = workspace.cli(&["deploy", "echo_bot", "--pr", "1", "--package-dir", zips]).await;
        assert!(!ok, "{name}: {stderr}");
        shown += &format!("--- {name}\n{settings}{stderr}\n");
    }
    assert_eq!(workspace.stack.control_requests().total(), 0, "no control-plane request at all");
    let listed = workspace.aws.s3.list_objects_v2().bucket(&workspace.aws.bucket).send().await.unwrap();
    assert!(listed.contents().is_empty(), "nothing uploaded");
    release_snapshot_settings().bind(|| insta::assert_snapshot!("bad_settings", shown));
    workspace.stack.shutdown().await;
}

/// After every deploy the runtime's tags are agent.toml's: added, changed and removed, with the
/// code and settings unchanged (no new version).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_follow_agent_toml() {
    let workspace = Workspace::start().await;
    let tagged = |tags: &str| format!("{BASE}[tags]\n{tags}");
    let outcome = workspace.deploy(&tagged("team = \"fun\"\ncost = \"1\"\n")).await;
    assert_eq!(workspace.tags(&outcome).await, json!({"team": "fun", "cost": "1"}));
    let before = workspace.stack.control_requests();
    let outcome = workspace.deploy(&tagged("team = \"serious\"\nowner = \"me\"\n")).await;
    assert_eq!(outcome.action.as_str(), "up_to_date", "tags make no version");
    assert_eq!(workspace.tags(&outcome).await, json!({"team": "serious", "owner": "me"}));
    let made = workspace.stack.control_requests().since(&before);
    assert_eq!((made.get("TagResource"), made.get("UntagResource"), made.get("UpdateAgentRuntime")), (1, 1, 0));
    let outcome = workspace.deploy(BASE).await;
    assert_eq!(workspace.tags(&outcome).await, json!({}));
    // Unchanged tags are only listed.
    let before = workspace.stack.control_requests();
    workspace.deploy(BASE).await;
    let made = workspace.stack.control_requests().since(&before);
    assert_eq!((made.get("ListTagsForResource"), made.get("TagResource") + made.get("UntagResource")), (1, 0));
    workspace.stack.shutdown().await;
}

/// A delete that fails leaves the runtime DELETE_FAILED: cleanup says so and what is left, status
/// shows it, deploy refuses it with the fix, and cleaning up again deletes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delete_is_reported_and_a_rerun_converges() {
    let workspace = Workspace::start().await;
    workspace.deploy(BASE).await;
    workspace.stack.faults().fail("DeleteAgentRuntime", 1, "network interfaces are still in use").unwrap();
    let (ok, stdout, stderr) = workspace.cli(&["cleanup", "echo_bot_pr_1", "--yes"]).await;
    assert!(!ok, "{stderr}");
    assert!(
        stdout.contains("deleting runtime echo_bot_pr_1")
            && stdout.contains("failed: network interfaces are still in use")
            && stdout.contains("re-run the cleanup"),
        "{stdout}"
    );
    let (_, stdout, _) = workspace.cli(&["status"]).await;
    assert!(stdout.contains("DELETE_FAILED"), "{stdout}");
    let (ok, stdout, _) =
        workspace.cli(&["deploy", "echo_bot", "--pr", "1", "--package-dir", workspace.zips().to_str().unwrap()]).await;
    assert!(!ok && stdout.contains("is DELETE_FAILED: network interfaces are still in use; delete it again with `cargo xtask cleanup echo_bot_pr_1`"), "{stdout}");
    let (ok, stdout, stderr) = workspace.cli(&["cleanup", "echo_bot_pr_1", "--yes", "--json"]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("\"deleted\""), "{stdout}");
    assert!(aws::list_runtimes(&workspace.aws).await.unwrap().is_empty());
    workspace.stack.shutdown().await;
}

/// A dry run shows how the tags would change (added, changed, removed) with the rest of its plan, in
/// the table and in JSON, and makes no tagging call: for an up-to-date version, for a new version,
/// and for a runtime still to be made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_shows_the_tag_changes_and_tags_nothing() {
    let workspace = Workspace::start().await;
    let tagged = |extra: &str, tags: &str| format!("{BASE}{extra}[tags]\n{tags}");
    workspace.deploy(&tagged("", "team = \"fun\"\ncost = \"1\"\n")).await;
    let zips = workspace.zips();
    let dry_run = ["deploy", "echo_bot", "--pr", "1", "--package-dir", zips.to_str().unwrap(), "--dry-run"];
    let mut shown = String::new();
    for (name, manifest) in [
        ("up to date, tags changed", tagged("", "team = \"serious\"\nowner = \"me\"\n")),
        ("new version, tags changed", tagged("platform_version = \"V2\"\n", "team = \"serious\"\n")),
        ("up to date, tags unchanged", tagged("", "team = \"fun\"\ncost = \"1\"\n")),
    ] {
        workspace.write(&manifest);
        let before = workspace.stack.control_requests();
        let (ok, table, stderr) = workspace.cli(&dry_run).await;
        assert!(ok, "{stderr}");
        let (ok, json, stderr) = workspace.cli(&[&dry_run[..], &["--json"]].concat()).await;
        assert!(ok, "{stderr}");
        let made = workspace.stack.control_requests().since(&before);
        assert_eq!(made.get("TagResource") + made.get("UntagResource"), 0, "{name}: a dry run tags nothing");
        assert_eq!(made.get("UpdateAgentRuntime") + made.get("CreateAgentRuntime"), 0, "{name}");
        let plan = serde_json::from_str::<Value>(&json).unwrap()["results"][0]["outcome"]["plan"].clone();
        shown += &format!("--- {name}\n{table}json plan: {plan}\n");
    }
    let (ctx, _) = workspace.ctx();
    let runtime = ctx.settings.scheme().runtime_name("echo_bot", Target::Pr(1)).unwrap();
    let tags = workspace.tags(&workspace.deploy(&tagged("", "team = \"fun\"\ncost = \"1\"\n")).await).await;
    assert_eq!(tags, json!({"team": "fun", "cost": "1"}), "{runtime} kept its tags");
    // A runtime still to be made: every tag is added.
    workspace.write(&tagged("", "team = \"new\"\n"));
    let (ok, table, stderr) =
        workspace.cli(&["deploy", "echo_bot", "--pr", "2", "--package-dir", zips.to_str().unwrap(), "--dry-run"]).await;
    assert!(ok, "{stderr}");
    shown += &format!("--- a runtime to make\n{table}");
    release_snapshot_settings().bind(|| insta::assert_snapshot!("dry_run_tags", shown));
    workspace.stack.shutdown().await;
}

/// The workspace's `[lifecycle]` and `request_headers` are those of every agent without its own: a
/// change of either makes one new version of each agent that inherits it, and none of the others; a
/// bad default is refused before any call, naming the agent, the key, the rule and where to fix it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_defaults_reach_the_agents_that_inherit_them() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("repo");
    copy_workspace(&release_fixture(), &root);
    let own = "\n[lifecycle]\nidle_timeout_secs = 300\n";
    let weather = root.join("agents/weather_report_bot/agent.toml");
    std::fs::write(&weather, std::fs::read_to_string(&weather).unwrap() + own).unwrap();
    let cargo_toml = root.join("Cargo.toml");
    let original = std::fs::read_to_string(&cargo_toml).unwrap();
    let with_defaults = |idle: u32, header: &str| {
        let text = original.replace(
            "uv_version = \"0.13.8\"\n",
            &format!("uv_version = \"0.13.8\"\nrequest_headers = [\"{header}\"]\n"),
        );
        std::fs::write(
            &cargo_toml,
            format!("{text}\n[workspace.metadata.agentcore.lifecycle]\nidle_timeout_secs = {idle}\nmax_lifetime_secs = 3600\n"),
        )
        .unwrap();
    };
    let settings = ctx(&root, Default::default()).settings;
    let (stack, aws) = start_stack(&temp.path().join("stack"), &settings, Duration::from_millis(20)).await;
    let zips = temp.path().join("zips");
    std::fs::create_dir_all(&zips).unwrap();
    for agent in ["echo_bot", "weather_report_bot"] {
        fixture_zip(&zips.join(format!("{agent}.zip")), agent);
    }
    let deploy = async || {
        let ctx = ctx(&root, Default::default());
        let agents = xtask::agents::discover(&ctx.root, &ctx.settings).unwrap();
        let options = DeployOptions { force: false, dry_run: false, package_dir: Some(zips.clone()) };
        let results = deploy_agents_with(&ctx, &aws.new_run(), &agents, Target::Pr(1), &options).await;
        results.into_iter().map(|result| result.map_err(|err| format!("{err:#}"))).collect::<Vec<_>>()
    };
    let versions = async |results: Vec<Result<DeployOutcome, String>>| {
        let mut shown = Vec::new();
        for outcome in results {
            let outcome = outcome.unwrap();
            let latest =
                aws::get_runtime_json(&aws, outcome.runtime_id.as_deref().unwrap(), None).await.unwrap().unwrap();
            shown.push((
                outcome.version.unwrap(),
                latest["lifecycleConfiguration"]["idleRuntimeSessionTimeout"].as_u64().unwrap(),
                latest["requestHeaderConfiguration"]["requestHeaderAllowlist"][0].as_str().unwrap().to_owned(),
            ));
        }
        shown
    };
    let team = "X-Amzn-Bedrock-AgentCore-Runtime-Custom-Team".to_owned();
    with_defaults(600, &team);
    let first = versions(deploy().await).await;
    assert_eq!(first, [("1".into(), 600, team.clone()), ("1".into(), 300, team.clone())]);
    // The lifecycle default changes: only echo_bot, which inherits it, gets a version.
    with_defaults(900, &team);
    let second = versions(deploy().await).await;
    assert_eq!(second, [("2".into(), 900, team.clone()), ("1".into(), 300, team.clone())]);
    // The header default changes: both inherit it, one version each.
    with_defaults(900, "X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant");
    let tenant = "X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant".to_owned();
    let third = versions(deploy().await).await;
    assert_eq!(third, [("3".into(), 900, tenant.clone()), ("2".into(), 300, tenant)]);
    // A default AgentCore would refuse: idle longer than the lifetime.
    with_defaults(7200, "X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant");
    let before = stack.control_requests();
    let results = deploy().await;
    let err = results[0].as_ref().unwrap_err();
    assert!(
        err.contains("agent `echo_bot`: [lifecycle] idle_timeout_secs (7200)")
            && err.contains("[lifecycle] is the workspace's [workspace.metadata.agentcore.lifecycle] in Cargo.toml"),
        "{err}"
    );
    assert!(results[1].is_ok(), "weather_report_bot has its own [lifecycle]");
    let made = stack.control_requests().since(&before);
    assert_eq!(made.get("UpdateAgentRuntime") + made.get("CreateAgentRuntime"), 0);
    stack.shutdown().await;
}
