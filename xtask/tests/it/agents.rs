//! The agents' own Python code: each one loaded as AgentCore loads it and driven over its
//! protocol's contract offline, with its pinned dependencies installed: `GET /ping` and `POST
//! /invocations` for HTTP, an MCP `tools/list` for MCP (`tests/agents/check_agent.py` says what
//! each protocol's check is).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use xtask::agents::{self, Protocol};
use xtask::settings::Settings;

use crate::support::repo_root;

/// A host-platform virtualenv with `requirements`, cached under this checkout's
/// `target/agent-check` by the file's hash, whichever workspace the agent is in: an agent copied
/// elsewhere reuses it.
fn venv_for(uv: &Path, requirements: &Path) -> PathBuf {
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(std::fs::read(requirements).unwrap()));
    let cache = repo_root().join("target/agent-check");
    let venv = cache.join(&hash[..16]);
    let python = venv.join("bin/python");
    if venv.join("complete").exists() {
        return python;
    }
    // One install at a time: two tests (or test runs) may check agents of the same requirements.
    std::fs::create_dir_all(&cache).unwrap();
    let lock = File::options().create(true).truncate(false).write(true).open(cache.join(".lock")).unwrap();
    lock.lock().unwrap();
    if !venv.join("complete").exists() {
        let _ = std::fs::remove_dir_all(&venv);
        let run = |command: &mut Command| {
            let output = command.output().unwrap();
            assert!(output.status.success(), "{command:?} failed:\n{}", String::from_utf8_lossy(&output.stderr));
        };
        run(Command::new(uv).args(["venv", "-q", "--python"]).arg(crate::tools::base_python()).arg(&venv));
        run(Command::new(uv).args(["pip", "install", "-q", "--python"]).arg(&python).arg("-r").arg(requirements));
        std::fs::write(venv.join("complete"), "").unwrap();
    }
    python
}

/// Runs `tests/agents/check_agent.py` on every agent of the workspace at `root`; returns their
/// names. An agent that fails its contract fails the test, naming it.
pub fn check_agents(root: &Path) -> Vec<String> {
    let settings = Settings::from_workspace(root).unwrap();
    let uv = crate::tools::uv();
    let all = agents::discover(root, &settings).unwrap();
    assert!(!all.is_empty(), "no agent under {}/agents to check", root.display());
    for agent in &all {
        let python = venv_for(&uv, &agent.requirements);
        let output = Command::new(&python)
            .arg(repo_root().join("tests/agents/check_agent.py"))
            .arg(&agent.dir)
            .arg(&agent.prompt)
            .arg(agent.manifest.entry_point.file())
            .arg(agent.protocol().as_str())
            .arg(agent.serving_port().to_string())
            .arg(agent.serving_path())
            .envs(&agent.manifest.environment)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "agent `{}` failed its contract check:\n{stdout}\n{}",
            agent.name,
            String::from_utf8_lossy(&output.stderr)
        );
        let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        assert_eq!(report["protocol"], agent.protocol().as_str(), "{}: {report}", agent.name);
        match agent.protocol() {
            Protocol::Http => {
                assert_eq!(report["ping"], "Healthy", "{}: {report}", agent.name);
                assert!(
                    report["default_request"].as_str().is_some_and(|text| !text.is_empty()),
                    "{}: {report}",
                    agent.name
                );
            }
            Protocol::Mcp => {
                let tools = report["tools"].as_array().map(Vec::len).unwrap_or_default();
                assert!(tools > 0, "{}: tools/list answered no tools: {report}", agent.name);
            }
            Protocol::A2a => assert!(report["agent_card"].is_string(), "{}: {report}", agent.name),
            Protocol::Agui => assert_eq!(report["ping"], "Healthy", "{}: {report}", agent.name),
        }
    }
    all.into_iter().map(|agent| agent.name).collect()
}

#[test]
fn every_agent_serves_its_protocol_offline() {
    check_agents(&repo_root());
}
