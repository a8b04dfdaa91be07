//! Invariants of every file in .github/workflows: least privilege, pinning, concurrency, no
//! expression in a script, credentials only where the roles' trust policies expect them.

use serde_yaml_ng::{Mapping, Value};
use xtask::settings::workspace_root;

fn get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value.as_mapping().and_then(|map| map.get(key))
}

fn is_sha_pinned(uses: &str) -> bool {
    let Some((action, reference)) = uses.split_once('@') else { return false };
    action.split('/').count() >= 2
        && !action.starts_with("./")
        && reference.len() == 40
        && reference.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Every problem found in one workflow file; empty when it keeps every rule.
pub fn check_workflow(file: &str, text: &str) -> Vec<String> {
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
    for (job_name, job) in jobs {
        let job_name = format!("{file}: job `{}`", job_name.as_str().unwrap_or("?"));
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
            if let Some(uses) = get(step, "uses").and_then(Value::as_str) {
                if !is_sha_pinned(uses) {
                    problems.push(format!("{job_name}: `{uses}` is not pinned to a full commit SHA"));
                }
                let commented = text.lines().any(|line| line.contains(uses) && line.contains("# v"));
                if !commented {
                    problems.push(format!("{job_name}: `{uses}` lacks a `# vX` comment"));
                }
                if uses.starts_with("actions/checkout@")
                    && get(step, "with").and_then(|with| get(with, "persist-credentials")) != Some(&Value::Bool(false))
                {
                    problems.push(format!("{job_name}: checkout must set `persist-credentials: false`"));
                }
                if uses.starts_with("aws-actions/configure-aws-credentials@") {
                    uses_aws = true;
                    let role = get(step, "with").and_then(|with| get(with, "role-to-assume")).and_then(Value::as_str);
                    let expected =
                        if is_prod { "vars.AGENTCORE_PROD_ROLE_ARN" } else { "vars.AGENTCORE_PR_DEPLOY_ROLE_ARN" };
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
            if let Some(script) = get(step, "run").and_then(Value::as_str) {
                if script.contains("${{") {
                    problems.push(format!("{job_name}: an expression inside `run:`; pass it through `env:`"));
                }
                if script.contains("cargo xtask github") && !script.contains("--event \"$GITHUB_EVENT_PATH\"") {
                    problems.push(format!("{job_name}: the xtask step must read `--event \"$GITHUB_EVENT_PATH\"`"));
                }
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
        if uses_aws && is_prod {
            let environment = get(job, "environment").and_then(|env| {
                env.as_str().map(str::to_owned).or_else(|| get(env, "name")?.as_str().map(str::to_owned))
            });
            if !matches!(environment.as_deref(), Some("production" | "production-deploy")) {
                problems.push(format!("{job_name}: the prod role is trusted only in the production environments"));
            }
        }
    }
    problems
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

#[test]
fn every_workflow_keeps_the_rules() {
    let files = workflow_files();
    let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["gc.yml", "pr-closed.yml", "pr-deploy.yml", "prod-deploy.yml", "prod-promote.yml"]);
    let problems: Vec<String> = files.iter().flat_map(|(name, text)| check_workflow(name, text)).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
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
                "run: cargo xtask github pr-deploy",
                "run: echo \"${{ github.event.pull_request.title }}\" && cargo xtask github pr-deploy",
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
    ];
    for (file, name, text, expected) in cases {
        assert_ne!(&text, if file == "pr-deploy.yml" { &good } else { &prod }, "{name}: the mutation did not apply");
        let problems = check_workflow(file, &text);
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
/// the cleanup environment only and can change only `*_pr_*` runtimes and S3 prefixes; the prod
/// role is trusted from the production environments only.
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
                "s3:ListBucket" => {
                    assert_eq!(statement["Condition"]["StringLike"]["s3:prefix"], serde_json::json!(["*_pr_*"]))
                }
                _ => {
                    assert!(!action.contains('*'), "{action}: no wildcard actions");
                    assert!(
                        !action.contains("Endpoint") || !action.contains("Create") && !action.contains("Update"),
                        "{action}: the PR role never moves an endpoint"
                    );
                    for resource in &resources {
                        assert!(resource.contains("_pr_*"), "{action} on {resource}: only PR runtimes and prefixes");
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

    let plan = get(jobs, "plan").unwrap();
    assert!(runs(plan, "cargo xtask github pr-plan"));
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
    assert!(runs(comment, "cargo xtask github pr-comment") && runs(comment, "--results \"$RUNNER_TEMP/results\""));
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
