//! Integration tests of `cargo xtask package`.
//!
//! Fixture agents live in `tests/fixtures/package/workspace`; their dependencies are wheels built
//! here by hand and served offline (`--find-links DIR --no-index`), so most tests need no network.
//! One test packages a real agent from PyPI.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};

use xtask::package::{PackageOptions, PackageReport, PackageTuning, package_agent_with};

use support::*;

use crate::support::{repo_root, snapshot_settings, xtask_command};

fn package(workspace: &Workspace, tuning: &PackageTuning) -> anyhow::Result<PackageReport> {
    let ctx = workspace.ctx();
    let agent = workspace.agent(&ctx, "fixture_bot");
    package_agent_with(&ctx, &agent, &workspace.options(), tuning)
}

#[test]
fn zip_listing_names_modes_and_sizes() {
    let wheels = Wheels::build();
    let workspace = Workspace::fixture();
    let report = package(&workspace, &wheels.tuning()).unwrap();
    assert_eq!(report.dependencies, "installed");
    assert_eq!(report.platform.as_deref(), Some("aarch64-manylinux2014"));
    snapshot_settings().bind(|| insta::assert_snapshot!("zip_listing", listing(&report.path)));

    let prompt = read_entry(&report.path, "system_prompt.txt");
    assert_eq!(prompt, std::fs::read(workspace.root().join("prompts/fixture_bot.txt")).unwrap());
    let script = String::from_utf8(read_entry(&report.path, "bin/tiny")).unwrap();
    assert!(script.starts_with("#!/usr/bin/env python3\n"), "{script}");
    assert_eq!(report.sha256, sha256(&std::fs::read(&report.path).unwrap()));
    assert_eq!(report.zipped_bytes, std::fs::metadata(&report.path).unwrap().len());
    let names = names(&report.path);
    assert_eq!(report.files, names.iter().filter(|name| !name.ends_with('/')).count() as u64);
}

#[test]
fn excludes_hidden_files_and_bytecode_stay_out() {
    let wheels = Wheels::build();
    let workspace = Workspace::fixture();
    let report = package(&workspace, &wheels.tuning()).unwrap();
    let names = names(&report.path);
    for absent in ["agent.toml", "NOTES.md", "tests/", "tests/test_main.py", ".env", "__pycache__/", "helpers/old.pyc"]
    {
        assert!(!names.iter().any(|name| name == absent), "`{absent}` must not be packaged: {names:?}");
    }
    assert!(!names.iter().any(|name| name.contains("__pycache__") || name.ends_with(".pyc")), "{names:?}");
    for noise in ["RECORD", "INSTALLER", "REQUESTED", "uv_cache.json", "direct_url.json", ".lock"] {
        assert!(!names.iter().any(|name| name.ends_with(noise)), "`{noise}` must not be packaged: {names:?}");
    }
    assert!(names.iter().any(|name| name == "tinydep-1.0.0.dist-info/METADATA"), "{names:?}");
}

#[test]
fn same_inputs_give_identical_bytes_anywhere() {
    let wheels = Wheels::build();
    let first = Workspace::fixture();
    let second = Workspace::fixture();
    // Different mtimes on every file of the second copy, and different out dirs and caches.
    let past = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    for entry in walkdir::WalkDir::new(second.root()).into_iter().map(Result::unwrap) {
        if entry.file_type().is_file() {
            std::fs::File::options().write(true).open(entry.path()).unwrap().set_modified(past).unwrap();
        }
    }
    let one = package(&first, &wheels.tuning()).unwrap();
    let two = package(&second, &wheels.tuning()).unwrap();
    assert_ne!(one.path, two.path);
    assert_eq!(two.dependencies, "installed");
    assert_eq!(std::fs::read(&one.path).unwrap(), std::fs::read(&two.path).unwrap());
    assert_eq!(one.sha256, two.sha256);
}

#[test]
fn unchanged_agent_keeps_its_zip_and_warm_cache_skips_uv() {
    let wheels = Wheels::build();
    let workspace = Workspace::fixture();
    let first = package(&workspace, &wheels.tuning()).unwrap();
    assert!(!first.unchanged);

    let again = package(&workspace, &wheels.tuning()).unwrap();
    assert!(again.unchanged);
    assert_eq!(again.sha256, first.sha256);

    // A zip changed behind our back is rebuilt, not trusted.
    std::fs::write(&first.path, b"not a zip").unwrap();
    let rebuilt = package(&workspace, &wheels.tuning()).unwrap();
    assert!(!rebuilt.unchanged);
    assert_eq!(rebuilt.sha256, first.sha256);

    // An edited agent file is rebuilt; the dependency cache is warm, so uv is never needed.
    let main = workspace.agent_dir("fixture_bot").join("main.py");
    std::fs::write(&main, "print('changed')\n").unwrap();
    let no_uv = PackageTuning { uv: Some(PathBuf::from("/nonexistent/uv")), ..wheels.tuning() };
    let edited = package(&workspace, &no_uv).unwrap();
    assert!(!edited.unchanged);
    assert_eq!(edited.dependencies, "cached");
    assert_ne!(edited.sha256, first.sha256);
    assert_eq!(read_entry(&edited.path, "main.py"), b"print('changed')\n");
}

#[test]
fn size_limits_fail_over_and_warn_near() {
    let wheels = Wheels::build();
    let workspace = Workspace::fixture();
    let full = package(&workspace, &wheels.tuning()).unwrap();
    assert!(full.warnings.is_empty(), "{:?}", full.warnings);

    let near = PackageTuning {
        max_zipped_bytes: full.zipped_bytes * 100 / 90,
        max_unzipped_bytes: full.unzipped_bytes * 100 / 85,
        ..wheels.tuning()
    };
    let warned = package(&workspace, &near).unwrap();
    assert!(!warned.unchanged, "limits are part of the inputs");
    assert_eq!(warned.warnings.len(), 2, "{:?}", warned.warnings);
    assert!(
        warned.warnings[0].contains("zipped size") && warned.warnings[0].contains("90% of"),
        "{:?}",
        warned.warnings
    );
    assert!(warned.warnings[1].contains("unzipped size"), "{:?}", warned.warnings);

    let over_unzipped = PackageTuning { max_unzipped_bytes: full.unzipped_bytes - 1, ..wheels.tuning() };
    let err = format!("{:#}", package(&workspace, &over_unzipped).unwrap_err());
    assert!(err.contains("unzipped is over AgentCore's limit"), "{err}");
    // The largest contributor, by size, comes first.
    assert!(
        err.contains("largest contributors: main.py 293 B, tinydep-1.0.0.dist-info/ 133 B, helpers/ 41 B"),
        "{err}"
    );

    std::fs::remove_file(&full.path).unwrap();
    let over_zipped = PackageTuning { max_zipped_bytes: full.zipped_bytes - 1, ..wheels.tuning() };
    let err = format!("{:#}", package(&workspace, &over_zipped).unwrap_err());
    assert!(err.contains("over AgentCore's limit") && err.contains("largest contributors (zipped)"), "{err}");
    assert!(!full.path.exists(), "an oversized zip is not left behind");
}

#[test]
fn agent_file_clashing_with_a_dependency_is_an_error() {
    let wheels = Wheels::build();
    let workspace = Workspace::fixture();
    let clash = workspace.agent_dir("fixture_bot").join("tinydep");
    std::fs::create_dir_all(&clash).unwrap();
    std::fs::write(clash.join("__init__.py"), "").unwrap();
    let err = format!("{:#}", package(&workspace, &wheels.tuning()).unwrap_err());
    assert!(
        err.contains("`tinydep/__init__.py` is both an agent file and part of the installed dependencies"),
        "{err}"
    );
}

#[test]
fn prompt_override_and_prompt_clash() {
    let wheels = Wheels::build();
    let workspace = Workspace::fixture();
    let ctx = workspace.ctx();
    let agent = workspace.agent(&ctx, "fixture_bot");
    let other = workspace.root().join("other_prompt.txt");
    std::fs::write(&other, "Another prompt.").unwrap();
    let options = PackageOptions { prompt_override: Some(other.clone()), ..workspace.options() };
    let report = package_agent_with(&ctx, &agent, &options, &wheels.tuning()).unwrap();
    assert_eq!(read_entry(&report.path, "system_prompt.txt"), b"Another prompt.");
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);

    std::fs::write(&other, "").unwrap();
    let report = package_agent_with(&ctx, &agent, &options, &wheels.tuning()).unwrap();
    assert_eq!(report.warnings, [format!("agent `fixture_bot`: the system prompt {} is empty", other.display())]);

    let options = PackageOptions { prompt_override: Some(workspace.root().join("missing.txt")), ..workspace.options() };
    let err = format!("{:#}", package_agent_with(&ctx, &agent, &options, &wheels.tuning()).unwrap_err());
    assert!(err.contains("missing.txt does not exist"), "{err}");

    std::fs::write(workspace.agent_dir("fixture_bot").join("system_prompt.txt"), "stale").unwrap();
    let err = format!("{:#}", package(&workspace, &wheels.tuning()).unwrap_err());
    assert!(err.contains("system_prompt.txt is written by packaging"), "{err}");
}

/// A run killed while uv installs leaves its staging directory; the next run removes it and converges.
#[cfg(unix)]
#[test]
fn a_run_killed_during_the_install_is_cleaned_up_by_the_next() {
    use std::os::unix::fs::PermissionsExt;
    let wheels = Wheels::build();
    let workspace = Workspace::fixture();
    // A uv of the pinned version that records its pid, then hangs as a slow download would.
    let fake = tempfile::tempdir().unwrap();
    let marker = fake.path().join("uv.pid");
    let script = format!(
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'uv 0.13.8'; exit 0; fi\necho $$ > {}.tmp && mv {0}.tmp {0}\nexec sleep 60\n",
        marker.display()
    );
    std::fs::write(fake.path().join("uv"), script).unwrap();
    std::fs::set_permissions(fake.path().join("uv"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", fake.path().display(), std::env::var("PATH").unwrap_or_default());

    let mut run = workspace.command(&wheels, &["package", "fixture_bot"]).env("PATH", &path).spawn().unwrap();
    let mut waited = 0;
    while !marker.exists() && waited < 300 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    }
    run.kill().unwrap();
    run.wait().unwrap();
    let uv_pid = std::fs::read_to_string(&marker).expect("the fake uv started within 30 s");
    std::process::Command::new("kill").arg(uv_pid.trim()).status().unwrap();

    let deps = workspace.root().join("target/agentcore/deps");
    let staging = || -> Vec<String> {
        std::fs::read_dir(&deps)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.starts_with(".tmp-"))
            .collect()
    };
    assert_eq!(staging().len(), 1, "the killed run left its staging directory");

    let again = workspace.cli(&wheels, &["package", "fixture_bot"]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{stderr}");
    assert!(stderr.contains("removed 1 unfinished install(s) left by an interrupted run in "), "{stderr}");
    assert!(staging().is_empty());
    assert!(workspace.root().join("target/agentcore/packages/fixture_bot.zip").exists());
}

#[cfg(unix)]
#[test]
fn links_are_followed_inside_the_repository_only() {
    use std::os::unix::fs::symlink;
    let workspace = Workspace::fixture();
    workspace.set_requirements("fixture_bot", "");
    let agent = workspace.agent_dir("fixture_bot");
    let tuning = PackageTuning::default();
    symlink("../../prompts", agent.join("shared")).unwrap();
    let report = package(&workspace, &tuning).unwrap();
    assert_eq!(
        read_entry(&report.path, "shared/shared.txt"),
        std::fs::read(workspace.root().join("prompts/shared.txt")).unwrap()
    );

    let outside = tempfile::NamedTempFile::new().unwrap();
    symlink(outside.path(), agent.join("secret.txt")).unwrap();
    let err = format!("{:#}", package(&workspace, &tuning).unwrap_err());
    assert!(
        err.contains("agent `fixture_bot`: `secret.txt` links to ") && err.contains("outside the repository"),
        "{err}"
    );
    std::fs::remove_file(agent.join("secret.txt")).unwrap();

    symlink("loop", agent.join("loop")).unwrap();
    let err = format!("{:#}", package(&workspace, &tuning).unwrap_err());
    assert!(err.starts_with("agent `fixture_bot`: cannot read ") && err.contains("exclude it"), "{err}");
    std::fs::write(agent.join("agent.toml"), "entry_point = \"main.py\"\nexclude = [\"loop\"]\n").unwrap();
    let ctx = workspace.ctx();
    let excluded = package_agent_with(&ctx, &workspace.agent(&ctx, "fixture_bot"), &workspace.options(), &tuning);
    assert!(!names(&excluded.unwrap().path).contains(&"loop".to_owned()));
}

#[test]
fn newer_manylinux_tag_is_tried_when_2014_has_no_wheel() {
    let wheels = Wheels::build();
    let workspace = Workspace::fixture();
    workspace.set_requirements("fixture_bot", "tinydep==1.0.0\nnewglibc==1.0.0\n");
    let report = package(&workspace, &wheels.tuning()).unwrap();
    assert_eq!(report.platform.as_deref(), Some("aarch64-manylinux_2_28"));
    assert!(names(&report.path).iter().any(|name| name == "newglibc/__init__.py"));
}

/// Wheels are resolved for the agent's Python runtime: a CPython 3.14 wheel installs for
/// `PYTHON_3_14`, and is no match for `PYTHON_3_12`.
#[test]
fn wheels_are_resolved_for_the_agents_python() {
    let wheels = Wheels::build();
    let workspace = Workspace::fixture();
    workspace.set_requirements("fixture_bot", "only314==1.0.0\n");
    let manifest = workspace.agent_dir("fixture_bot").join("agent.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, format!("python_runtime = \"PYTHON_3_14\"\n{text}")).unwrap();
    let report = package(&workspace, &wheels.tuning()).unwrap();
    assert!(names(&report.path).iter().any(|name| name == "only314/__init__.py"));
    std::fs::write(&manifest, format!("python_runtime = \"PYTHON_3_12\"\n{text}")).unwrap();
    let err = format!("{:#}", package(&workspace, &wheels.tuning()).unwrap_err());
    assert!(err.contains("only314"), "{err}");
}

#[test]
fn bundled_host_binaries_are_reported() {
    let wheels = Wheels::build();
    let workspace = Workspace::fixture();
    workspace.set_requirements("fixture_bot", "tinydep==1.0.0\nhostlib==1.0.0\n");
    let report = package(&workspace, &wheels.tuning()).unwrap();
    assert_eq!(
        report.warnings,
        [
            "agent `fixture_bot`: 1 native library in the dependencies is not aarch64 and cannot load on AgentCore: hostlib/_native.so (ELF machine 0x3e)"
        ]
    );
    // The warning comes back from the cache and from an unchanged zip alike.
    std::fs::remove_file(&report.path).unwrap();
    assert_eq!(package(&workspace, &wheels.tuning()).unwrap().warnings, report.warnings);
    assert_eq!(package(&workspace, &wheels.tuning()).unwrap().warnings, report.warnings);
}

#[test]
fn dependency_without_arm64_wheel_names_the_package() {
    let wheels = Wheels::build();
    let workspace = Workspace::fixture();
    workspace.set_requirements("fixture_bot", "tinydep==1.0.0\nx86only==1.0.0\n");
    let err = format!("{:#}", package(&workspace, &wheels.tuning()).unwrap_err());
    assert!(err.contains("no linux ARM64 wheel for `x86only` (wheels exist only for manylinux2014_x86_64)"), "{err}");
    assert!(
        err.contains("tried aarch64-manylinux2014, aarch64-manylinux_2_28, aarch64-manylinux_2_34")
            && err.contains("pin a version that publishes manylinux aarch64 wheels"),
        "{err}"
    );
    // Nothing half-done: no cache entry and no zip.
    let deps = workspace.root().join("target/agentcore/deps");
    let leftovers: Vec<_> =
        std::fs::read_dir(&deps).map(|dir| dir.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(!workspace.options().out_dir.join("fixture_bot.zip").exists());
}

#[test]
fn unknown_requirement_fails_with_uvs_reason_and_a_damaged_cache_is_rebuilt() {
    let wheels = Wheels::build();
    let workspace = Workspace::fixture();
    workspace.set_requirements("fixture_bot", "tinydep==1.0.0\nnot-a-package==9.9\n");
    let err = format!("{:#}", package(&workspace, &wheels.tuning()).unwrap_err());
    assert!(err.contains("uv could not install") && err.contains("not-a-package"), "{err}");

    workspace.set_requirements("fixture_bot", "tinydep==1.0.0\n");
    let first = package(&workspace, &wheels.tuning()).unwrap();
    let deps = workspace.root().join("target/agentcore/deps");
    let entry = std::fs::read_dir(&deps).unwrap().flatten().find(|e| !e.file_name().to_string_lossy().starts_with('.'));
    std::fs::write(entry.unwrap().path().join("deps.zip"), b"truncated").unwrap();
    std::fs::remove_file(&first.path).unwrap();
    let healed = package(&workspace, &wheels.tuning()).unwrap();
    assert_eq!(healed.dependencies, "installed");
    assert_eq!(healed.sha256, first.sha256);
}

#[test]
fn agent_without_dependencies_needs_no_uv() {
    let workspace = Workspace::fixture();
    workspace.set_requirements("fixture_bot", "# nothing yet\n");
    let tuning = PackageTuning { uv: Some(PathBuf::from("/nonexistent/uv")), ..PackageTuning::default() };
    let report = package(&workspace, &tuning).unwrap();
    assert_eq!(report.dependencies, "none");
    assert_eq!(report.platform, None);
    assert!(names(&report.path).contains(&"main.py".to_owned()));
}

#[test]
fn excluded_entry_point_and_missing_requirements_are_errors() {
    let workspace = Workspace::fixture();
    let manifest = workspace.agent_dir("fixture_bot").join("agent.toml");
    std::fs::write(&manifest, "entry_point = \"main.py\"\nexclude = [\"*.py\"]\n").unwrap();
    let ctx = workspace.ctx();
    let agent = workspace.agent(&ctx, "fixture_bot");
    let err =
        format!("{:#}", package_agent_with(&ctx, &agent, &workspace.options(), &PackageTuning::default()).unwrap_err());
    assert!(err.contains("entry point `main.py` is excluded"), "{err}");

    std::fs::write(&manifest, "entry_point = \"main.py\"\n").unwrap();
    workspace.set_requirements("fixture_bot", "tinydep>=1.0\n");
    let agent = workspace.agent(&ctx, "fixture_bot");
    let err =
        format!("{:#}", package_agent_with(&ctx, &agent, &workspace.options(), &PackageTuning::default()).unwrap_err());
    assert!(err.contains("line 1: `tinydep>=1.0` is not pinned to one version"), "{err}");
    assert!(!workspace.options().out_dir.exists(), "refused before anything is written");

    std::fs::remove_file(workspace.agent_dir("fixture_bot").join("requirements.txt")).unwrap();
    let err = format!("{:#}", xtask::agents::discover(workspace.root(), &ctx.settings).unwrap_err());
    assert!(err.contains("requirements file `requirements.txt` does not exist"), "{err}");
}

#[test]
fn cli_prints_a_table_or_json() {
    let wheels = Wheels::build();
    let workspace = Workspace::fixture();
    // The zips are deterministic, so their hashes are stable everywhere: only the temp root is redacted.
    let root = workspace.root().to_str().unwrap().to_owned();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).replace(&root, "[ROOT]");

    let human = workspace.cli(&wheels, &["package", "fixture_bot"]);
    assert!(human.status.success(), "{}", text(&human.stderr));
    let json = workspace.cli(&wheels, &["package", "--all", "--json"]);
    assert!(json.status.success(), "{}", text(&json.stderr));
    let again = workspace.cli(&wheels, &["package", "--all"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    serde_json::from_slice::<Vec<PackageReport>>(&json.stdout).expect("--json prints an array of reports");

    snapshot_settings().bind(|| {
        insta::assert_snapshot!("cli_human", text(&human.stdout));
        insta::assert_snapshot!("cli_human_progress", text(&human.stderr));
        insta::assert_snapshot!("cli_json", text(&json.stdout));
        insta::assert_snapshot!("cli_json_progress", text(&json.stderr));
        insta::assert_snapshot!("cli_human_unchanged", text(&again.stdout));
    });

    // A failure: humans get only the error; JSON readers get the agents that did package.
    workspace.set_requirements("fixture_bot", "x86only==1.0.0\n");
    let failed = workspace.cli(&wheels, &["package", "fixture_bot"]);
    assert_eq!(failed.status.code(), Some(1));
    assert!(failed.stdout.is_empty(), "{}", text(&failed.stdout));
    assert!(text(&failed.stderr).contains("error: agent `fixture_bot`: no linux ARM64 wheel for `x86only`"));
    let partial = workspace.cli(&wheels, &["package", "--all", "--json"]);
    assert_eq!(partial.status.code(), Some(1));
    let reports: Vec<PackageReport> = serde_json::from_slice(&partial.stdout).unwrap();
    assert_eq!(reports.iter().map(|report| report.agent.as_str()).collect::<Vec<_>>(), ["plain_bot"]);
}

#[test]
fn cli_help() {
    let output = xtask_command(&repo_root()).args(["package", "--help"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    // The command's own part; the global flags from `--json` on belong to the whole tool.
    let own = stdout.split("      --json").next().unwrap().to_owned();
    assert!(own.len() < stdout.len(), "{stdout}");
    snapshot_settings().bind(|| insta::assert_snapshot!("help_package", own));
}

#[test]
fn cli_refuses_unclear_requests_before_doing_anything() {
    let wheels = Wheels::build();
    let workspace = Workspace::fixture();
    std::fs::write(workspace.root().join("other.txt"), "Another prompt.").unwrap();
    let cases: &[&[&str]] = &[
        &["package"],
        &["package", "--all", "--prompt", "other.txt"],
        &["package", "--changed-since", "HEAD", "--prompt", "other.txt"],
        &["package", "fixture_bot", "plain_bot", "--prompt", "other.txt"],
        &["package", "fixture_bot", "--prompt", "missing.txt"],
        &["package", "fixture_bot", "--prompt", "agents"],
        &["package", "fixture_bot", "nobody"],
        &["package", "fixture_bot", "--out", "agents/fixture_bot/main.py"],
    ];
    let mut transcript = String::new();
    for args in cases {
        let output = workspace.cli(&wheels, args);
        let code = output.status.code().unwrap_or(-1);
        assert_ne!(code, 0, "{args:?} must fail");
        assert!(output.stdout.is_empty(), "{args:?} printed a result");
        let stderr = String::from_utf8_lossy(&output.stderr).replace(workspace.root().to_str().unwrap(), "[ROOT]");
        transcript += &format!("$ cargo xtask {} (exit {code})\n{stderr}\n", args.join(" "));
    }
    assert!(!workspace.root().join("target/agentcore").exists(), "nothing may be written");
    assert!(!workspace.root().join("out").exists(), "nothing may be written");
    snapshot_settings().bind(|| insta::assert_snapshot!("cli_usage_errors", transcript));
}

#[test]
fn leftovers_of_an_interrupted_run_are_removed_on_the_next_run() {
    let wheels = Wheels::build();
    let workspace = Workspace::fixture();
    let first = package(&workspace, &wheels.tuning()).unwrap();
    let out = workspace.options().out_dir;
    // What a killed run leaves: temporaries nobody holds any more.
    std::fs::write(out.join(".tmp-zip-k1ll3d"), b"half a zip").unwrap();
    std::fs::write(out.join(".tmp-report-k1ll3d"), b"{").unwrap();
    // What a concurrent run holds, and a file that is not ours.
    let live = xtask::package::temp::file(&out, ".tmp-zip-").unwrap();
    std::fs::write(out.join(".tmp-notes"), b"mine").unwrap();

    let again = package(&workspace, &wheels.tuning()).unwrap();
    assert!(again.unchanged, "an unchanged agent still cleans up");
    let mut left: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|entry| entry.unwrap().file_name().into_string().unwrap()).collect();
    left.sort();
    let live_name = live.path().file_name().unwrap().to_str().unwrap().to_owned();
    assert_eq!(left, [".tmp-notes", live_name.as_str(), "fixture_bot.zip", "fixture_bot.zip.json"]);
    assert_eq!(std::fs::read(&first.path).unwrap().len() as u64, first.zipped_bytes);

    // An install killed halfway leaves a staging directory beside the cache: the next install removes it.
    let deps = workspace.root().join("target/agentcore/deps");
    std::fs::create_dir_all(deps.join(".tmp-k1ll3d/site-0/tinydep")).unwrap();
    workspace.set_requirements("fixture_bot", "tinydep==1.0.0\nnewglibc==1.0.0\n");
    let installed = package(&workspace, &wheels.tuning()).unwrap();
    assert_eq!(installed.dependencies, "installed");
    let staging: Vec<_> = std::fs::read_dir(&deps)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(staging.is_empty(), "{staging:?}");
}

#[test]
fn layers_unused_for_a_month_are_pruned_and_hits_count_as_use() {
    let wheels = Wheels::build();
    let workspace = Workspace::fixture();
    let deps = workspace.root().join("target/agentcore/deps");
    let layers = || -> Vec<std::path::PathBuf> {
        let mut dirs: Vec<_> = std::fs::read_dir(&deps).unwrap().map(|entry| entry.unwrap().path()).collect();
        dirs.sort();
        dirs
    };
    let age = |dir: &Path, days: u64| {
        let when = std::time::SystemTime::now() - std::time::Duration::from_secs(days * 24 * 3600);
        std::fs::File::options().write(true).open(dir.join("layer.json")).unwrap().set_modified(when).unwrap();
    };
    package(&workspace, &wheels.tuning()).unwrap();
    let first = layers();
    assert_eq!(first.len(), 1);

    // Used 40 days ago, then hit again today: kept.
    age(&first[0], 40);
    std::fs::remove_dir_all(workspace.options().out_dir).unwrap();
    assert_eq!(package(&workspace, &wheels.tuning()).unwrap().dependencies, "cached");
    workspace.set_requirements("fixture_bot", "tinydep==1.0.0\nnewglibc==1.0.0\n");
    package(&workspace, &wheels.tuning()).unwrap();
    assert_eq!(layers().len(), 2, "a layer hit today stays");

    // Unused for 40 days: the next install removes it, and only it.
    age(&first[0], 40);
    let second: Vec<_> = layers().into_iter().filter(|dir| *dir != first[0]).collect();
    age(&second[0], 29);
    workspace.set_requirements("fixture_bot", "tinydep==1.0.0\nhostlib==1.0.0\n");
    package(&workspace, &wheels.tuning()).unwrap();
    let now = layers();
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(!now.contains(&first[0]) && now.contains(&second[0]));
}

/// Packages the repository's own agents, whichever they are, from PyPI: every native library must
/// be an aarch64 ELF. Their dependencies are what has native code to check.
#[test]
fn real_agents_ship_only_aarch64_native_code() {
    let root = repo_root();
    let ctx = crate::support::ctx(&root, Default::default());
    let agents = xtask::agents::discover(&root, &ctx.settings).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let options = PackageOptions { out_dir: scratch.path().join("out"), prompt_override: None };
    let tuning =
        PackageTuning { deps_dir: Some(scratch.path().join("deps")), uv: Some(uv()), ..PackageTuning::default() };
    let mut shared_objects = 0;
    for agent in &agents {
        let report = package_agent_with(&ctx, agent, &options, &tuning).unwrap();
        shared_objects += aarch64_libraries(&report.path);
        assert!(names(&report.path).iter().any(|name| name == agent.manifest.entry_point.file()), "{}", agent.name);
    }
    assert!(
        shared_objects > 5,
        "expected native libraries (pydantic-core, cryptography...) in the agents' dependencies, found {shared_objects}"
    );
}

/// The native libraries in a zip, each checked to be an aarch64 ELF.
fn aarch64_libraries(zip: &Path) -> usize {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let mut shared_objects = 0;
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).unwrap();
        let name = file.name().unwrap().into_owned();
        if !(name.ends_with(".so") || name.contains(".so.")) {
            continue;
        }
        let mut header = [0; 20];
        file.read_exact(&mut header).unwrap();
        assert_eq!(&header[..4], b"\x7fELF", "{name} is not an ELF file");
        assert_eq!(u16::from_le_bytes([header[18], header[19]]), 0xB7, "{name} is not aarch64");
        shared_objects += 1;
    }
    shared_objects
}

fn read_entry(zip: &Path, name: &str) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let mut bytes = Vec::new();
    archive.by_name(name).unwrap().read_to_end(&mut bytes).unwrap();
    bytes
}
