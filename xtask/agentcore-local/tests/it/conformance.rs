//! Conformance with the botocore model: every runtime/endpoint operation is served at the model's
//! method, URI and status, and every required member, pattern, length, range and enum is enforced,
//! at any depth.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::{Map, Value, json};

use super::{signed, start};

/// Valid example values of every patterned string shape the operations can reach. The test fails
/// when the model gains a pattern this table does not cover, so drift is noticed.
const EXAMPLES: &[(&str, &str)] = &[
    ("AgentRuntimeId", "agent-0123456789"),
    ("AgentRuntimeName", "agent"),
    ("AgentRuntimeVersion", "1"),
    ("AllowedScopeType", "scope"),
    ("CapacityProviderArn", "arn:aws:bedrock-agentcore:us-east-1:123456789012:capacity-provider/cp-0123456789"),
    ("CapacityProviderVolumeName", "vol"),
    ("CertificateBucketOwnerAccountId", "123456789012"),
    ("CertificateS3Uri", "s3://bucket/cert.pem"),
    ("CertificateSecretArn", "arn:aws:secretsmanager:us-east-1:123456789012:secret:cert"),
    ("ClientToken", "client-token-00000000000000000000001"),
    ("DiscoveryUrl", "https://example.com/.well-known/openid-configuration"),
    ("EfsAccessPointArn", "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-0123456789abcdef"),
    ("EndpointName", "prod"),
    ("HeaderName", "X-Header"),
    ("InboundTokenClaimNameType", "claim"),
    ("LifecycleHookPath", "/warmup"),
    ("MatchValueString", "value"),
    ("MountPath", "/mnt/data"),
    ("NextToken", "token"),
    ("PlatformVersion", "1"),
    ("ResourceConfigurationIdentifier", "rcfg-0123456789abcdefg"),
    ("RoleArn", "arn:aws:iam::123456789012:role/AgentCoreRuntimeRole"),
    ("RuntimeContainerUri", "123456789012.dkr.ecr.us-east-1.amazonaws.com/agent:latest"),
    ("S3BucketMountConfigurationPrefixString", "data/"),
    ("S3BucketMountConfigurationS3BucketOwnerString", "123456789012"),
    ("S3BucketMountConfigurationS3BucketRegionString", "us-east-1"),
    (
        "S3FilesAccessPointArn",
        "arn:aws:s3files:us-east-1:123456789012:file-system/fs-0123456789abcdef0/access-point/fsap-0123456789abcdef0",
    ),
    ("S3LocationBucketString", "bucket"),
    ("SecurityGroupId", "sg-01234567"),
    ("SecurityGroupIdentifier", "sg-01234567"),
    ("ServerPath", "/mcp"),
    ("SubnetId", "subnet-01234567"),
    ("TagKey", "team"),
    ("TagValue", "agents"),
    ("VpcIdentifier", "vpc-01234567"),
    ("WorkloadIdentityNameType", "identity"),
];

/// Candidates for a value that breaks a pattern; the first that does not match is used.
const BREAKERS: &[&str] = &[" ", "\"", "!", "@@"];

const OPERATIONS: &[&str] = &[
    "CreateAgentRuntime",
    "GetAgentRuntime",
    "UpdateAgentRuntime",
    "ListAgentRuntimeVersions",
    "CreateAgentRuntimeEndpoint",
    "GetAgentRuntimeEndpoint",
    "UpdateAgentRuntimeEndpoint",
    "ListAgentRuntimeEndpoints",
    "DeleteAgentRuntimeEndpoint",
    "ListAgentRuntimes",
    "DeleteAgentRuntime",
];

struct Model {
    shapes: Map<String, Value>,
    operations: Map<String, Value>,
}

fn load() -> Model {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../agentcore-model/src/service-2.json");
    let root: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    Model {
        shapes: root["shapes"].as_object().unwrap().clone(),
        operations: root["operations"].as_object().unwrap().clone(),
    }
}

fn anchored(pattern: &str) -> Regex {
    Regex::new(&format!("^(?:{pattern})$")).unwrap()
}

/// One step from a shape into a nested value.
#[derive(Debug, Clone)]
enum Step {
    Member(String),
    Item,
    MapKey,
    MapValue,
}

#[derive(Debug, Clone)]
enum Breach {
    Missing,
    Pattern(String),
    /// A value outside a length, range or enum constraint, and the message fragment it must draw.
    Value(Value, String),
}

#[derive(Debug, Clone)]
struct Target {
    steps: Vec<Step>,
    /// How the service names the field in `fieldList`.
    field: String,
    breach: Breach,
}

impl Model {
    fn shape(&self, name: &str) -> &Value {
        &self.shapes[name]
    }

    fn target_of(member: &Value) -> &str {
        member["shape"].as_str().unwrap()
    }

    /// A valid value of `name`: required members only, the first member of unions.
    fn example(&self, name: &str, depth: usize) -> Value {
        assert!(depth < 20, "the example of {name} does not terminate");
        let shape = self.shape(name);
        let min = shape["min"].as_i64();
        match shape["type"].as_str().unwrap() {
            "structure" => {
                let members = shape["members"].as_object().unwrap();
                let mut out = Map::new();
                if shape["union"].as_bool() == Some(true) {
                    let (first, member) = members.iter().next().unwrap();
                    out.insert(first.clone(), self.example(Self::target_of(member), depth + 1));
                } else {
                    for required in shape["required"].as_array().into_iter().flatten() {
                        let required = required.as_str().unwrap();
                        out.insert(required.to_owned(), self.example(Self::target_of(&members[required]), depth + 1));
                    }
                }
                Value::Object(out)
            }
            "string" => {
                if shape.get("pattern").is_some() {
                    let example = EXAMPLES.iter().find(|(shape, _)| *shape == name);
                    Value::String(example.unwrap_or_else(|| panic!("add an example for pattern shape {name}")).1.into())
                } else if let Some(choices) = shape["enum"].as_array() {
                    choices[0].clone()
                } else {
                    Value::String("x".repeat(min.unwrap_or(1).max(1) as usize))
                }
            }
            "integer" | "long" => json!(min.unwrap_or(1)),
            "boolean" => json!(true),
            "double" | "float" => json!(1.0),
            "timestamp" => json!("2025-01-01T00:00:00Z"),
            "list" => {
                let item = self.example(Self::target_of(&shape["member"]), depth + 1);
                Value::Array(vec![item; min.unwrap_or(1).max(1) as usize])
            }
            "map" => {
                let key = self.example(Self::target_of(&shape["key"]), depth + 1);
                let value = self.example(Self::target_of(&shape["value"]), depth + 1);
                json!({ key.as_str().unwrap(): value })
            }
            other => panic!("unexpected shape type {other}"),
        }
    }

    /// Every required member and every patterned string under `name`.
    fn targets(&self, name: &str, steps: &[Step], field: &str, chain: &[&str], out: &mut Vec<Target>) {
        if chain.contains(&name) || chain.len() > 12 {
            return;
        }
        let chain: Vec<&str> = chain.iter().copied().chain([name]).collect();
        let shape = self.shape(name);
        let nest = |step: Step, suffix: &str| {
            let mut steps = steps.to_vec();
            steps.push(step);
            let field = if field.is_empty() { suffix.to_owned() } else { format!("{field}.{suffix}") };
            (steps, field)
        };
        match shape["type"].as_str().unwrap() {
            "structure" => {
                let required: Vec<&str> =
                    shape["required"].as_array().into_iter().flatten().map(|r| r.as_str().unwrap()).collect();
                for (member_name, member) in shape["members"].as_object().unwrap() {
                    let (member_steps, member_field) = nest(Step::Member(member_name.clone()), member_name);
                    // A missing URI label is a different route, not a missing member.
                    if required.contains(&member_name.as_str()) && member["location"].as_str() != Some("uri") {
                        out.push(Target {
                            steps: member_steps.clone(),
                            field: member_field.clone(),
                            breach: Breach::Missing,
                        });
                    }
                    let mut found = Vec::new();
                    self.targets(Self::target_of(member), &member_steps, &member_field, &chain, &mut found);
                    // Likewise an empty URI label.
                    if member["location"].as_str() == Some("uri") {
                        let empty = |target: &Target| matches!(&target.breach, Breach::Value(Value::String(text), _) if text.is_empty());
                        found.retain(|target| !empty(target));
                    }
                    out.extend(found);
                }
            }
            "string" => {
                let min = shape["min"].as_u64().unwrap_or(0) as usize;
                if min > 0 {
                    out.push(Target {
                        steps: steps.to_vec(),
                        field: field.to_owned(),
                        breach: Breach::Value(
                            json!("a".repeat(min - 1)),
                            format!("Member must have length greater than or equal to {min}"),
                        ),
                    });
                }
                if let Some(max) = shape["max"].as_u64() {
                    out.push(Target {
                        steps: steps.to_vec(),
                        field: field.to_owned(),
                        breach: Breach::Value(
                            json!("a".repeat(max as usize + 1)),
                            format!("Member must have length less than or equal to {max}"),
                        ),
                    });
                }
                if shape.get("enum").is_some() {
                    out.push(Target {
                        steps: steps.to_vec(),
                        field: field.to_owned(),
                        breach: Breach::Value(json!("NOT_A_VALUE"), "Member must satisfy enum value set".to_owned()),
                    });
                }
                if let Some(pattern) = shape["pattern"].as_str() {
                    let regex = anchored(pattern);
                    let length = shape["min"].as_i64().unwrap_or(1).max(1) as usize;
                    let breaker = BREAKERS
                        .iter()
                        .map(|b| b.repeat(length.div_ceil(b.len())))
                        .find(|candidate| !regex.is_match(candidate))
                        .unwrap_or_else(|| panic!("no breaking value for {name}: {pattern}"));
                    out.push(Target {
                        steps: steps.to_vec(),
                        field: field.to_owned(),
                        breach: Breach::Pattern(breaker),
                    });
                }
            }
            "integer" | "long" => {
                if let Some(min) = shape["min"].as_i64() {
                    let message = format!("Member must have value greater than or equal to {min}");
                    out.push(Target {
                        steps: steps.to_vec(),
                        field: field.to_owned(),
                        breach: Breach::Value(json!(min - 1), message),
                    });
                }
                if let Some(max) = shape["max"].as_i64() {
                    let message = format!("Member must have value less than or equal to {max}");
                    out.push(Target {
                        steps: steps.to_vec(),
                        field: field.to_owned(),
                        breach: Breach::Value(json!(max + 1), message),
                    });
                }
            }
            "list" => {
                let item = self.example(Self::target_of(&shape["member"]), 0);
                self.collection_bounds(shape, steps, field, |count| Value::Array(vec![item.clone(); count]), out);
                let (steps, field) = nest(Step::Item, "1.member");
                self.targets(Self::target_of(&shape["member"]), &steps, &field, &chain, out);
            }
            "map" => {
                let key = self.example(Self::target_of(&shape["key"]), 0);
                let key = key.as_str().unwrap().to_owned();
                let entry = self.example(Self::target_of(&shape["value"]), 0);
                let entries = |count: usize| {
                    Value::Object((0..count).map(|index| (format!("{key}{index}"), entry.clone())).collect())
                };
                self.collection_bounds(shape, steps, field, entries, out);
                let (key_steps, key_field) = nest(Step::MapKey, "key");
                self.targets(Self::target_of(&shape["key"]), &key_steps, &key_field, &chain, out);
                let key = self.example(Self::target_of(&shape["key"]), 0);
                let (value_steps, value_field) = nest(Step::MapValue, key.as_str().unwrap());
                self.targets(Self::target_of(&shape["value"]), &value_steps, &value_field, &chain, out);
            }
            _ => {}
        }
    }

    /// Too few and too many items of a list or map shape with length bounds.
    fn collection_bounds(
        &self,
        shape: &Value,
        steps: &[Step],
        field: &str,
        make: impl Fn(usize) -> Value,
        out: &mut Vec<Target>,
    ) {
        if let Some(min) = shape["min"].as_u64().filter(|&min| min > 0) {
            out.push(Target {
                steps: steps.to_vec(),
                field: field.to_owned(),
                breach: Breach::Value(
                    make(min as usize - 1),
                    format!("Member must have length greater than or equal to {min}"),
                ),
            });
        }
        if let Some(max) = shape["max"].as_u64() {
            out.push(Target {
                steps: steps.to_vec(),
                field: field.to_owned(),
                breach: Breach::Value(
                    make(max as usize + 1),
                    format!("Member must have length less than or equal to {max}"),
                ),
            });
        }
    }

    /// Applies `target` to `value` (an example of `shape`), creating the path as needed.
    fn apply(&self, shape: &str, value: &mut Value, steps: &[Step], breach: &Breach) {
        let shape_value = self.shape(shape);
        let Some((step, rest)) = steps.split_first() else {
            match breach {
                Breach::Pattern(bad) => *value = Value::String(bad.clone()),
                Breach::Value(bad, _) => *value = bad.clone(),
                Breach::Missing => {}
            }
            return;
        };
        match step {
            Step::Member(name) => {
                let member_shape = Self::target_of(&shape_value["members"][name]);
                let object = value.as_object_mut().unwrap();
                if rest.is_empty() && matches!(breach, Breach::Missing) {
                    object.remove(name);
                    return;
                }
                if shape_value["union"].as_bool() == Some(true) {
                    object.retain(|key, _| key == name);
                }
                let child = object.entry(name.clone()).or_insert_with(|| self.example(member_shape, 0));
                self.apply(member_shape, child, rest, breach);
            }
            Step::Item => {
                let item_shape = Self::target_of(&shape_value["member"]);
                let items = value.as_array_mut().unwrap();
                self.apply(item_shape, &mut items[0], rest, breach);
            }
            Step::MapKey => {
                let bad = match breach {
                    Breach::Pattern(bad) => bad.clone(),
                    Breach::Value(bad, _) => bad.as_str().expect("map keys are strings").to_owned(),
                    Breach::Missing => unreachable!("map keys are never missing"),
                };
                let object = value.as_object_mut().unwrap();
                let entry = object.values().next().cloned().unwrap();
                object.clear();
                object.insert(bad, entry);
            }
            Step::MapValue => {
                let value_shape = Self::target_of(&shape_value["value"]);
                let entry = value.as_object_mut().unwrap().values_mut().next().unwrap();
                self.apply(value_shape, entry, rest, breach);
            }
        }
    }

    /// Checks a response value has the model's wire types, recursively (timestamps as RFC 3339,
    /// enums within their values, no nulls, unions with one member).
    fn check_output(&self, name: &str, value: &Value, path: &str) {
        let shape = self.shape(name);
        let kind = shape["type"].as_str().unwrap();
        assert!(!value.is_null(), "{path}: null instead of an absent member");
        match kind {
            "structure" => {
                let object = value.as_object().unwrap_or_else(|| panic!("{path}: not an object: {value}"));
                let members = shape["members"].as_object().unwrap();
                for (key, item) in object {
                    let member = members.get(key).unwrap_or_else(|| panic!("{path}: {key} is not in the model"));
                    self.check_output(Self::target_of(member), item, &format!("{path}.{key}"));
                }
                if shape["union"].as_bool() == Some(true) {
                    assert_eq!(object.len(), 1, "{path}: a union with {} members", object.len());
                }
            }
            "string" => {
                let text = value.as_str().unwrap_or_else(|| panic!("{path}: not a string: {value}"));
                if let Some(choices) = shape["enum"].as_array() {
                    assert!(choices.iter().any(|c| c == text), "{path}: {text} is not one of {choices:?}");
                }
            }
            "timestamp" => {
                let text = value.as_str().unwrap_or_else(|| panic!("{path}: not a timestamp string: {value}"));
                let rfc3339 = Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$").unwrap();
                assert!(rfc3339.is_match(text), "{path}: {text} is not RFC 3339");
            }
            "integer" | "long" => assert!(value.is_i64(), "{path}: not an integer: {value}"),
            "boolean" => assert!(value.is_boolean(), "{path}: not a boolean: {value}"),
            "list" => {
                for (index, item) in value.as_array().unwrap_or_else(|| panic!("{path}: not a list")).iter().enumerate()
                {
                    self.check_output(Self::target_of(&shape["member"]), item, &format!("{path}[{index}]"));
                }
            }
            "map" => {
                for (key, item) in value.as_object().unwrap_or_else(|| panic!("{path}: not a map")) {
                    self.check_output(Self::target_of(&shape["value"]), item, &format!("{path}.{key}"));
                }
            }
            _ => {}
        }
    }

    /// Method, path, query and body of `operation` for the input `input` (member names as keys).
    fn request(
        &self,
        operation: &str,
        input: &Map<String, Value>,
        trailing_slash: bool,
    ) -> (String, String, String, Vec<u8>) {
        let op = &self.operations[operation];
        let method = op["http"]["method"].as_str().unwrap().to_owned();
        let mut path = op["http"]["requestUri"].as_str().unwrap().to_owned();
        let input_shape = self.shape(op["input"]["shape"].as_str().unwrap());
        let mut query = Vec::new();
        let mut body = Map::new();
        for (name, member) in input_shape["members"].as_object().unwrap() {
            let Some(value) = input.get(name) else { continue };
            let wire = member["locationName"].as_str().unwrap_or(name);
            let text = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            match member["location"].as_str() {
                Some("uri") => path = path.replace(&format!("{{{wire}}}"), &encode(&text)),
                Some("querystring") => query.push(format!("{wire}={}", encode(&text))),
                _ => {
                    body.insert(name.clone(), value.clone());
                }
            }
        }
        if !trailing_slash {
            path.pop();
        }
        let body = if method == "PUT" { serde_json::to_vec(&body).unwrap() } else { Vec::new() };
        (method, path, query.join("&"), body)
    }
}

fn kind(breach: &Breach, expected: &str) -> &'static str {
    match breach {
        Breach::Missing => "required",
        Breach::Pattern(_) => "pattern",
        Breach::Value(..) if expected.contains("enum") => "enum",
        Breach::Value(..) if expected.contains("have value") => "range",
        Breach::Value(..) => "length",
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn examples_match_their_patterns() {
    let model = load();
    for (name, example) in EXAMPLES {
        let shape = model.shape(name);
        let regex = anchored(shape["pattern"].as_str().unwrap());
        assert!(regex.is_match(example), "{name}: {example}");
        let length = example.chars().count() as i64;
        assert!(shape["min"].as_i64().is_none_or(|min| length >= min), "{name} too short");
        assert!(shape["max"].as_i64().is_none_or(|max| length <= max), "{name} too long");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_is_served_as_the_model_says() {
    let model = load();
    let mut served: Vec<&str> = model
        .operations
        .iter()
        .filter(|(_, op)| op["http"]["requestUri"].as_str().unwrap().starts_with("/runtimes/"))
        .map(|(name, _)| name.as_str())
        .collect();
    served.sort();
    let mut ours = OPERATIONS.to_vec();
    ours.sort();
    assert_eq!(served, ours, "the model's runtime/endpoint operations changed");

    let harness = start(0).await;
    let stack = &harness.stack;
    for trailing_slash in [true, false] {
        let name = if trailing_slash { "with_slash" } else { "without_slash" };
        let mut id = String::new();
        for operation in OPERATIONS {
            let op = &model.operations[*operation];
            let mut input = model.example(op["input"]["shape"].as_str().unwrap(), 0).as_object().unwrap().clone();
            if input.contains_key("agentRuntimeId") {
                input.insert("agentRuntimeId".into(), id.clone().into());
            }
            for key in ["agentRuntimeName", "name", "endpointName"] {
                if input.contains_key(key) {
                    input.insert(key.into(), name.into());
                }
            }
            let (method, path, query, body) = model.request(operation, &input, trailing_slash);
            let response = signed(stack, "bedrock-agentcore", &method, &path, &query, &body).await;
            let expected = op["http"]["responseCode"].as_u64().unwrap() as u16;
            assert_eq!(response.status, expected, "{operation} {method} {path}: {response:?}");
            let output = response.json();
            for required in
                model.shape(op["output"]["shape"].as_str().unwrap())["required"].as_array().into_iter().flatten()
            {
                let required = required.as_str().unwrap();
                assert!(output.get(required).is_some(), "{operation} response lacks {required}: {output}");
            }
            model.check_output(op["output"]["shape"].as_str().unwrap(), &output, operation);
            if *operation == "CreateAgentRuntime" {
                id = output["agentRuntimeId"].as_str().unwrap().to_owned();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_model_constraint_is_validated() {
    let model = load();
    let harness = start(0).await;
    let stack = &harness.stack;
    let mut checked = BTreeMap::<&str, usize>::new();
    let mut kinds = BTreeMap::<&str, usize>::new();
    for operation in OPERATIONS {
        let input_shape = model.operations[*operation]["input"]["shape"].as_str().unwrap();
        let mut targets = Vec::new();
        model.targets(input_shape, &[], "", &[], &mut targets);
        assert!(!targets.is_empty(), "{operation} has nothing to validate");
        for target in &targets {
            let mut input = model.example(input_shape, 0);
            model.apply(input_shape, &mut input, &target.steps, &target.breach);
            let (method, path, query, body) = model.request(operation, input.as_object().unwrap(), true);
            let response = signed(stack, "bedrock-agentcore", &method, &path, &query, &body).await;
            let context = format!("{operation} {target:?}: {response:?}");
            assert_eq!(response.status, 400, "{context}");
            assert_eq!(response.header("x-amzn-errortype"), Some("ValidationException"), "{context}");
            let json = response.json();
            assert_eq!(json["reason"], "FieldValidationFailed", "{context}");
            let fields = json["fieldList"].as_array().unwrap_or_else(|| panic!("no fieldList: {context}"));
            let expected = match &target.breach {
                Breach::Missing => "Member must not be null",
                Breach::Pattern(_) => "Member must satisfy regular expression pattern",
                Breach::Value(_, message) => message.as_str(),
            };
            // A value may break several constraints at once (a long string may also miss the pattern).
            let named = fields.iter().any(|f| {
                f["name"] == target.field.as_str() && f["message"].as_str().is_some_and(|m| m.contains(expected))
            });
            assert!(named, "fieldList lacks {} with {expected:?}: {context}", target.field);
            *checked.entry(*operation).or_default() += 1;
            *kinds.entry(kind(&target.breach, expected)).or_default() += 1;
        }
    }
    eprintln!("validated targets per operation: {checked:?}; per constraint: {kinds:?}");
    for constraint in ["required", "pattern", "length", "range", "enum"] {
        assert!(kinds.get(constraint).is_some_and(|&n| n > 0), "no {constraint} constraint checked: {kinds:?}");
    }
    // Sanity: the walk reached deep members (codeConfiguration, VPC config, authorizer, ...).
    assert!(checked["CreateAgentRuntime"] > 40, "{checked:?}");
    assert_eq!(checked.len(), OPERATIONS.len());
}
