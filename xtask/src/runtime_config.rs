//! What a runtime version is configured with: the CreateAgentRuntime and UpdateAgentRuntime input a
//! deploy sends, built from an agent's desired settings; its check against AgentCore's model and
//! rules (the `agentcore-model` crate, which the local stack validates with too) before any call,
//! with errors that name the `agent.toml` key; and the settings AgentCore reports back, for `status`.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow};
use serde_json::{Map, Value, json};

use crate::agents::AllowedPort;
use crate::records::DeployedConfig;
use crate::report::RuntimeSettings;

/// Where a version's code zip is.
pub(crate) struct Code<'a> {
    pub(crate) bucket: &'a str,
    pub(crate) key: &'a str,
}

/// Which call an input is for: a create names the runtime and tags it; an update can do neither.
pub(crate) enum Call<'a> {
    Create { runtime_name: &'a str, tags: &'a BTreeMap<String, String> },
    Update,
}

impl Call<'_> {
    pub(crate) fn operation(&self) -> &'static str {
        match self {
            Call::Create { .. } => "CreateAgentRuntime",
            Call::Update => "UpdateAgentRuntime",
        }
    }
}

/// The JSON body of `call` for a version with `desired` settings and `code`, as AgentCore's wire
/// format spells it.
pub(crate) fn input(desired: &DeployedConfig, code: &Code<'_>, call: &Call<'_>) -> Map<String, Value> {
    let mut input = Map::new();
    if let Call::Create { runtime_name, tags } = call {
        input.insert("agentRuntimeName".into(), json!(runtime_name));
        input.insert("tags".into(), json!(tags));
    }
    input.insert(
        "agentRuntimeArtifact".into(),
        json!({ "codeConfiguration": {
            "code": { "s3": { "bucket": code.bucket, "prefix": code.key } },
            "runtime": desired.python_runtime,
            "entryPoint": desired.entry_point,
        } }),
    );
    input.insert("roleArn".into(), json!(desired.role_arn));
    let mut network = json!({ "networkMode": desired.network_mode });
    if let Some(vpc) = &desired.vpc {
        network["networkModeConfig"] = json!({ "subnets": vpc.subnets, "securityGroups": vpc.security_groups });
        if let Some(require) = vpc.require_service_s3_endpoint {
            network["networkModeConfig"]["requireServiceS3Endpoint"] = json!(require);
        }
    }
    input.insert("networkConfiguration".into(), network);
    let mut protocol = json!({ "serverProtocol": desired.protocol });
    if let Some(port) = desired.port {
        protocol["port"] = json!(port);
    }
    if let Some(path) = &desired.path {
        protocol["path"] = json!(path);
    }
    input.insert("protocolConfiguration".into(), protocol);
    input.insert("environmentVariables".into(), json!(desired.environment));
    if let Some(description) = &desired.description {
        input.insert("description".into(), json!(description));
    }
    if let Some(lifecycle) = &desired.lifecycle {
        let mut config = Map::new();
        if let Some(idle) = lifecycle.idle_timeout_secs {
            config.insert("idleRuntimeSessionTimeout".into(), json!(idle));
        }
        if let Some(max) = lifecycle.max_lifetime_secs {
            config.insert("maxLifetime".into(), json!(max));
        }
        input.insert("lifecycleConfiguration".into(), Value::Object(config));
    }
    if let Some(jwt) = &desired.authorizer {
        let mut config = Map::new();
        config.insert("discoveryUrl".into(), json!(jwt.discovery_url));
        for (member, values) in [
            ("allowedAudience", &jwt.allowed_audiences),
            ("allowedClients", &jwt.allowed_clients),
            ("allowedScopes", &jwt.allowed_scopes),
        ] {
            if let Some(values) = values {
                config.insert(member.into(), json!(values));
            }
        }
        input.insert("authorizerConfiguration".into(), json!({ "customJWTAuthorizer": config }));
    }
    if let Some(headers) = &desired.request_headers {
        input.insert("requestHeaderConfiguration".into(), json!({ "requestHeaderAllowlist": headers }));
    }
    if let Some(platform) = &desired.platform_version {
        input.insert("platformVersion".into(), json!(platform));
    }
    if let Some(ports) = &desired.allowed_ports {
        let entries: Vec<Value> = ports
            .iter()
            .map(|entry| match entry {
                AllowedPort::Port(port) => json!({ "port": port }),
                AllowedPort::Range(text) => {
                    // agent.toml's check refused anything but "FROM-TO"; (0, 0) would fail the model's range.
                    let (from, to) = AllowedPort::range(text).unwrap_or((0, 0));
                    json!({ "portRange": { "from": from, "to": to } })
                }
            })
            .collect();
        input.insert("allowedPorts".into(), Value::Array(entries));
    }
    if let Some(resources) = &desired.resources {
        input.insert("resourceConfigurations".into(), json!([{ "minimumMemoryInMiB": resources.min_memory_mib }]));
    }
    input
}

/// Refuses an input AgentCore would refuse, before any call: every violation of the model and its
/// rules, each named by its `agent.toml` key (or setting), the rule it breaks, and the fix.
pub(crate) fn check(agent: &str, operation: &str, input: &Map<String, Value>) -> Result<()> {
    // An update names its runtime in the URI, by the id AgentCore gave it: a valid stand-in here.
    let mut whole = input.clone();
    if operation == "UpdateAgentRuntime" {
        whole.entry("agentRuntimeId").or_insert_with(|| json!("runtime-0000000000"));
    }
    let errors = agentcore_model::check_input(operation, &whole);
    if errors.is_empty() {
        return Ok(());
    }
    let problems: Vec<String> = errors.iter().map(|error| describe(&error.name, &error.rule, input)).collect();
    if let [problem] = problems.as_slice() {
        return Err(anyhow!("agent `{agent}`: {problem}"));
    }
    Err(anyhow!(
        "agent `{agent}`: {} settings AgentCore would refuse:\n  - {}",
        problems.len(),
        problems.join("\n  - ")
    ))
}

/// Where each member of the input comes from, and how to write it right: the longest prefix of a
/// member's path wins.
const KEYS: &[(&str, &str, &str)] = &[
    ("agentRuntimeName", "the runtime name", "rename the agent directory, or change the runtime_name setting"),
    (
        "agentRuntimeArtifact.codeConfiguration.runtime",
        "python_runtime",
        "use one of PYTHON_3_10 … PYTHON_3_14, in agent.toml or the workspace setting",
    ),
    ("agentRuntimeArtifact.codeConfiguration.entryPoint", "entry_point", "e.g. entry_point = \"main.py\""),
    ("agentRuntimeArtifact.codeConfiguration.code.s3.bucket", "the bucket setting", "name an S3 bucket (--bucket)"),
    ("agentRuntimeArtifact", "the code artifact", "re-run the deploy; report the bug if it persists"),
    ("roleArn", "the role_arn setting", "an IAM role ARN such as arn:aws:iam::123456789012:role/AgentCoreRuntimeRole"),
    ("networkConfiguration.networkMode", "network_mode", "network_mode = \"PUBLIC\" or \"VPC\""),
    (
        "networkConfiguration.networkModeConfig.subnets",
        "[vpc] subnets",
        "1 to 16 subnet ids, e.g. subnets = [\"subnet-0123456789abcdef0\"]",
    ),
    (
        "networkConfiguration.networkModeConfig.securityGroups",
        "[vpc] security_groups",
        "1 to 16 security group ids, e.g. security_groups = [\"sg-0123456789abcdef0\"]",
    ),
    (
        "networkConfiguration.networkModeConfig",
        "[vpc]",
        "with network_mode = \"VPC\" add [vpc] with subnets and security_groups; with PUBLIC leave [vpc] out",
    ),
    ("description", "description", "1 to 4096 characters"),
    (
        "authorizerConfiguration.customJWTAuthorizer.discoveryUrl",
        "[authorizer.jwt] discovery_url",
        "the identity provider's URL ending in /.well-known/openid-configuration",
    ),
    (
        "authorizerConfiguration.customJWTAuthorizer.allowedAudience",
        "[authorizer.jwt] allowed_audiences",
        "list at least one audience, or leave the key out",
    ),
    (
        "authorizerConfiguration.customJWTAuthorizer.allowedClients",
        "[authorizer.jwt] allowed_clients",
        "list at least one client id, or leave the key out",
    ),
    (
        "authorizerConfiguration.customJWTAuthorizer.allowedScopes",
        "[authorizer.jwt] allowed_scopes",
        "list scopes without spaces, quotes or backslashes, or leave the key out",
    ),
    ("authorizerConfiguration", "[authorizer.jwt]", "set discovery_url"),
    (
        "requestHeaderConfiguration.requestHeaderAllowlist",
        "request_headers",
        "1 to 20 header names, e.g. request_headers = [\"X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant\"]",
    ),
    (
        "lifecycleConfiguration.idleRuntimeSessionTimeout",
        "[lifecycle] idle_timeout_secs",
        "60 to 28800 seconds, and at most max_lifetime_secs (default 28800)",
    ),
    ("lifecycleConfiguration.maxLifetime", "[lifecycle] max_lifetime_secs", "60 to 28800 seconds"),
    ("environmentVariables", "[environment]", "at most 50 variables, names of 1-100 characters"),
    ("tags", "[tags]", "at most 50 tags of letters, digits, spaces and . _ : / = + @ -"),
    ("platformVersion", "platform_version", "V1 or V2, in agent.toml or the workspace setting platform_version"),
    (
        "allowedPorts",
        "allowed_ports",
        "1 to 5 non-overlapping ports or ranges within 8000-12000 but 8443, e.g. allowed_ports = [8081, \"9000-9010\"]",
    ),
    ("resourceConfigurations", "[resources] min_memory_mib", "a positive number of MiB, e.g. min_memory_mib = 2048"),
    ("protocolConfiguration.port", "port", "a port within 8000-12000 but 8443"),
    ("protocolConfiguration.path", "path", "a path starting with /"),
    ("protocolConfiguration", "protocol", "HTTP, MCP, A2A or AGUI"),
];

/// Members whose values are not repeated in an error (AgentCore's model marks them sensitive).
const SENSITIVE: &[&str] = &["environmentVariables", "description"];

/// One violation, as the agent's owner reads it: the key, the entry, the value, the rule, the fix.
fn describe(member: &str, rule: &str, input: &Map<String, Value>) -> String {
    let found = KEYS.iter().filter(|(prefix, ..)| is_within(member, prefix)).max_by_key(|(prefix, ..)| prefix.len());
    let Some((prefix, key, fix)) = found else {
        return format!("{member}: {rule}");
    };
    let rest = &member[prefix.len()..];
    // `.3.member` is the third entry of a list (`[resources]` is agent.toml's one entry of its list).
    let entry = rest
        .split('.')
        .find(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()))
        .filter(|_| *prefix != "resourceConfigurations");
    let mut subject = (*key).to_owned();
    if let Some(entry) = entry {
        subject += &format!(" entry {entry}");
    }
    if !SENSITIVE.iter().any(|sensitive| prefix.starts_with(sensitive))
        && let Some(value) = lookup(input, member).filter(|value| !value.is_object() && !value.is_array())
    {
        subject += &format!(" ({value})");
    }
    let rule = rule.strip_prefix("Member ").unwrap_or(rule);
    // A rule naming another entry of the same list (an overlap) names it as agent.toml counts.
    let rule = match rule.split_once(&format!("{prefix}.")) {
        Some((before, after)) => match after.split_once(".member") {
            Some((index, after)) if index.chars().all(|c| c.is_ascii_digit()) => {
                format!("{before}entry {index}{after}")
            }
            _ => rule.to_owned(),
        },
        None => rule.to_owned(),
    };
    format!("{subject}: {rule}; fix: {fix}")
}

fn is_within(member: &str, prefix: &str) -> bool {
    member == prefix || member.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.'))
}

/// The value at an AWS member path (`a.b.2.member.c`) of `input`.
fn lookup<'a>(input: &'a Map<String, Value>, member: &str) -> Option<&'a Value> {
    let mut parts = member.split('.');
    let mut value = input.get(parts.next()?)?;
    while let Some(part) = parts.next() {
        value = match value {
            Value::Array(items) => {
                let index: usize = part.parse().ok()?;
                parts.next(); // "member"
                items.get(index.checked_sub(1)?)?
            }
            Value::Object(object) => object.get(part)?,
            _ => return None,
        };
    }
    Some(value)
}

/// A version's settings as AgentCore reports them in GetAgentRuntime's JSON: what `status` shows.
/// What AgentCore leaves out reads as its default (no network configuration: PUBLIC).
pub(crate) fn reported_settings(runtime: &Value) -> RuntimeSettings {
    let strings = |value: Option<&Value>| -> Vec<String> {
        value.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
    };
    let number = |value: Option<&Value>, key: &str| value.and_then(|value| value.get(key)).and_then(Value::as_i64);
    let network = runtime.get("networkConfiguration");
    let vpc = network.and_then(|network| network.get("networkModeConfig"));
    let jwt = runtime.get("authorizerConfiguration").and_then(|config| config.get("customJWTAuthorizer"));
    let lifecycle = runtime.get("lifecycleConfiguration");
    let allowed_ports = runtime
        .get("allowedPorts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|entry| match (entry.get("port").and_then(Value::as_i64), entry.get("portRange")) {
            (Some(port), _) => Some(port.to_string()),
            (None, Some(range)) => Some(format!("{}-{}", number(Some(range), "from")?, number(Some(range), "to")?)),
            _ => None,
        })
        .collect();
    RuntimeSettings {
        network_mode: network
            .and_then(|network| network.get("networkMode"))
            .and_then(Value::as_str)
            .unwrap_or("PUBLIC")
            .to_owned(),
        subnets: strings(vpc.and_then(|vpc| vpc.get("subnets"))),
        security_groups: strings(vpc.and_then(|vpc| vpc.get("securityGroups"))),
        auth: if jwt.is_some() { "JWT" } else { "IAM" }.to_owned(),
        discovery_url: jwt.and_then(|jwt| jwt.get("discoveryUrl")).and_then(Value::as_str).map(str::to_owned),
        allowed_audiences: strings(jwt.and_then(|jwt| jwt.get("allowedAudience"))),
        allowed_clients: strings(jwt.and_then(|jwt| jwt.get("allowedClients"))),
        allowed_scopes: strings(jwt.and_then(|jwt| jwt.get("allowedScopes"))),
        idle_timeout_secs: number(lifecycle, "idleRuntimeSessionTimeout"),
        max_lifetime_secs: number(lifecycle, "maxLifetime"),
        request_headers: strings(
            runtime.get("requestHeaderConfiguration").and_then(|config| config.get("requestHeaderAllowlist")),
        ),
        platform_version: runtime.get("platformVersion").and_then(Value::as_str).map(str::to_owned),
        allowed_ports,
        min_memory_mib: runtime
            .get("resourceConfigurations")
            .and_then(Value::as_array)
            .and_then(|configs| configs.first())
            .and_then(|config| config.get("minimumMemoryInMiB"))
            .and_then(Value::as_i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_key_the_entry_the_value_and_the_fix() {
        let Value::Object(input) = json!({
            "networkConfiguration": {"networkMode": "VPC", "networkModeConfig": {
                "subnets": ["subnet-0123456789abcdef0", "subnet-12"], "securityGroups": ["sg-0123456789abcdef0"]}},
            "environmentVariables": {"SECRET": "x"},
        }) else {
            unreachable!()
        };
        let text = describe(
            "networkConfiguration.networkModeConfig.subnets.2.member",
            "Member must satisfy regular expression pattern: subnet-[0-9a-zA-Z]{8,17}",
            &input,
        );
        assert_eq!(
            text,
            "[vpc] subnets entry 2 (\"subnet-12\"): must satisfy regular expression pattern: subnet-[0-9a-zA-Z]{8,17}; fix: 1 to 16 subnet ids, e.g. subnets = [\"subnet-0123456789abcdef0\"]"
        );
        let text =
            describe("environmentVariables.SECRET", "Member must have length less than or equal to 5000", &input);
        assert!(text.starts_with("[environment]: must have length"), "{text}");
        assert!(!text.contains("\"x\""), "sensitive values are not repeated: {text}");
    }

    #[test]
    fn get_output_reads_back_with_defaults_for_what_is_left_out() {
        let settings = reported_settings(
            &json!({"lifecycleConfiguration": {"idleRuntimeSessionTimeout": 900, "maxLifetime": 28800}}),
        );
        assert_eq!((settings.network_mode.as_str(), settings.auth.as_str()), ("PUBLIC", "IAM"));
        assert_eq!(settings.max_lifetime_secs, Some(28800));
        let settings = reported_settings(&json!({
            "allowedPorts": [{"port": 8081}, {"portRange": {"from": 9000, "to": 9010}}],
            "resourceConfigurations": [{"minimumMemoryInMiB": 2048}],
        }));
        assert_eq!(settings.allowed_ports, ["8081", "9000-9010"]);
        assert_eq!(settings.min_memory_mib, Some(2048));
    }
}
