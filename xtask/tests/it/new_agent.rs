//! Adding an agent is adding a directory (README.md, "Adding an agent"): a copy of this workspace
//! with one more agent, a copy of the first with a prompt of its own, goes through every check that
//! depends on the set of agents.

use std::io::Read;
use std::path::Path;

use xtask::github::{self as gh, EventArgs};
use xtask::package::{PackageOptions, PackageTuning, package_agent_with};

use crate::support::{copy_workspace, ctx, repo_root, run, xtask_command};

/// Copies `agents/<first>` to `agents/<name>` with its own prompt, `prompts/<name>.txt`.
fn add_agent(root: &Path, first: &str, name: &str) {
    copy_workspace(&root.join("agents").join(first), &root.join("agents").join(name));
    let manifest_path = root.join("agents").join(name).join("agent.toml");
    let mut manifest: toml::Table = std::fs::read_to_string(&manifest_path).unwrap().parse().unwrap();
    manifest.insert("prompt".into(), format!("prompts/{name}.txt").into());
    std::fs::write(&manifest_path, toml::to_string(&manifest).unwrap()).unwrap();
    std::fs::write(root.join(format!("prompts/{name}.txt")), "You are the added agent: answer in one sentence.\n")
        .unwrap();
}

#[test]
fn a_third_agent_in_a_copy_of_the_workspace_passes_every_agent_check() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("workspace");
    copy_workspace(&repo_root(), &root);
    let ctx = ctx(&root, Default::default());
    let before = xtask::agents::discover(&root, &ctx.settings).unwrap();
    let first = &before.first().expect("the workspace has an agent to copy").name;
    let added = (1..).map(|n| format!("added_bot_{n}")).find(|name| !root.join("agents").join(name).exists()).unwrap();
    add_agent(&root, first, &added);

    // Discovery and validation: the new directory is an agent, with its own prompt.
    let agents = xtask::agents::discover(&root, &ctx.settings).unwrap();
    let mut expected: Vec<String> = before.iter().map(|agent| agent.name.clone()).chain([added.clone()]).collect();
    expected.sort();
    let names: Vec<String> = agents.iter().map(|agent| agent.name.clone()).collect();
    assert_eq!(names, expected);
    let agent = agents.iter().find(|agent| agent.name == added).unwrap();
    assert_eq!(agent.prompt, root.join(format!("prompts/{added}.txt")));

    // The pull request plan: a change to the agent or its prompt selects it alone; a change to the
    // tooling selects every agent.
    let changed = temp.path().join("changed.txt");
    let event = EventArgs { event: repo_root().join("tests/events/pr_opened.json"), out: None };
    let plan = |paths: &str| {
        std::fs::write(&changed, paths).unwrap();
        let args = gh::PrPlanArgs { event: event.clone(), changed_files: Some(changed.clone()) };
        gh::pr_plan(&ctx, &args).unwrap().agents
    };
    assert_eq!(plan(&format!("prompts/{added}.txt\n")), std::slice::from_ref(&added));
    assert_eq!(plan(&format!("agents/{added}/main.py\nREADME.md\n")), std::slice::from_ref(&added));
    assert_eq!(plan("Cargo.toml\n"), names);

    // Packaging, for real, through this checkout's dependency cache: each zip has its own prompt.
    let out = temp.path().join("zips");
    let options = PackageOptions { out_dir: out.clone(), prompt_override: None };
    let tuning = PackageTuning {
        deps_dir: Some(repo_root().join("target/agentcore/deps")),
        uv: Some(crate::tools::uv()),
        ..PackageTuning::default()
    };
    for agent in &agents {
        let report = package_agent_with(&ctx, agent, &options, &tuning).unwrap();
        let mut archive = zip::ZipArchive::new(std::fs::File::open(&report.path).unwrap()).unwrap();
        let mut prompt = String::new();
        archive.by_name("system_prompt.txt").unwrap().read_to_string(&mut prompt).unwrap();
        assert_eq!(prompt, std::fs::read_to_string(&agent.prompt).unwrap(), "{}", agent.name);
    }

    // The main job's plan, by the binary on the copy: one runtime per agent, the new one included.
    let (ok, stdout, stderr) = run(xtask_command(&root)
        .args(["deploy", "--all", "--pr", "1", "--dry-run", "--json", "--local", "--local-dir"])
        .arg(temp.path().join("state"))
        .arg("--package-dir")
        .arg(&out));
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let planned: Vec<(&str, &str)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| (entry["name"].as_str().unwrap(), entry["outcome"]["action"].as_str().unwrap()))
        .collect();
    assert_eq!(planned, names.iter().map(|name| (name.as_str(), "planned")).collect::<Vec<_>>());

    // The Python contract of every agent, the new one included.
    assert_eq!(crate::agents::check_agents(&root), names);
}
