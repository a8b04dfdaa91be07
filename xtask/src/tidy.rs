//! Repository rules, enforced by `cargo test`: module docs, and CI running README's test command.

use std::path::Path;

use crate::settings::workspace_root;

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "rs"))
        .map(|entry| entry.into_path())
        .collect()
}

#[test]
fn every_module_opens_with_a_doc_line() {
    let root = workspace_root();
    let mut missing = Vec::new();
    let dirs = ["xtask/src", "xtask/tests", "xtask/agentcore-local/src", "xtask/agentcore-local/tests"];
    for dir in dirs {
        assert!(root.join(dir).is_dir(), "{dir} is gone: update the list of folders this test reads");
    }
    for file in dirs.iter().flat_map(|dir| rust_files(&root.join(dir))) {
        let text = std::fs::read_to_string(&file).unwrap();
        if !text.starts_with("//!") {
            missing.push(file.strip_prefix(&root).unwrap().display().to_string());
        }
    }
    assert!(missing.is_empty(), "start these files with a `//!` line saying what the module is for: {missing:?}");
}

/// The test command a newcomer reads in README.md is the one CI runs.
#[test]
fn ci_runs_the_readme_test_command() {
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let command = readme
        .lines()
        .find(|line| line.contains("# the tests"))
        .and_then(|line| line.split('#').next())
        .map(str::trim)
        .expect("README.md's quick start names the test command with a `# the tests` comment");
    let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
    assert!(ci.lines().any(|line| line.trim() == command), ".ci/run must run `{command}` as README.md says");
}

/// CI has no tool a newcomer lacks: besides zizmor it installs nothing and leaves PATH alone, so the
/// tests pass on the tools they install themselves (`xtask/tests/it/tools.rs`).
#[test]
fn ci_installs_nothing_the_tests_need() {
    let ci = std::fs::read_to_string(workspace_root().join(".ci/run")).unwrap();
    for line in ci.lines().map(str::trim).filter(|line| !line.starts_with('#')) {
        assert!(!line.contains("PATH="), ".ci/run must not change PATH: {line}");
        if let Some((_, packages)) = line.split_once(" install ") {
            let named = packages.split_whitespace().filter(|word| !word.starts_with('-'));
            for package in named {
                assert!(
                    package.starts_with("zizmor=="),
                    ".ci/run installs only zizmor; the tests install {package} themselves: {line}"
                );
            }
        }
    }
}
