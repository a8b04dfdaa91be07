//! `protocol`, `port` and `path` in `agent.toml`, on the protocols fixture (`tests/fixtures/protocols`:
//! one tiny agent per protocol, and an MCP server on a port and path of its own) deployed to the
//! local stack: each runtime gets what its manifest declares, `status` shows it, a change of any of
//! them makes exactly one new version, and a bad value is refused before any call.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agentcore_local::{LocalConfig, LocalStack};
use serde_json::{Value, json};
use xtask::aws::{self, AwsClients, WaitPolicy};
use xtask::deploy::{DeployOptions, deploy_agents_with};
use xtask::naming::Target;

use crate::support::{Ctx, copy_workspace, ctx, release_snapshot_settings, repo_root, run_async, xtask_command};

fn protocols_fixture() -> PathBuf {
    repo_root().join("tests/fixtures/protocols")
}

/// A local stack, and a copy of the protocols fixture that a test may change.
struct World {
    stack: LocalStack,
    aws: AwsClients,
    root: PathBuf,
    zips: PathBuf,
    _temp: tempfile::TempDir,
}

impl World {
    async fn start() -> World {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("workspace");
        copy_workspace(&protocols_fixture(), &root);
        let settings = ctx(&root, Default::default()).settings;
        let stack = LocalStack::start(LocalConfig {
            transition_delay: Duration::from_millis(50),
            region: settings.region.clone(),
            ..LocalConfig::new(temp.path().join("stack"))
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
        // One zip per agent, the same for every deploy: only the manifests change.
        let zips = temp.path().join("zips");
        std::fs::create_dir_all(&zips).unwrap();
        for agent in xtask::agents::discover(&root, &settings).unwrap() {
            let mut writer =
                zip::ZipWriter::new(std::fs::File::create(zips.join(format!("{}.zip", agent.name))).unwrap());
            writer.start_file("main.py", zip::write::SimpleFileOptions::default()).unwrap();
            writer.write_all(format!("# {}\nprint('hello')\n", agent.name).as_bytes()).unwrap();
            writer.finish().unwrap();
        }
        World { stack, aws, root, zips, _temp: temp }
    }

    fn ctx(&self) -> Ctx {
        ctx(&self.root, Default::default())
    }

    /// Deploys every agent for pull request 3, as the manifests now say: each agent's action.
    async fn deploy(&self) -> Vec<(String, String)> {
        let ctx = self.ctx();
        let agents = xtask::agents::discover(&self.root, &ctx.settings).unwrap();
        let options = DeployOptions { force: false, dry_run: false, package_dir: Some(self.zips.clone()) };
        let results = deploy_agents_with(&ctx, &self.aws.new_run(), &agents, Target::Pr(3), &options).await;
        agents
            .iter()
            .zip(results)
            .map(|(agent, result)| {
                let outcome = result.unwrap_or_else(|err| panic!("{}: {err:#}", agent.name));
                (agent.name.clone(), outcome.action.to_string())
            })
            .collect()
    }

    /// The latest version of `agent`'s runtime and its `protocolConfiguration` as GetAgentRuntime
    /// gives it (serverProtocol, port, path).
    async fn protocol_of(&self, agent: &str) -> (String, Value) {
        let name = self.ctx().settings.scheme().runtime_name(agent, Target::Pr(3)).unwrap();
        let id = aws::find_runtime(&self.aws, &name).await.unwrap().unwrap().agent_runtime_id().to_owned();
        let runtime = aws::get_runtime(&self.aws, &id, None).await.unwrap().unwrap();
        let config = runtime.protocol_configuration().expect("every deploy sends a protocolConfiguration");
        let config = json!({
            "serverProtocol": config.server_protocol().as_str(),
            "port": config.port(),
            "path": config.path(),
        });
        (runtime.agent_runtime_version().to_owned(), config)
    }

    fn edit_manifest(&self, agent: &str, edit: impl FnOnce(&mut toml::Table)) {
        let path = self.root.join("agents").join(agent).join("agent.toml");
        let mut manifest: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
        edit(&mut manifest);
        std::fs::write(&path, toml::to_string(&manifest).unwrap()).unwrap();
    }
}

/// A change to an agent's `agent.toml`.
type ManifestEdit = dyn Fn(&mut toml::Table);

fn actions(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(agent, action)| (agent.to_string(), action.to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_runtime_gets_its_declared_protocol_and_status_shows_it() {
    let world = World::start().await;
    let created = world.deploy().await;
    assert!(created.iter().all(|(_, action)| action == "created"), "{created:?}");

    let expected = [
        ("chat_http", json!({ "serverProtocol": "HTTP", "port": null, "path": null })),
        ("custom_mcp", json!({ "serverProtocol": "MCP", "port": 9100, "path": "/v1/tools" })),
        ("peer_a2a", json!({ "serverProtocol": "A2A", "port": null, "path": null })),
        ("tools_mcp", json!({ "serverProtocol": "MCP", "port": null, "path": null })),
        ("ui_agui", json!({ "serverProtocol": "AGUI", "port": null, "path": null })),
    ];
    for (agent, config) in &expected {
        assert_eq!(world.protocol_of(agent).await, ("1".to_owned(), config.clone()), "{agent}");
    }
    let record: Value = {
        let key = xtask::records::record_key("custom_mcp_pr_3", "1");
        let object = world.aws.s3.get_object().bucket(&world.aws.bucket).key(&key).send().await.unwrap();
        serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap()
    };
    assert_eq!(
        (&record["config"]["protocol"], &record["config"]["port"], &record["config"]["path"]),
        (&json!("MCP"), &json!(9100), &json!("/v1/tools")),
        "the version's record holds what it was made with"
    );

    let status = xtask::status::status(&world.ctx().settings, &world.aws, None).await.unwrap();
    let shown: Vec<(&str, &str)> =
        status.runtimes.iter().map(|runtime| (runtime.runtime_name.as_str(), runtime.protocol.as_str())).collect();
    assert_eq!(
        shown,
        [
            ("chat_http_pr_3", "HTTP"),
            ("custom_mcp_pr_3", "MCP"),
            ("peer_a2a_pr_3", "A2A"),
            ("tools_mcp_pr_3", "MCP"),
            ("ui_agui_pr_3", "AGUI")
        ]
    );
    release_snapshot_settings().bind(|| {
        insta::assert_snapshot!("status_of_each_protocol_human", status.to_string());
        insta::assert_snapshot!("status_of_each_protocol_json", serde_json::to_string_pretty(&status).unwrap());
    });

    // The binary shows the same, its JSON too.
    let mut command = xtask_command(&world.root);
    command.envs(world.stack.env_exports()).args(["status", "tools_mcp", "custom_mcp", "--json"]);
    let (ok, stdout, stderr) = run_async(command).await;
    assert!(ok, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let runtimes = report["runtimes"].as_array().unwrap();
    assert_eq!((runtimes[0]["protocol"].as_str(), &runtimes[0]["port"]), (Some("MCP"), &json!(9100)));
    assert_eq!((runtimes[1]["protocol"].as_str(), runtimes[1].get("port")), (Some("MCP"), None));
    world.stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_of_protocol_port_or_path_makes_exactly_one_new_version() {
    let world = World::start().await;
    world.deploy().await;
    let all_up_to_date = actions(&[
        ("chat_http", "up_to_date"),
        ("custom_mcp", "up_to_date"),
        ("peer_a2a", "up_to_date"),
        ("tools_mcp", "up_to_date"),
        ("ui_agui", "up_to_date"),
    ]);
    assert_eq!(world.deploy().await, all_up_to_date);

    // Each change: one agent updated once, then up to date again.
    let changes: [(&str, &ManifestEdit, Value); 4] = [
        (
            "chat_http",
            &|manifest| {
                manifest.insert("protocol".into(), "AGUI".into());
            },
            json!({ "serverProtocol": "AGUI", "port": null, "path": null }),
        ),
        (
            "tools_mcp",
            &|manifest| {
                manifest.insert("port".into(), 9200.into());
            },
            json!({ "serverProtocol": "MCP", "port": 9200, "path": null }),
        ),
        (
            "custom_mcp",
            &|manifest| {
                manifest.insert("path".into(), "/v2/tools".into());
            },
            json!({ "serverProtocol": "MCP", "port": 9100, "path": "/v2/tools" }),
        ),
        (
            "custom_mcp",
            &|manifest| {
                manifest.remove("port");
                manifest.remove("path");
            },
            json!({ "serverProtocol": "MCP", "port": null, "path": null }),
        ),
    ];
    for (agent, edit, config) in changes {
        let (before, _) = world.protocol_of(agent).await;
        world.edit_manifest(agent, edit);
        let deployed = world.deploy().await;
        let expected: Vec<(String, String)> = all_up_to_date
            .iter()
            .map(|(name, action)| (name.clone(), if name == agent { "updated".into() } else { action.clone() }))
            .collect();
        assert_eq!(deployed, expected, "{agent}: {config}");
        let next = (before.parse::<u32>().unwrap() + 1).to_string();
        assert_eq!(world.protocol_of(agent).await, (next, config.clone()), "{agent}");
        assert_eq!(world.deploy().await, all_up_to_date, "{agent}: {config}");
    }
    world.stack.shutdown().await;
}

/// Runs `deploy --all --pr 3` on the workspace at `root` against `stack`.
async fn deploy_command(root: &Path, stack: &LocalStack, zips: &Path) -> (bool, String, String) {
    let mut command = xtask_command(root);
    command.envs(stack.env_exports()).args(["deploy", "--all", "--pr", "3", "--package-dir"]).arg(zips);
    run_async(command).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_protocol_settings_are_refused_before_any_call() {
    let world = World::start().await;
    let cases: [(&str, Value, &str); 5] = [
        (
            "protocol",
            json!("mcp"),
            "protocol `mcp` is not one AgentCore runs: write one of HTTP, MCP, A2A, AGUI in capitals, e.g. protocol = \"MCP\"",
        ),
        (
            "port",
            json!(8443),
            "agent `tools_mcp`: port 8443 is reserved by AgentCore; pick another port from 8000 to 12000, or leave `port` out for MCP's 8000",
        ),
        ("port", json!(7999), "agent `tools_mcp`: port 7999 is outside the 8000 to 12000 AgentCore allows"),
        ("path", json!("mcp"), "agent `tools_mcp`: path `mcp` must start with `/`"),
        (
            "path",
            json!("/with space"),
            "agent `tools_mcp`: path `/with space` must start with `/` and hold only letters",
        ),
    ];
    let path = world.root.join("agents/tools_mcp/agent.toml");
    let original = std::fs::read_to_string(&path).unwrap();
    for (key, value, message) in cases {
        let mut manifest: toml::Table = original.parse().unwrap();
        let value: toml::Value = serde_json::from_value(value).unwrap();
        manifest.insert(key.into(), value);
        std::fs::write(&path, toml::to_string(&manifest).unwrap()).unwrap();
        let (ok, _, stderr) = deploy_command(&world.root, &world.stack, &world.zips).await;
        assert!(!ok && stderr.contains("agent `tools_mcp`") && stderr.contains(message), "{key}: {stderr}");
    }
    assert_eq!(world.stack.control_requests().total(), 0, "nothing reached AgentCore");
    world.stack.shutdown().await;
}
