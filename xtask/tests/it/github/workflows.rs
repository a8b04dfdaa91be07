//! Invariants of every file in .github/workflows and .github/actions: least privilege, pinning,
//! concurrency, no expression in a script, credentials only where the roles' trust policies expect
//! them, xtask compiled by one job per run, caches written only by main.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_yaml_ng::{Mapping, Value};
use xtask::settings::workspace_root;

fn get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value.as_mapping().and_then(|map| map.get(key))
}

/// The action that restores or builds xtask (the one step of a run that may compile it), and the one
/// later jobs of the run download the binary with.
const BUILD_ACTION: &str = ".github/actions/xtask";
const DOWNLOAD_ACTION: &str = ".github/actions/xtask-download";
/// Caches are written only on main, and never by a pull request event (`pull_request_target` runs
/// with `github.ref` set to main).
const MAIN_REF_GUARD: &str = "github.ref == 'refs/heads/main'";
const NOT_PR_GUARD: &str = "!startsWith(github.event_name, 'pull_request')";

/// The repository's composite actions by their path (`.github/actions/NAME`), as YAML text.
pub type Actions = BTreeMap<String, String>;

/// The repository path of a `$/…` (this repository at the run's commit) or `./…` (the workspace) action.
fn local_action(uses: &str) -> Option<&str> {
    uses.strip_prefix("$/").or_else(|| uses.strip_prefix("./"))
}

fn is_sha_pinned(uses: &str) -> bool {
    // The self-repository syntax resolves to the run's own commit.
    if uses.starts_with("$/") {
        return true;
    }
    let Some((action, reference)) = uses.split_once('@') else { return false };
    action.split('/').count() >= 2
        && !action.starts_with("./")
        && reference.len() == 40
        && reference.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Every problem found in one workflow file, the steps of the local actions it uses included; empty
/// when it keeps every rule.
pub fn check_workflow(file: &str, text: &str, actions: &Actions) -> Vec<String> {
    let mut problems = Vec::new();
    let workflow: Value = match serde_yaml_ng::from_str(text) {
        Ok(value) => value,
        Err(err) => return vec![format!("{file}: not YAML: {err}")],
    };
    let triggers = get(&workflow, "on").cloned().unwrap_or(Value::Null);
    let trigger_names: Vec<String> = match &triggers {
        Value::String(name) => vec![name.clone()],
        Value::Sequence(names) => names.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect(),
        Value::Mapping(map) => map.keys().filter_map(|k| k.as_str().map(str::to_owned)).collect(),
        _ => vec![],
    };
    if trigger_names.is_empty() {
        problems.push(format!("{file}: no `on:` triggers"));
    }
    for dangerous in ["pull_request_target", "workflow_run"] {
        if trigger_names.iter().any(|name| name == dangerous) {
            problems.push(format!("{file}: `{dangerous}` runs untrusted code with secrets"));
        }
    }
    match get(&workflow, "permissions") {
        Some(Value::Mapping(map)) if map.is_empty() => {}
        _ => problems.push(format!("{file}: top-level `permissions: {{}}` is missing")),
    }
    match get(&workflow, "concurrency") {
        Some(concurrency) => {
            if get(concurrency, "cancel-in-progress") != Some(&Value::Bool(false)) {
                problems.push(format!("{file}: concurrency must set `cancel-in-progress: false`"));
            }
            let group = get(concurrency, "group").and_then(Value::as_str).unwrap_or("");
            if group.is_empty() {
                problems.push(format!("{file}: concurrency has no group"));
            }
            if trigger_names.iter().any(|name| name == "pull_request") && !group.contains("pull_request.number") {
                problems.push(format!("{file}: pull request workflows need a per-PR concurrency group"));
            }
        }
        None => problems.push(format!("{file}: no top-level concurrency group")),
    }
    let is_prod = file.starts_with("prod-");
    let Some(jobs) = get(&workflow, "jobs").and_then(Value::as_mapping) else {
        problems.push(format!("{file}: no jobs"));
        return problems;
    };
    let pull_request_triggered = trigger_names.iter().any(|name| name.starts_with("pull_request"));
    for (job_name, job) in jobs {
        let job_name = format!("{file}: job `{}`", job_name.as_str().unwrap_or("?"));
        // The prod role trusts the production environments only; every other job is the PR role's.
        let environment = get(job, "environment")
            .and_then(|env| env.as_str().map(str::to_owned).or_else(|| get(env, "name")?.as_str().map(str::to_owned)));
        let production = matches!(environment.as_deref(), Some("production" | "production-deploy"));
        if production && pull_request_triggered {
            problems.push(format!("{job_name}: a pull request workflow uses a production environment"));
        }
        let permissions = get(job, "permissions").and_then(Value::as_mapping).cloned().unwrap_or_else(|| {
            problems.push(format!("{job_name}: explicit `permissions:` is missing"));
            Mapping::new()
        });
        for (scope, level) in &permissions {
            if !matches!(level.as_str(), Some("read" | "write" | "none")) {
                problems.push(format!("{job_name}: permission {scope:?} is {level:?}"));
            }
        }
        // A matrix that fails fast cancels the other agents' deploys: a silently cancelled deploy.
        if let Some(strategy) = get(job, "strategy")
            && get(strategy, "matrix").is_some()
            && get(strategy, "fail-fast") != Some(&Value::Bool(false))
        {
            problems.push(format!("{job_name}: a matrix must set `fail-fast: false`"));
        }
        let steps = get(job, "steps").and_then(Value::as_sequence).cloned().unwrap_or_default();
        let mut uses_aws = false;
        for step in &steps {
            check_step(&job_name, step, text, &mut problems);
            if let Some(uses) = get(step, "uses").and_then(Value::as_str) {
                if uses.starts_with("actions/checkout@")
                    && get(step, "with").and_then(|with| get(with, "persist-credentials")) != Some(&Value::Bool(false))
                {
                    problems.push(format!("{job_name}: checkout must set `persist-credentials: false`"));
                }
                if uses.starts_with("aws-actions/configure-aws-credentials@") {
                    uses_aws = true;
                    let role = get(step, "with").and_then(|with| get(with, "role-to-assume")).and_then(Value::as_str);
                    let expected = if is_prod || production {
                        "vars.AGENTCORE_PROD_ROLE_ARN"
                    } else {
                        "vars.AGENTCORE_PR_DEPLOY_ROLE_ARN"
                    };
                    if role.map(|role| role.replace(' ', "")) != Some(format!("${{{{{expected}}}}}")) {
                        problems
                            .push(format!("{job_name}: role-to-assume must be `${{{{ {expected} }}}}`, is {role:?}"));
                    }
                    for key in ["aws-access-key-id", "aws-secret-access-key"] {
                        if get(step, "with").and_then(|with| get(with, key)).is_some() {
                            problems.push(format!("{job_name}: long-lived AWS keys; use OIDC"));
                        }
                    }
                }
            }
            if let Some(script) = get(step, "run").and_then(Value::as_str)
                && script.contains("xtask github")
                && !script.contains("--event \"$GITHUB_EVENT_PATH\"")
            {
                problems.push(format!("{job_name}: the xtask step must read `--event \"$GITHUB_EVENT_PATH\"`"));
            }
        }
        let runs_fork_code =
            get(job, "if").and_then(Value::as_str).is_some_and(|cond| cond.contains("!= github.repository"))
                && steps.iter().any(|step| {
                    get(step, "uses").and_then(Value::as_str).is_some_and(|u| u.starts_with("actions/checkout@"))
                });
        if runs_fork_code && permissions.values().any(|level| level.as_str() == Some("write")) {
            problems.push(format!("{job_name}: checks out a fork's code with a write permission"));
        }
        let id_token = permissions.get("id-token").and_then(Value::as_str) == Some("write");
        if uses_aws != id_token {
            problems.push(format!("{job_name}: `id-token: write` exactly when the job assumes an AWS role"));
        }
        if uses_aws && is_prod && !production {
            problems.push(format!("{job_name}: the prod role is trusted only in the production environments"));
        }
    }
    let pull_request = trigger_names.iter().any(|name| name.starts_with("pull_request"));
    check_xtask_and_caches(file, jobs, pull_request, actions, &mut problems);
    problems
}

/// Pinning, version comments and no expression in a script: for the steps of workflows and of
/// composite actions alike. `text` is the file the step is written in.
fn check_step(context: &str, step: &Value, text: &str, problems: &mut Vec<String>) {
    if let Some(uses) = get(step, "uses").and_then(Value::as_str) {
        if !is_sha_pinned(uses) {
            problems.push(format!("{context}: `{uses}` is not pinned to a full commit SHA"));
        }
        if uses.starts_with("./") {
            problems.push(format!(
                "{context}: `{uses}` runs whatever the workspace holds at that moment; use `$/…`, the run's own commit"
            ));
        }
        let commented = text.lines().any(|line| line.contains(uses) && line.contains("# v"));
        if local_action(uses).is_none() && !commented {
            problems.push(format!("{context}: `{uses}` lacks a `# vX` comment"));
        }
        if uses.starts_with("actions/cache@") {
            problems.push(format!(
                "{context}: the combined `actions/cache` saves whatever the job leaves behind; use \
                 `actions/cache/restore`, and `actions/cache/save` on main only"
            ));
        }
    }
    if let Some(script) = get(step, "run").and_then(Value::as_str)
        && script.contains("${{")
    {
        problems.push(format!("{context}: an expression inside `run:`; pass it through `env:`"));
    }
}

/// Every problem found in one composite action (`.github/actions/NAME/action.yml`).
pub fn check_action(file: &str, text: &str) -> Vec<String> {
    let action: Value = match serde_yaml_ng::from_str(text) {
        Ok(value) => value,
        Err(err) => return vec![format!("{file}: not YAML: {err}")],
    };
    let runs = get(&action, "runs");
    if runs.and_then(|runs| get(runs, "using")).and_then(Value::as_str) != Some("composite") {
        return vec![format!("{file}: only composite actions are expected here")];
    }
    let mut problems = Vec::new();
    let steps = runs.and_then(|runs| get(runs, "steps")).and_then(Value::as_sequence).cloned().unwrap_or_default();
    for (index, step) in steps.iter().enumerate() {
        let name = get(step, "name").and_then(Value::as_str).map_or_else(|| format!("step {index}"), str::to_owned);
        check_step(&format!("{file}: `{name}`"), step, text, &mut problems);
    }
    problems
}

/// One step as it runs: a workflow's own step, or a step of a composite action it uses.
struct RunStep {
    /// The index of the workflow step it belongs to.
    index: usize,
    step: Value,
    /// The local action it is a step of, when it is one.
    inside: Option<String>,
    /// Its own `if:` and that of the workflow step using its action: all must hold for it to run.
    conditions: Vec<String>,
}

fn run_steps(steps: &[Value], actions: &Actions, problems: &mut Vec<String>, job_name: &str) -> Vec<RunStep> {
    let mut expanded = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        let condition = get(step, "if").and_then(Value::as_str).map(str::to_owned);
        expanded.push(RunStep {
            index,
            step: step.clone(),
            inside: None,
            conditions: condition.clone().into_iter().collect(),
        });
        let Some(path) = get(step, "uses").and_then(Value::as_str).and_then(local_action) else { continue };
        let Some(text) = actions.get(path) else {
            problems.push(format!("{job_name}: uses `{path}`, which is not one of .github/actions/*/action.yml"));
            continue;
        };
        let Ok(action) = serde_yaml_ng::from_str::<Value>(text) else { continue };
        let inner = get(&action, "runs").and_then(|runs| get(runs, "steps")).and_then(Value::as_sequence);
        for inner_step in inner.into_iter().flatten() {
            let mut conditions: Vec<String> = condition.clone().into_iter().collect();
            conditions.extend(get(inner_step, "if").and_then(Value::as_str).map(str::to_owned));
            expanded.push(RunStep { index, step: inner_step.clone(), inside: Some(path.to_owned()), conditions });
        }
    }
    expanded
}

static RUNS_CARGO: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(^|[\s;&|(`])cargo\s").unwrap());
static COMPILES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(^|[\s;&|(`])cargo\s+(\+\S+\s+)?(xtask|build|run)\b").unwrap());
static RUNS_XTASK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(^|[\s;&|(`])xtask\s").unwrap());

fn script(step: &Value) -> &str {
    get(step, "run").and_then(Value::as_str).unwrap_or("")
}

fn uses_local(step: &Value, path: &str) -> bool {
    get(step, "uses").and_then(Value::as_str).and_then(local_action) == Some(path)
}

/// A cache write runs only on main, for an event other than a pull request's: one of its conditions
/// requires both, and none is an alternative that could hold without them.
fn is_main_only(conditions: &[String]) -> bool {
    conditions.iter().any(|condition| {
        condition.contains(MAIN_REF_GUARD) && condition.contains(NOT_PR_GUARD) && !condition.contains("||")
    })
}

fn needs_of(job: &Value) -> Vec<String> {
    match get(job, "needs") {
        Some(Value::String(need)) => vec![need.clone()],
        Some(Value::Sequence(needs)) => needs.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect(),
        _ => vec![],
    }
}

fn needs_transitively(jobs: &Mapping, job: &str, target: &str) -> bool {
    let mut pending = vec![job.to_owned()];
    let mut seen = Vec::new();
    while let Some(name) = pending.pop() {
        let Some(value) = jobs.get(name.as_str()) else { continue };
        for need in needs_of(value) {
            if need == target {
                return true;
            }
            if !seen.contains(&need) {
                seen.push(need.clone());
                pending.push(need);
            }
        }
    }
    false
}

/// One job per run may compile xtask; every other job that runs it downloads the binary, after the
/// build job (`needs`) and before its first xtask step; only the build job runs cargo; caches are
/// written on main only and never by a pull request workflow.
fn check_xtask_and_caches(
    file: &str,
    jobs: &Mapping,
    pull_request: bool,
    actions: &Actions,
    problems: &mut Vec<String>,
) {
    let mut compiling = Vec::new();
    let mut running_xtask = Vec::new();
    let mut expanded_jobs = Vec::new();
    for (name, job) in jobs {
        let name = name.as_str().unwrap_or("?").to_owned();
        let job_name = format!("{file}: job `{name}`");
        let steps = get(job, "steps").and_then(Value::as_sequence).cloned().unwrap_or_default();
        let expanded = run_steps(&steps, actions, problems, &job_name);
        let compiles =
            expanded.iter().any(|run| COMPILES.is_match(script(&run.step)) || uses_local(&run.step, BUILD_ACTION));
        if compiles {
            compiling.push(name.clone());
        }
        if expanded.iter().any(|run| RUNS_XTASK.is_match(script(&run.step))) {
            running_xtask.push(name.clone());
        }
        expanded_jobs.push((name, job_name, steps, expanded, compiles));
    }
    match compiling.as_slice() {
        [] if !running_xtask.is_empty() => problems.push(format!("{file}: runs xtask, but no job builds it")),
        [] | [_] => {}
        several => problems.push(format!(
            "{file}: jobs `{}` may each compile xtask; one job builds it, later jobs download it",
            several.join("`, `")
        )),
    }
    let build_job = compiling.first().cloned();
    let uploads = build_job.as_ref().is_some_and(|build| {
        let steps = jobs.get(build.as_str()).and_then(|job| get(job, "steps")).and_then(Value::as_sequence);
        steps.into_iter().flatten().any(|step| {
            uses_local(step, BUILD_ACTION)
                && get(step, "with").and_then(|with| get(with, "upload")).and_then(Value::as_str) == Some("true")
        })
    });
    for (name, job_name, steps, expanded, compiles) in &expanded_jobs {
        if !compiles && expanded.iter().any(|run| RUNS_CARGO.is_match(script(&run.step))) {
            problems.push(format!("{job_name}: runs cargo; only the job that builds xtask may"));
        }
        // The step that provides xtask: the build or download action, or a `cargo xtask` that compiles it.
        let provides = |run: &RunStep| {
            uses_local(&run.step, BUILD_ACTION)
                || uses_local(&run.step, DOWNLOAD_ACTION)
                || COMPILES.is_match(script(&run.step))
        };
        let provided_at = expanded.iter().find(|run| provides(run)).map(|run| run.index);
        let first_xtask = expanded
            .iter()
            .filter(|run| !matches!(run.inside.as_deref(), Some(BUILD_ACTION | DOWNLOAD_ACTION)))
            .find(|run| RUNS_XTASK.is_match(script(&run.step)))
            .map(|run| run.index);
        if let Some(first_xtask) = first_xtask
            && provided_at.is_none_or(|provided_at| provided_at > first_xtask)
        {
            problems.push(format!("{job_name}: runs xtask before restoring, building or downloading it"));
        }
        if let Some(provided_at) = provided_at {
            let checked_out = steps.iter().take(provided_at).any(|step| {
                get(step, "uses").and_then(Value::as_str).is_some_and(|uses| uses.starts_with("actions/checkout@"))
            });
            if !checked_out {
                problems.push(format!("{job_name}: check out the repository before xtask: it reads the workspace"));
            }
        }
        if steps.iter().any(|step| uses_local(step, DOWNLOAD_ACTION)) {
            match &build_job {
                Some(build) if needs_transitively(jobs, name, build) => {
                    if !uploads {
                        problems.push(format!(
                            "{job_name}: downloads xtask, but job `{build}` does not upload it (`upload: \"true\"`)"
                        ));
                    }
                }
                Some(build) => problems
                    .push(format!("{job_name}: downloads xtask but does not need job `{build}`, which builds it")),
                None => problems.push(format!("{job_name}: downloads xtask, but no job builds it")),
            }
        }
        for run in expanded {
            let Some(uses) = get(&run.step, "uses").and_then(Value::as_str) else { continue };
            if !uses.starts_with("actions/cache/save@") {
                continue;
            }
            if !is_main_only(&run.conditions) {
                problems.push(format!(
                    "{job_name}: `actions/cache/save` without the main-only guard `{MAIN_REF_GUARD} && {NOT_PR_GUARD}`"
                ));
            }
            // The shared action's guarded save never runs for a pull request; nothing else may be there.
            let guarded_shared_save = run.inside.is_some() && run.conditions.iter().any(|c| c.contains(NOT_PR_GUARD));
            if pull_request && !guarded_shared_save {
                problems.push(format!("{job_name}: a pull request workflow saves a cache"));
            }
        }
    }
}

fn workflow_files() -> Vec<(String, String)> {
    let dir = workspace_root().join(".github").join("workflows");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yml" || ext == "yaml"))
        .map(|path| (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&path).unwrap()))
        .collect();
    files.sort();
    files
}

/// `.github/actions/NAME/action.yml` by the path a `uses:` names (`.github/actions/NAME`).
fn local_actions() -> Actions {
    let dir = workspace_root().join(".github").join("actions");
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path().join("action.yml"))
        .filter(|path| path.is_file())
        .map(|path| {
            let name = path.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned();
            (format!(".github/actions/{name}"), std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

#[test]
fn every_workflow_keeps_the_rules() {
    let files = workflow_files();
    let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["gc.yml", "pr-closed.yml", "pr-deploy.yml", "prod-deploy.yml", "prod-promote.yml"]);
    let actions = local_actions();
    assert_eq!(actions.keys().collect::<Vec<_>>(), [BUILD_ACTION, DOWNLOAD_ACTION]);
    let mut problems: Vec<String> =
        files.iter().flat_map(|(name, text)| check_workflow(name, text, &actions)).collect();
    problems.extend(actions.iter().flat_map(|(path, text)| check_action(path, text)));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The binary's cache key covers what decides it, the dependencies' key leaves the crate out (so a
/// change to xtask/ alone compiles one crate), and the build leaves out the local emulator.
#[test]
fn the_xtask_cache_keys_cover_what_decides_the_binary() {
    let action: Value = serde_yaml_ng::from_str(&local_actions()[BUILD_ACTION]).unwrap();
    let steps = get(get(&action, "runs").unwrap(), "steps").and_then(Value::as_sequence).unwrap();
    let step = |name: &str| steps.iter().find(|step| get(step, "name").and_then(Value::as_str) == Some(name)).unwrap();
    let keys = get(step("Cache keys"), "env").unwrap();
    let binary = get(keys, "BINARY_HASH").and_then(Value::as_str).unwrap();
    let dependencies = get(keys, "DEPENDENCIES_HASH").and_then(Value::as_str).unwrap();
    for file in ["'Cargo.lock'", "'Cargo.toml'", "'.cargo/config.toml'"] {
        assert!(binary.contains(file) && dependencies.contains(file), "{file}");
    }
    assert!(binary.contains("'xtask/**'") && binary.contains("'.github/actions/xtask/action.yml'"));
    assert!(!dependencies.contains("xtask/"));
    let script = get(step("Cache keys"), "run").and_then(Value::as_str).unwrap();
    assert!(script.contains("-rust-$TOOLCHAIN"), "the toolchain is part of both keys");
    let restore = get(step("Restore the compiled dependencies"), "with").unwrap();
    assert_eq!(
        get(restore, "restore-keys").and_then(Value::as_str),
        Some("${{ steps.keys.outputs.dependencies-prefix }}")
    );
    let build = get(step("Build xtask"), "run").and_then(Value::as_str).unwrap();
    assert_eq!(build, "cargo build --package xtask --locked --no-default-features");
    // A hit installs no toolchain and compiles nothing.
    for name in ["Rust toolchain", "Restore the compiled dependencies", "Build xtask"] {
        assert!(
            get(step(name), "if").and_then(Value::as_str).unwrap().contains("steps.binary.outputs.cache-hit != 'true'")
        );
    }
}

#[test]
fn the_promotion_runs_in_production_for_approved_only() {
    let text = std::fs::read_to_string(workspace_root().join(".github/workflows/prod-promote.yml")).unwrap();
    let workflow: Value = serde_yaml_ng::from_str(&text).unwrap();
    let job = get(get(&workflow, "jobs").unwrap(), "promote").unwrap();
    assert_eq!(get(job, "environment").and_then(Value::as_str), Some("production"));
    let condition = get(job, "if").and_then(Value::as_str).unwrap();
    assert!(condition.contains("github.event.label.name == 'approved'"), "{condition}");
    let on = get(&workflow, "on").unwrap();
    assert_eq!(
        get(get(on, "issues").unwrap(), "types").unwrap(),
        &serde_yaml_ng::from_str::<Value>("[labeled]").unwrap()
    );
    assert!(text.contains("collaborators/$SENDER/permission"));
    // Promoted issues are labelled and closed; any other outcome takes the approval back.
    let steps = get(job, "steps").and_then(Value::as_sequence).unwrap();
    let step = |name: &str| steps.iter().find(|step| get(step, "name").and_then(Value::as_str) == Some(name)).unwrap();
    let take_back = step("Take the approval back");
    assert!(
        get(take_back, "if").and_then(Value::as_str).unwrap().contains("steps.promote.outputs.result != 'promoted'")
    );
    assert!(get(take_back, "run").and_then(Value::as_str).unwrap().contains("--remove-label approved"));
    let close = step("Label promoted and close");
    assert!(get(close, "if").and_then(Value::as_str).unwrap().contains("steps.promote.outputs.result == 'promoted'"));
    // The other open deployment issues go to xtask, which writes a comment per issue it superseded;
    // only after a promotion are those closed.
    let promote = get(step("Promote (or roll back)"), "run").and_then(Value::as_str).unwrap();
    assert!(promote.contains("--open-issues \"$RUNNER_TEMP/open-issues.json\""), "{promote}");
    assert!(promote.contains("--superseded-dir \"$RUNNER_TEMP/superseded\""), "{promote}");
    assert!(
        get(step("List the open deployment issues"), "run")
            .and_then(Value::as_str)
            .unwrap()
            .contains("open-issues.json")
    );
    let superseded = step("Close the issues it superseded");
    assert!(
        get(superseded, "if").and_then(Value::as_str).unwrap().contains("steps.promote.outputs.result == 'promoted'")
    );
    let script = get(superseded, "run").and_then(Value::as_str).unwrap();
    assert!(
        script.contains("\"$RUNNER_TEMP\"/superseded/*.md") && script.contains("--add-label superseded"),
        "{script}"
    );
}

/// gc closes the issues xtask wrote a comment for, comments on the pull requests whose idle preview
/// it deleted, and holds the permissions for both and no more.
#[test]
fn gc_closes_superseded_issues_and_tells_idle_pull_requests() {
    let text = std::fs::read_to_string(workspace_root().join(".github/workflows/gc.yml")).unwrap();
    let workflow: Value = serde_yaml_ng::from_str(&text).unwrap();
    let job = get(get(&workflow, "jobs").unwrap(), "gc").unwrap();
    let permissions: Vec<(String, String)> = get(job, "permissions")
        .and_then(Value::as_mapping)
        .unwrap()
        .iter()
        .map(|(scope, level)| (scope.as_str().unwrap().to_owned(), level.as_str().unwrap().to_owned()))
        .collect();
    let expected = [("contents", "read"), ("id-token", "write"), ("issues", "write"), ("pull-requests", "write")];
    assert_eq!(permissions, expected.map(|(scope, level)| (scope.to_owned(), level.to_owned())));
    let steps = get(job, "steps").and_then(Value::as_sequence).unwrap();
    let script = |name: &str| {
        let step = steps.iter().find(|step| get(step, "name").and_then(Value::as_str) == Some(name)).unwrap();
        get(step, "run").and_then(Value::as_str).unwrap().to_owned()
    };
    let gc = script("Delete PR runtimes nothing refers to");
    assert!(gc.contains("--superseded-dir \"$RUNNER_TEMP/superseded\" --idle-dir \"$RUNNER_TEMP/idle\""), "{gc}");
    let close = script("Close the deployment issues a later release superseded");
    assert!(close.contains("\"$RUNNER_TEMP\"/superseded/*.md") && close.contains("gh issue close"), "{close}");
    let tell = script("Tell idle pull requests how to get their preview back");
    assert!(tell.contains("\"$RUNNER_TEMP\"/idle/*.md") && tell.contains("/comments"), "{tell}");
}

/// gc's second job prunes the prod runtimes' old versions: under the prod role, in the environment
/// that role trusts, after the sweep's job built xtask, with nothing but the token it needs.
#[test]
fn gc_prunes_prod_versions_in_a_job_of_its_own() {
    let text = std::fs::read_to_string(workspace_root().join(".github/workflows/gc.yml")).unwrap();
    let workflow: Value = serde_yaml_ng::from_str(&text).unwrap();
    let jobs = get(&workflow, "jobs").unwrap();
    let job = get(jobs, "prune").unwrap();
    assert_eq!(get(job, "needs").and_then(Value::as_str), Some("gc"));
    assert_eq!(get(job, "environment").and_then(Value::as_str), Some("production-deploy"));
    let permissions: Vec<(&str, &str)> = get(job, "permissions")
        .and_then(Value::as_mapping)
        .unwrap()
        .iter()
        .map(|(scope, level)| (scope.as_str().unwrap(), level.as_str().unwrap()))
        .collect();
    assert_eq!(permissions, [("contents", "read"), ("id-token", "write")]);
    let steps = get(job, "steps").and_then(Value::as_sequence).unwrap();
    let role = steps
        .iter()
        .find_map(|step| get(step, "with").and_then(|with| get(with, "role-to-assume")).and_then(Value::as_str))
        .unwrap();
    assert_eq!(role, "${{ vars.AGENTCORE_PROD_ROLE_ARN }}");
    let prune = steps.iter().filter_map(|step| get(step, "run").and_then(Value::as_str)).collect::<Vec<_>>();
    assert_eq!(prune, ["xtask github gc --prune --event \"$GITHUB_EVENT_PATH\""]);
    // The sweep's job keeps the PR role, and holds no prod deletes.
    let gc = get(jobs, "gc").unwrap();
    assert_eq!(get(gc, "environment").and_then(Value::as_str), Some("pr-cleanup"));
}

#[test]
fn the_checker_catches_each_broken_rule() {
    let (_, good) = workflow_files().into_iter().find(|(name, _)| name == "pr-deploy.yml").unwrap();
    let (_, prod) = workflow_files().into_iter().find(|(name, _)| name == "prod-promote.yml").unwrap();
    let checkout = "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8";
    let cases: Vec<(&str, &str, String, &str)> = vec![
        ("pr-deploy.yml", "tag instead of SHA", good.replace(checkout, "actions/checkout@v5"), "not pinned"),
        ("pr-deploy.yml", "short SHA", good.replace(checkout, "actions/checkout@08c6903"), "not pinned"),
        ("pr-deploy.yml", "no version comment", good.replace(" # v5.0.0", ""), "# vX"),
        (
            "pr-deploy.yml",
            "credentials persisted",
            good.replacen("persist-credentials: false", "persist-credentials: true", 1),
            "persist-credentials",
        ),
        (
            "pr-deploy.yml",
            "title in a script",
            good.replace(
                "run: xtask github pr-deploy",
                "run: echo \"${{ github.event.pull_request.title }}\" && xtask github pr-deploy",
            ),
            "expression inside `run:`",
        ),
        ("pr-deploy.yml", "no top-level permissions", good.replace("permissions: {}\n", ""), "top-level"),
        ("pr-deploy.yml", "write-all", good.replace("permissions: {}\n", "permissions: write-all\n"), "top-level"),
        (
            "pr-deploy.yml",
            "job without permissions",
            good.replacen(
                "    permissions:\n      contents: read # check out the code\n      pull-requests: write # create or update the PR comment\n",
                "",
                1,
            ),
            "explicit `permissions:`",
        ),
        ("pr-deploy.yml", "matrix fails fast", good.replace("fail-fast: false", "fail-fast: true"), "fail-fast"),
        ("pr-deploy.yml", "matrix without fail-fast", good.replace("      fail-fast: false\n", ""), "fail-fast"),
        (
            "pr-deploy.yml",
            "artifact action by tag",
            good.replace("actions/upload-artifact@043fb46d1a93c77aae656e7c1c64a875d1fc6a0a", "actions/upload-artifact@v7"),
            "not pinned",
        ),
        (
            "pr-deploy.yml",
            "matrix value in a script",
            good.replace("--agent \"$AGENT\"", "--agent ${{ matrix.agent }}"),
            "expression inside `run:`",
        ),
        ("pr-deploy.yml", "cancelled deploys", good.replace("cancel-in-progress: false", "cancel-in-progress: true"), "cancel-in-progress"),
        (
            "pr-deploy.yml",
            "shared group",
            good.replace("agentcore-pr-${{ github.event.pull_request.number }}", "agentcore-pr"),
            "per-PR",
        ),
        ("pr-deploy.yml", "pull_request_target", good.replace("  pull_request:\n", "  pull_request_target:\n"), "pull_request_target"),
        (
            "pr-deploy.yml",
            "prod role in a PR job",
            good.replace("vars.AGENTCORE_PR_DEPLOY_ROLE_ARN", "vars.AGENTCORE_PROD_ROLE_ARN"),
            "role-to-assume",
        ),
        (
            "pr-deploy.yml",
            "event from an expression",
            good.replacen("--event \"$GITHUB_EVENT_PATH\"", "--event event.json", 1),
            "GITHUB_EVENT_PATH",
        ),
        (
            "pr-deploy.yml",
            "fork code with a write token",
            good.replace(
                "    # The fork's own code runs here: it gets a read-only view and nothing else.\n    permissions:\n",
                "    permissions:\n      pull-requests: write\n",
            ),
            "fork's code with a write permission",
        ),
        ("prod-promote.yml", "promotion outside production", prod.replace("    environment: production\n", ""), "production environments"),
        (
            "prod-promote.yml",
            "no OIDC permission",
            prod.replace("      id-token: write # OIDC token for the AWS role\n", ""),
            "id-token",
        ),
        (
            "pr-deploy.yml",
            "compiles twice",
            good.replacen("uses: $/.github/actions/xtask-download", "uses: $/.github/actions/xtask", 1),
            "may each compile xtask",
        ),
        (
            "pr-deploy.yml",
            "cargo xtask in a later job",
            good.replace("run: xtask github pr-plan", "run: cargo xtask github pr-plan"),
            "may each compile xtask",
        ),
        (
            "pr-deploy.yml",
            "a later job runs xtask without downloading it",
            good.replace(
                "      - name: Download xtask\n        uses: $/.github/actions/xtask-download\n      - name: Gather",
                "      - name: Gather",
            ),
            "runs xtask before restoring, building or downloading it",
        ),
        (
            "pr-deploy.yml",
            "downloaded after the xtask step",
            good.replace(
                "      - name: Download xtask\n        uses: $/.github/actions/xtask-download\n      - name: List the agents this pull request affects\n        id: plan\n        run: xtask github pr-plan --event \"$GITHUB_EVENT_PATH\"\n",
                "      - name: List the agents this pull request affects\n        id: plan\n        run: xtask github pr-plan --event \"$GITHUB_EVENT_PATH\"\n      - name: Download xtask\n        uses: $/.github/actions/xtask-download\n",
            ),
            "runs xtask before restoring, building or downloading it",
        ),
        (
            "pr-deploy.yml",
            "downloads without waiting for the build",
            good.replace(
                "    needs: build\n    if: github.event.pull_request.head.repo.full_name != github.repository",
                "    if: github.event.pull_request.head.repo.full_name != github.repository",
            ),
            "does not need job `build`",
        ),
        ("pr-deploy.yml", "the build job keeps no binary", good.replace("        with:\n          upload: \"true\"\n", ""), "does not upload it"),
        (
            "pr-deploy.yml",
            "cargo in a later job",
            good.replace("run: xtask github pr-plan", "run: cargo metadata --no-deps > /dev/null && xtask github pr-plan"),
            "runs cargo; only the job that builds xtask may",
        ),
        (
            "pr-deploy.yml",
            "a pull request workflow saves a cache",
            good.replace(
                "          upload: \"true\"\n",
                "          upload: \"true\"\n      - name: Save\n        if: github.ref == 'refs/heads/main' && !startsWith(github.event_name, 'pull_request')\n        uses: actions/cache/save@27d5ce7f107fe9357f9df03efb73ab90386fccae # v5.0.5\n        with:\n          path: target\n          key: poisoned\n",
            ),
            "a pull request workflow saves a cache",
        ),
        (
            "pr-deploy.yml",
            "workspace-relative action",
            good.replacen("uses: $/.github/actions/xtask", "uses: ./.github/actions/xtask", 1),
            "use `$/…`",
        ),
        (
            "pr-deploy.yml",
            "a pull request job in a production environment",
            good.replace("    needs: plan\n", "    needs: plan\n    environment: production-deploy\n"),
            "a pull request workflow uses a production environment",
        ),
        (
            "pr-deploy.yml",
            "the prod role outside the production environments",
            good.replace("vars.AGENTCORE_PR_DEPLOY_ROLE_ARN", "vars.AGENTCORE_PROD_ROLE_ARN"),
            "role-to-assume must be `${{ vars.AGENTCORE_PR_DEPLOY_ROLE_ARN }}`",
        ),
        (
            "prod-promote.yml",
            "xtask without a checkout",
            prod.replace(
                "      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0\n        with:\n          persist-credentials: false\n",
                "",
            ),
            "check out the repository before xtask",
        ),
    ];
    let actions = local_actions();
    for (file, name, text, expected) in cases {
        assert_ne!(&text, if file == "pr-deploy.yml" { &good } else { &prod }, "{name}: the mutation did not apply");
        let problems = check_workflow(file, &text, &actions);
        assert!(
            problems.iter().any(|problem| problem.contains(expected)),
            "{name}: expected `{expected}` in {problems:#?}"
        );
    }

    // The build action broken, as seen through a workflow that uses it.
    let build = &actions[BUILD_ACTION];
    let guard = "github.ref == 'refs/heads/main' && !startsWith(github.event_name, 'pull_request')";
    let action_cases: Vec<(&str, &str, String, &str)> = vec![
        ("prod-promote.yml", "save without the main guard", build.replacen(guard, "always()", 1), "main-only guard"),
        (
            "prod-promote.yml",
            "save on main for a pull request event too",
            build.replacen(" && !startsWith(github.event_name, 'pull_request')", "", 1),
            "main-only guard",
        ),
        (
            "pr-deploy.yml",
            "pull_request_target could save on main",
            build.replacen(" && !startsWith(github.event_name, 'pull_request')", "", 1),
            "a pull request workflow saves a cache",
        ),
        (
            "prod-promote.yml",
            "a guard with an alternative",
            build.replacen(guard, &format!("{guard} || github.event_name == 'issues'"), 1),
            "main-only guard",
        ),
        (
            "prod-promote.yml",
            "the combined cache action",
            build.replacen("actions/cache/restore@", "actions/cache@", 1),
            "combined",
        ),
        (
            "prod-promote.yml",
            "action step by tag",
            build.replace(
                "actions/upload-artifact@043fb46d1a93c77aae656e7c1c64a875d1fc6a0a",
                "actions/upload-artifact@v7",
            ),
            "not pinned",
        ),
        (
            "prod-promote.yml",
            "input in an action's script",
            build.replace("--locked --no-default-features", "--locked ${{ inputs.features }}"),
            "expression inside `run:`",
        ),
    ];
    for (file, name, mutated, expected) in action_cases {
        assert_ne!(&mutated, build, "{name}: the mutation did not apply");
        let mut mutated_actions = actions.clone();
        mutated_actions.insert(BUILD_ACTION.to_owned(), mutated);
        let mut problems = check_workflow(file, if file == "pr-deploy.yml" { &good } else { &prod }, &mutated_actions);
        problems.extend(check_action(BUILD_ACTION, &mutated_actions[BUILD_ACTION]));
        assert!(
            problems.iter().any(|problem| problem.contains(expected)),
            "{name}: expected `{expected}` in {problems:#?}"
        );
    }
}

fn iam(name: &str) -> serde_json::Value {
    let path = workspace_root().join(".github/iam").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|err| panic!("{name}: {err}"))
}

fn subjects(trust: &serde_json::Value) -> Vec<String> {
    let statements = trust["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1);
    let condition = &statements[0]["Condition"]["StringEquals"];
    assert_eq!(condition["token.actions.githubusercontent.com:aud"], "sts.amazonaws.com");
    assert_eq!(statements[0]["Action"], "sts:AssumeRoleWithWebIdentity");
    condition["token.actions.githubusercontent.com:sub"]
        .as_array()
        .unwrap()
        .iter()
        .map(|subject| subject.as_str().unwrap().to_owned())
        .collect()
}

/// The example roles are scoped as the README says: the PR role is trusted from pull requests and
/// the cleanup environment only, can change only `*_pr_*` runtimes and S3 prefixes, and reads of
/// prod only its versions, endpoints and records; the prod role is trusted from the production
/// environments only.
#[test]
fn iam_examples_scope_each_role() {
    assert_eq!(
        subjects(&iam("pr-deploy-trust.json")),
        ["repo:OWNER/REPO:pull_request", "repo:OWNER/REPO:environment:pr-cleanup"]
    );
    assert_eq!(
        subjects(&iam("prod-trust.json")),
        ["repo:OWNER/REPO:environment:production", "repo:OWNER/REPO:environment:production-deploy"]
    );
    // Every workflow environment that assumes a role is one a trust policy names.
    for (file, text) in workflow_files() {
        for line in text.lines().filter(|line| line.trim_start().starts_with("environment:")) {
            let environment = line.trim_start().trim_start_matches("environment:").trim();
            assert!(["production", "production-deploy", "pr-cleanup"].contains(&environment), "{file}: {environment}");
        }
    }
    let permissions = iam("pr-deploy-permissions.json");
    for statement in permissions["Statement"].as_array().unwrap() {
        let actions: Vec<&str> = match &statement["Action"] {
            serde_json::Value::String(action) => vec![action.as_str()],
            other => other.as_array().unwrap().iter().map(|action| action.as_str().unwrap()).collect(),
        };
        let resources: Vec<&str> = match &statement["Resource"] {
            serde_json::Value::String(resource) => vec![resource.as_str()],
            other => other.as_array().unwrap().iter().map(|resource| resource.as_str().unwrap()).collect(),
        };
        assert_eq!(statement["Effect"], "Allow");
        for action in actions {
            match action {
                // Listing finds a pull request's runtimes; creating names the runtime in the request.
                "bedrock-agentcore:ListAgentRuntimes" | "bedrock-agentcore:CreateAgentRuntime" => {}
                "iam:PassRole" => assert_eq!(
                    statement["Condition"]["StringEquals"]["iam:PassedToService"],
                    "bedrock-agentcore.amazonaws.com"
                ),
                // A first VPC runtime makes AgentCore's network service-linked role: that role only.
                "iam:CreateServiceLinkedRole" => assert_eq!(
                    statement["Condition"]["StringEquals"]["iam:AWSServiceName"],
                    "network.bedrock-agentcore.amazonaws.com"
                ),
                "s3:ListBucket" => {
                    assert_eq!(statement["Condition"]["StringLike"]["s3:prefix"], serde_json::json!(["*_pr_*"]))
                }
                _ => {
                    assert!(!action.contains('*'), "{action}: no wildcard actions");
                    assert!(
                        !action.contains("Endpoint") || !action.contains("Create") && !action.contains("Update"),
                        "{action}: the PR role never moves an endpoint"
                    );
                    // gc reads prod's versions, endpoints and records (never its code) to check a
                    // superseded issue before it deletes that issue's pull request's runtimes.
                    let reads = ["bedrock-agentcore:GetAgentRuntime", "bedrock-agentcore:GetAgentRuntimeEndpoint"];
                    for resource in &resources {
                        let reads_prod = (reads.contains(&action) && resource.contains("runtime/*_prod-*"))
                            || (action == "s3:GetObject" && resource.ends_with("/*_prod/v*/*.json"));
                        assert!(
                            resource.contains("_pr_*") || reads_prod,
                            "{action} on {resource}: only PR runtimes and prefixes, and reads of prod's versions and records"
                        );
                    }
                }
            }
        }
    }
}

/// pr-deploy is a matrix of one job per affected agent, and one job after all of them, even failed
/// or cancelled ones, renders the one comment from every job's result.
#[test]
fn pr_deploy_is_a_matrix_gathered_into_one_comment() {
    let text = std::fs::read_to_string(workspace_root().join(".github/workflows/pr-deploy.yml")).unwrap();
    let workflow: Value = serde_yaml_ng::from_str(&text).unwrap();
    let jobs = get(&workflow, "jobs").unwrap();
    let steps_of = |job: &Value| -> Vec<Value> { get(job, "steps").and_then(Value::as_sequence).cloned().unwrap() };
    let step_using = |job: &Value, prefix: &str| {
        steps_of(job)
            .into_iter()
            .find(|step| get(step, "uses").and_then(Value::as_str).is_some_and(|u| u.starts_with(prefix)))
    };
    let runs = |job: &Value, command: &str| {
        steps_of(job)
            .iter()
            .any(|step| get(step, "run").and_then(Value::as_str).is_some_and(|run| run.contains(command)))
    };

    // One job restores or builds xtask and keeps it; the others download it.
    let build = get(jobs, "build").unwrap();
    let build_step = steps_of(build)
        .into_iter()
        .find(|step| get(step, "uses").and_then(Value::as_str) == Some("$/.github/actions/xtask"))
        .expect("the build job restores or builds xtask");
    assert_eq!(get(get(&build_step, "with").unwrap(), "upload").and_then(Value::as_str), Some("true"));
    for name in ["plan", "deploy", "comment", "fork"] {
        let job = get(jobs, name).unwrap();
        assert!(
            steps_of(job)
                .iter()
                .any(|step| get(step, "uses").and_then(Value::as_str) == Some("$/.github/actions/xtask-download")),
            "{name}"
        );
    }
    for name in ["plan", "fork"] {
        assert_eq!(get(get(jobs, name).unwrap(), "needs").and_then(Value::as_str), Some("build"), "{name}");
    }

    let plan = get(jobs, "plan").unwrap();
    assert!(runs(plan, "xtask github pr-plan"));
    assert_eq!(
        get(get(plan, "outputs").unwrap(), "agents").and_then(Value::as_str),
        Some("${{ steps.plan.outputs.agents }}")
    );

    let deploy = get(jobs, "deploy").unwrap();
    assert_eq!(get(deploy, "needs").and_then(Value::as_str), Some("plan"));
    let strategy = get(deploy, "strategy").unwrap();
    assert_eq!(get(strategy, "fail-fast"), Some(&Value::Bool(false)));
    assert_eq!(
        get(get(strategy, "matrix").unwrap(), "agent").and_then(Value::as_str),
        Some("${{ fromJSON(needs.plan.outputs.agents) }}")
    );
    assert!(runs(deploy, "--agent \"$AGENT\"") && runs(deploy, "--result "));
    let upload = step_using(deploy, "actions/upload-artifact@").expect("each job keeps its result");
    assert_eq!(get(&upload, "if").and_then(Value::as_str), Some("always()"), "a failed deploy's result is kept too");

    let comment = get(jobs, "comment").unwrap();
    let needs: Vec<&str> =
        get(comment, "needs").and_then(Value::as_sequence).unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(needs, ["plan", "deploy"]);
    assert!(get(comment, "if").and_then(Value::as_str).unwrap().contains("always()"));
    let download = step_using(comment, "actions/download-artifact@").expect("the comment job gathers the results");
    assert_eq!(get(get(&download, "with").unwrap(), "pattern").and_then(Value::as_str), Some("pr-deploy-result-*"));
    assert!(runs(comment, "xtask github pr-comment") && runs(comment, "--results \"$RUNNER_TEMP/results\""));
    // The comment edited is the bot's own, found by its marker; nobody else's comment is touched.
    assert!(runs(
        comment,
        r#"select(.user.login == "github-actions[bot]" and (.body | startswith("<!-- agentcore:pr-comment -->")))"#
    ));
    assert!(text.contains(xtask::github::render::PR_COMMENT_MARKER));
    // The comment job holds no AWS role; the deploy jobs cannot write to the pull request.
    assert!(get(get(comment, "permissions").unwrap(), "id-token").is_none());
    assert!(get(get(deploy, "permissions").unwrap(), "pull-requests").is_none());
}

/// The `run` script of the step called `name` of `job` in `file`.
fn step_script(file: &str, job: &str, name: &str) -> String {
    let text = std::fs::read_to_string(workspace_root().join(".github/workflows").join(file)).unwrap();
    let workflow: Value = serde_yaml_ng::from_str(&text).unwrap();
    let steps = get(get(get(&workflow, "jobs").unwrap(), job).unwrap(), "steps").and_then(Value::as_sequence).unwrap();
    let step = steps.iter().find(|step| get(step, "name").and_then(Value::as_str) == Some(name)).unwrap();
    get(step, "run").and_then(Value::as_str).unwrap().to_owned()
}

/// An `environments_chain` needs no workflow of its own: the xtask steps of prod-deploy and
/// prod-promote, run as written (their `$GITHUB_EVENT_PATH`, `$RUNNER_TEMP` and `$GITHUB_OUTPUT`
/// given, `xtask` being this binary on the local stack) on a workspace whose settings hold a chain,
/// deploy a push to the first environment and make it live there, open an issue naming both
/// environments, and on its approval take the very zips to the second and make them live.
#[test]
fn a_chain_runs_through_the_prod_workflows_as_written() {
    use crate::support::{clean_env, environments_workspace, github_outputs, run};
    let deploy = step_script("prod-deploy.yml", "deploy", "Deploy changed agents to prod (not live)");
    let promote = step_script("prod-promote.yml", "promote", "Promote (or roll back)");
    for script in [&deploy, &promote] {
        // The environments come from the settings alone, and each move is smoke-gated.
        for flag in ["--env", "--prod", "--from-env", "--from-pr", "--region", "--bucket"] {
            assert!(!script.contains(flag), "{script}");
        }
        assert!(script.contains("--smoke"), "{script}");
    }
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("workspace");
    environments_workspace(&root);
    // Agents that serve, for the smoke gates.
    for agent in ["echo_bot", "weather_report_bot"] {
        let agent_main = root.join("agents").join(agent).join("main.py");
        std::fs::write(agent_main, include_str!("../../../agentcore-local/tests/it/fixtures/http_agent.py")).unwrap();
        std::fs::write(root.join("agents").join(agent).join("greeting.txt"), "hello").unwrap();
    }
    let runner_temp = temp.path().join("runner");
    std::fs::create_dir_all(&runner_temp).unwrap();
    let events = workspace_root().join("tests/events");
    std::fs::copy(events.join("commit_pulls_squash.json"), runner_temp.join("pulls.json")).unwrap();
    std::fs::write(runner_temp.join("open-issues.json"), "[]").unwrap();
    // `xtask` as the workflows call it: this binary, on a local stack kept in `state`.
    let bin = temp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let shim = bin.join("xtask");
    let state = temp.path().join("state");
    std::fs::write(
        &shim,
        format!("#!/bin/sh\nexec '{}' \"$@\" --local --local-dir '{}'\n", env!("CARGO_BIN_EXE_xtask"), state.display()),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let step = |script: &str, event: &std::path::Path, output: &str, extra: &[(&str, &str)]| {
        let mut command = std::process::Command::new("sh");
        clean_env(&mut command, &root);
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        command
            .arg("-c")
            .arg(script)
            .env("PATH", path)
            .env("GITHUB_EVENT_PATH", event)
            .env("RUNNER_TEMP", &runner_temp)
            .env("GITHUB_OUTPUT", runner_temp.join(output))
            .env("AGENTCORE_LOCAL_TRANSITION_MS", "50")
            .envs(extra.iter().copied());
        let (ok, stdout, stderr) = run(&mut command);
        assert!(ok, "{script}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        github_outputs(&runner_temp.join(output))
    };

    // The merge of PR 12: both agents live on staging, an issue asking for prod.
    let outputs = step(&deploy, &events.join("push_main_squash.json"), "deploy.out", &[]);
    assert_eq!(outputs.get("issue").map(String::as_str), Some("true"), "{outputs:?}");
    assert_eq!(outputs["title"], "Promote to prod: echo_bot v1, weather_report_bot v1 of staging (PR #12)");
    let body = std::fs::read_to_string(&outputs["body"]).unwrap();
    assert!(body.contains(r#""env":"prod","from":"staging""#), "{body}");

    // Its approval, by an admin.
    let mut event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(events.join("issues_labeled_approved.json")).unwrap()).unwrap();
    event["issue"]["body"] = body.into();
    let approved = runner_temp.join("approved.json");
    std::fs::write(&approved, event.to_string()).unwrap();
    let outputs = step(&promote, &approved, "promote.out", &[("PERMISSION", "admin")]);
    assert_eq!(outputs.get("result").map(String::as_str), Some("promoted"), "{outputs:?}");
    let comment = std::fs::read_to_string(&outputs["comment"]).unwrap();
    assert!(comment.contains("### The same bytes"), "{comment}");
    assert!(comment.contains("| `echo_bot` | `1` | `echo_bot_prod` | `1` | created |"), "{comment}");
}
