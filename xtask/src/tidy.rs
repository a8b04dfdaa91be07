//! Repository rules, enforced by `cargo test`: module docs, CI running README's test command, and no
//! import cycle between the top-level modules.

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

/// The crate's top-level modules and, for each, the top-level modules its code names
/// (`crate::x`, `use crate::{x, …}`, and `progress!`, which lives in `output`). Comments are left
/// out, so a doc link makes no dependency; test modules count like any other code.
fn module_dependencies(src: &Path) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut modules = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(src).unwrap().map(Result::unwrap) {
        let path = entry.path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let is_module = path.is_dir() || path.extension().is_some_and(|ext| ext == "rs");
        if !is_module || ["lib", "main", "tidy"].contains(&name.as_str()) {
            continue;
        }
        let files = if path.is_dir() { rust_files(&path) } else { vec![path.clone()] };
        let used: &mut std::collections::BTreeSet<String> = modules.entry(name).or_default();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let code: String =
                text.lines().map(|line| line.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
            used.extend(named_modules(&code));
        }
    }
    let known: std::collections::BTreeSet<String> = modules.keys().cloned().collect();
    for (name, used) in &mut modules {
        used.retain(|other| other != name && known.contains(other));
    }
    modules
}

/// The first path segment after every `crate::` in `code`, braces of `use crate::{…}` included.
fn named_modules(code: &str) -> Vec<String> {
    let mut names = Vec::new();
    let ident = |text: &str| text.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    for (start, _) in code.match_indices("crate::") {
        let rest = &code[start + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Only the group's outermost items name modules: `{agents::{self, Agent}, aws}`.
            let (mut depth, mut item_start) = (0, true);
            for (index, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        names.push(ident(&group[index..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            names.push(ident(rest));
        }
    }
    if code.contains("progress!") {
        names.push("output".to_owned());
    }
    names
}

/// A cycle in `graph`, as the modules along it, if there is one.
fn find_cycle(graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        marks: &mut std::collections::BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = path.iter().position(|seen| seen == node).unwrap();
                let mut cycle = path[start..].to_vec();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.to_owned(), Mark::Open);
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(node.to_owned(), Mark::Done);
        None
    }
    let mut marks = std::collections::BTreeMap::new();
    graph.keys().find_map(|node| visit(node, graph, &mut marks, &mut Vec::new()))
}

/// The top-level modules form layers: a module uses only modules below it, so no two modules (and
/// no chain of them) import each other. The CLI sits on top; the context, below every command.
#[test]
fn top_level_modules_do_not_import_each_other_in_a_cycle() {
    let graph = module_dependencies(&workspace_root().join("xtask/src"));
    assert!(graph.contains_key("cli") && graph["cli"].contains("deploy"), "the scan finds the modules: {graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!("modules import each other in a cycle: {}; move what they share below both", cycle.join(" → "));
    }
}

#[test]
fn the_cycle_check_sees_use_groups_and_reports_a_cycle() {
    let names = named_modules("use crate::{agents::{self, Agent}, aws};\nlet x = crate::deploy::run();");
    assert_eq!(names, ["agents", "aws", "deploy"]);
    let graph = [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"]), ("d", vec![])]
        .into_iter()
        .map(|(name, used)| (name.to_owned(), used.into_iter().map(str::to_owned).collect()))
        .collect();
    assert_eq!(find_cycle(&graph), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
}
