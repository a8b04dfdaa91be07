//! The agents' own Python code: each one loaded as AgentCore loads it and driven over its HTTP
//! contract (`GET /ping`, `POST /invocations`) offline, with its pinned dependencies installed.

use std::path::Path;
use std::process::Command;

use xtask::agents;
use xtask::settings::{Settings, workspace_root};

/// A host-platform virtualenv with `requirements`, cached under `target/` by the file's hash.
fn venv_for(root: &Path, uv: &Path, requirements: &Path) -> std::path::PathBuf {
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(std::fs::read(requirements).unwrap()));
    let venv = root.join("target/agent-check").join(&hash[..16]);
    let python = venv.join("bin/python");
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

#[test]
fn every_agent_serves_ping_and_invocations_with_its_prompt() {
    let root = workspace_root();
    let settings = Settings::from_workspace(&root).unwrap();
    let uv = crate::tools::uv();
    let all = agents::discover(&root, &settings).unwrap();
    assert!(all.len() >= 2, "the monorepo ships at least two agents");
    for agent in &all {
        let python = venv_for(&root, &uv, &agent.requirements);
        let output = Command::new(&python)
            .arg(root.join("tests/agents/check_agent.py"))
            .arg(&agent.dir)
            .arg(&agent.prompt)
            .arg(agent.manifest.entry_point.file())
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
        assert_eq!(report["ping"], "Healthy", "{}: {report}", agent.name);
        assert!(report["default_request"].as_str().is_some_and(|text| !text.is_empty()), "{}: {report}", agent.name);
    }
}
