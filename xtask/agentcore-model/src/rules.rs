//! What AgentCore documents about a runtime's settings that its model cannot express: lifecycle
//! limits, reserved and overlapping ports, the network mode's configuration, the request headers a
//! runtime may pass on, the platform versions. Each violation is a [`FieldError`] on the member at
//! fault, as AWS reports it.

use serde_json::{Map, Value};

use crate::FieldError;

/// AWS's session lifetime defaults, in seconds.
pub const DEFAULT_IDLE_TIMEOUT: i64 = 900;
pub const DEFAULT_MAX_LIFETIME: i64 = 28_800;
/// The longest lifecycle of a runtime on AgentCore's own microVMs; the model's 1,209,600 applies only
/// to runtimes on a capacity provider.
pub const MICROVM_LIFECYCLE_MAX: i64 = 28_800;
pub const CAPACITY_PROVIDER_LIFECYCLE_MAX: i64 = 1_209_600;
/// The port AgentCore keeps for itself.
pub const RESERVED_PORT: i64 = 8443;
/// The platform versions AgentCore runs (the model only says "a string without spaces").
pub const PLATFORM_VERSIONS: &[&str] = &["V1", "V2"];
/// The one `x-amzn-` prefix a runtime may receive headers under.
pub const CUSTOM_HEADER_PREFIX: &str = "X-Amzn-Bedrock-AgentCore-Runtime-Custom-";
/// Headers AgentCore never passes to a runtime ("restricted headers" in its documentation).
pub const RESTRICTED_HEADERS: &[&str] = &[
    "Proxy-Authorization",
    "WWW-Authenticate",
    "Accept",
    "Accept-Charset",
    "Accept-Encoding",
    "Accept-Language",
    "Content-Type",
    "Content-Length",
    "Content-Encoding",
    "Content-Language",
    "Content-Location",
    "Content-Range",
    "Cache-Control",
    "ETag",
    "Expires",
    "If-Match",
    "If-Modified-Since",
    "If-None-Match",
    "If-Range",
    "If-Unmodified-Since",
    "Last-Modified",
    "Pragma",
    "Vary",
    "Connection",
    "Keep-Alive",
    "Proxy-Connection",
    "Upgrade",
    "Host",
    "Referer",
    "User-Agent",
    "From",
    "Range",
    "Accept-Ranges",
    "Transfer-Encoding",
    "TE",
    "Trailer",
    "Server",
];

/// The violations of `operation`'s `input` beyond the model's own constraints (none for operations
/// other than CreateAgentRuntime and UpdateAgentRuntime).
pub fn check(operation: &str, input: &Map<String, Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if matches!(operation, "CreateAgentRuntime" | "UpdateAgentRuntime") {
        lifecycle(input, &mut errors);
        ports(input, &mut errors);
        network(input, &mut errors);
        headers(input, &mut errors);
        platform(input, &mut errors);
        resources(input, &mut errors);
    }
    errors
}

fn int(value: Option<&Value>) -> Option<i64> {
    value.and_then(Value::as_i64)
}

fn lifecycle(input: &Map<String, Value>, errors: &mut Vec<FieldError>) {
    let Some(lifecycle) = input.get("lifecycleConfiguration").and_then(Value::as_object) else { return };
    let idle = int(lifecycle.get("idleRuntimeSessionTimeout"));
    let max = int(lifecycle.get("maxLifetime"));
    let limit = if input.get("capacityProviderConfiguration").is_some_and(|value| !value.is_null()) {
        CAPACITY_PROVIDER_LIFECYCLE_MAX
    } else {
        MICROVM_LIFECYCLE_MAX
    };
    for (name, value) in [("idleRuntimeSessionTimeout", idle), ("maxLifetime", max)] {
        if let Some(value) = value.filter(|&value| value > limit) {
            errors.push(FieldError::new(
                &format!("lifecycleConfiguration.{name}"),
                format!("{name} is {value}; runtimes without a capacity provider allow at most {limit} seconds"),
            ));
        }
    }
    // An absent maxLifetime is AWS's default, which an explicit idle timeout must not exceed either.
    if let Some(idle) = idle
        && let max = max.unwrap_or(DEFAULT_MAX_LIFETIME)
        && idle > max
    {
        errors.push(FieldError::new(
            "lifecycleConfiguration.idleRuntimeSessionTimeout",
            format!("idleRuntimeSessionTimeout ({idle}) must not exceed maxLifetime ({max})"),
        ));
    }
}

fn ports(input: &Map<String, Value>, errors: &mut Vec<FieldError>) {
    if let Some(port) = int(input.get("protocolConfiguration").and_then(|protocol| protocol.get("port")))
        && port == RESERVED_PORT
    {
        errors.push(FieldError::new(
            "protocolConfiguration.port",
            format!("port {RESERVED_PORT} is reserved by AgentCore"),
        ));
    }
    let Some(allowed) = input.get("allowedPorts").and_then(Value::as_array) else { return };
    // (first, last, field) of each well-formed entry; the model reports malformed ones.
    let mut spans: Vec<(i64, i64, String)> = Vec::new();
    for (index, entry) in allowed.iter().enumerate() {
        let field = format!("allowedPorts.{}.member", index + 1);
        let span = match (int(entry.get("port")), entry.get("portRange")) {
            (Some(port), None) => (port, port),
            (None, Some(range)) => match (int(range.get("from")), int(range.get("to"))) {
                (Some(from), Some(to)) if from <= to => (from, to),
                (Some(from), Some(to)) => {
                    errors.push(FieldError::new(
                        &format!("{field}.portRange"),
                        format!("the range {from}-{to} is empty: from must be less than or equal to to"),
                    ));
                    continue;
                }
                _ => continue,
            },
            _ => continue,
        };
        if span.0 <= RESERVED_PORT && RESERVED_PORT <= span.1 {
            errors.push(FieldError::new(&field, format!("port {RESERVED_PORT} is reserved by AgentCore")));
        }
        if let Some((_, _, other)) = spans.iter().find(|(first, last, _)| span.0 <= *last && *first <= span.1) {
            errors.push(FieldError::new(&field, format!("it overlaps {other}; allowed ports must not overlap")));
        }
        spans.push((span.0, span.1, field));
    }
}

fn network(input: &Map<String, Value>, errors: &mut Vec<FieldError>) {
    let Some(network) = input.get("networkConfiguration").and_then(Value::as_object) else { return };
    let config = network.get("networkModeConfig").filter(|value| !value.is_null());
    match (network.get("networkMode").and_then(Value::as_str), config) {
        (Some("VPC"), None) => errors.push(FieldError::new(
            "networkConfiguration.networkModeConfig",
            "networkMode VPC needs a networkModeConfig with the subnets and security groups".to_owned(),
        )),
        (Some("PUBLIC"), Some(_)) => errors.push(FieldError::new(
            "networkConfiguration.networkModeConfig",
            "networkMode PUBLIC takes no networkModeConfig; subnets and security groups need networkMode VPC"
                .to_owned(),
        )),
        _ => {}
    }
}

fn headers(input: &Map<String, Value>, errors: &mut Vec<FieldError>) {
    let Some(names) = input
        .get("requestHeaderConfiguration")
        .and_then(|config| config.get("requestHeaderAllowlist"))
        .and_then(Value::as_array)
    else {
        return;
    };
    let jwt = input.get("authorizerConfiguration").and_then(|config| config.get("customJWTAuthorizer")).is_some();
    let mut seen: Vec<String> = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let Some(name) = name.as_str() else { continue };
        let field = format!("requestHeaderConfiguration.requestHeaderAllowlist.{}.member", index + 1);
        let lower = name.to_ascii_lowercase();
        let custom = lower.starts_with(&CUSTOM_HEADER_PREFIX.to_ascii_lowercase());
        let rule = if seen.contains(&lower) {
            Some(format!("{name} is listed twice (header names are case-insensitive)"))
        } else if lower.starts_with("x-amz-") {
            Some(format!("{name} starts with x-amz-, which AWS keeps for request signing"))
        } else if lower.starts_with("x-amzn-") && !custom {
            Some(format!("{name} starts with x-amzn-, which AgentCore passes on only as {CUSTOM_HEADER_PREFIX}*"))
        } else if let Some(restricted) =
            RESTRICTED_HEADERS.iter().find(|restricted| restricted.eq_ignore_ascii_case(name))
        {
            Some(format!("{restricted} is a restricted header that AgentCore never passes to a runtime"))
        } else if lower == "authorization" && !jwt {
            Some("Authorization is passed on only to runtimes with a customJWTAuthorizer".to_owned())
        } else {
            None
        };
        if let Some(rule) = rule {
            errors.push(FieldError::new(&field, rule));
        }
        seen.push(lower);
    }
}

fn platform(input: &Map<String, Value>, errors: &mut Vec<FieldError>) {
    if let Some(version) = input.get("platformVersion").and_then(Value::as_str)
        && !PLATFORM_VERSIONS.contains(&version)
    {
        errors.push(FieldError::new(
            "platformVersion",
            format!("{version} is not a platform version; use one of {}", PLATFORM_VERSIONS.join(", ")),
        ));
    }
}

fn resources(input: &Map<String, Value>, errors: &mut Vec<FieldError>) {
    for (index, resource) in
        input.get("resourceConfigurations").and_then(Value::as_array).into_iter().flatten().enumerate()
    {
        if let Some(memory) = int(resource.get("minimumMemoryInMiB"))
            && memory < 1
        {
            errors.push(FieldError::new(
                &format!("resourceConfigurations.{}.member.minimumMemoryInMiB", index + 1),
                format!("minimumMemoryInMiB is {memory}; it must be a positive number of MiB"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rules_of(input: Value) -> Vec<String> {
        let Value::Object(input) = input else { panic!("an object") };
        check("CreateAgentRuntime", &input).into_iter().map(|error| format!("{}: {}", error.name, error.rule)).collect()
    }

    #[test]
    fn lifecycle_limits_and_order() {
        assert!(
            rules_of(json!({"lifecycleConfiguration": {"idleRuntimeSessionTimeout": 900, "maxLifetime": 28800}}))
                .is_empty()
        );
        assert_eq!(
            rules_of(json!({"lifecycleConfiguration": {"idleRuntimeSessionTimeout": 3600, "maxLifetime": 1800}})),
            [
                "lifecycleConfiguration.idleRuntimeSessionTimeout: idleRuntimeSessionTimeout (3600) must not exceed maxLifetime (1800)"
            ]
        );
        let errors = rules_of(json!({"lifecycleConfiguration": {"maxLifetime": 30000}}));
        assert_eq!(
            errors,
            [
                "lifecycleConfiguration.maxLifetime: maxLifetime is 30000; runtimes without a capacity provider allow at most 28800 seconds"
            ]
        );
    }

    #[test]
    fn ports_are_neither_reserved_nor_overlapping() {
        assert!(
            rules_of(json!({"allowedPorts": [{"port": 8081}, {"portRange": {"from": 9000, "to": 9010}}]})).is_empty()
        );
        assert_eq!(
            rules_of(
                json!({"allowedPorts": [{"portRange": {"from": 8400, "to": 8500}}, {"port": 8450}, {"portRange": {"from": 9010, "to": 9000}}]})
            ),
            [
                "allowedPorts.1.member: port 8443 is reserved by AgentCore",
                "allowedPorts.2.member: it overlaps allowedPorts.1.member; allowed ports must not overlap",
                "allowedPorts.3.member.portRange: the range 9010-9000 is empty: from must be less than or equal to to",
            ]
        );
    }

    #[test]
    fn network_modes_and_their_configuration() {
        assert_eq!(rules_of(json!({"networkConfiguration": {"networkMode": "VPC"}})).len(), 1);
        let vpc = json!({"subnets": ["subnet-0123456789abcdef0"], "securityGroups": ["sg-0123456789abcdef0"]});
        assert_eq!(
            rules_of(json!({"networkConfiguration": {"networkMode": "PUBLIC", "networkModeConfig": vpc}})).len(),
            1
        );
        assert!(rules_of(json!({"networkConfiguration": {"networkMode": "VPC", "networkModeConfig": vpc}})).is_empty());
    }

    #[test]
    fn headers_follow_agentcore_rules() {
        let allow = |names: Value, jwt: bool| {
            let mut input = json!({"requestHeaderConfiguration": {"requestHeaderAllowlist": names}});
            if jwt {
                input["authorizerConfiguration"] = json!({"customJWTAuthorizer": {"discoveryUrl": "x"}});
            }
            rules_of(input)
        };
        assert!(allow(json!(["X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant", "X-Api-Key"]), false).is_empty());
        assert!(allow(json!(["Authorization"]), true).is_empty());
        assert_eq!(
            allow(
                json!(["Authorization", "x-amz-date", "X-Amzn-Trace-Id", "user-agent", "X-Api-Key", "x-api-key"]),
                false
            ),
            [
                "requestHeaderConfiguration.requestHeaderAllowlist.1.member: Authorization is passed on only to runtimes with a customJWTAuthorizer",
                "requestHeaderConfiguration.requestHeaderAllowlist.2.member: x-amz-date starts with x-amz-, which AWS keeps for request signing",
                "requestHeaderConfiguration.requestHeaderAllowlist.3.member: X-Amzn-Trace-Id starts with x-amzn-, which AgentCore passes on only as X-Amzn-Bedrock-AgentCore-Runtime-Custom-*",
                "requestHeaderConfiguration.requestHeaderAllowlist.4.member: User-Agent is a restricted header that AgentCore never passes to a runtime",
                "requestHeaderConfiguration.requestHeaderAllowlist.6.member: x-api-key is listed twice (header names are case-insensitive)",
            ]
        );
    }

    #[test]
    fn platform_versions_and_memory() {
        assert!(
            rules_of(json!({"platformVersion": "V2", "resourceConfigurations": [{"minimumMemoryInMiB": 2048}]}))
                .is_empty()
        );
        assert_eq!(
            rules_of(json!({"platformVersion": "V3", "resourceConfigurations": [{"minimumMemoryInMiB": 0}]})),
            [
                "platformVersion: V3 is not a platform version; use one of V1, V2",
                "resourceConfigurations.1.member.minimumMemoryInMiB: minimumMemoryInMiB is 0; it must be a positive number of MiB",
            ]
        );
    }

    #[test]
    fn other_operations_have_no_extra_rules() {
        let Value::Object(input) = json!({"platformVersion": "V3"}) else { unreachable!() };
        assert!(check("GetAgentRuntime", &input).is_empty());
    }
}
