//! The vendored botocore model of the AgentCore control plane, and the validation it drives: the
//! one definition of a valid request, shared by xtask (before it sends anything) and the local stack
//! (which refuses what AWS refuses). [`rules`] adds what AgentCore documents but the model cannot say.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::{Map, Value};

pub mod rules;

/// The control-plane botocore model (`bedrock-agentcore-control`, 2023-06-05, botocore 1.44.8),
/// vendored unmodified so both sides validate exactly what AWS documents.
pub const CONTROL_MODEL_JSON: &str = include_str!("service-2.json");

/// The control-plane operations the local stack serves, and so the ones whose inputs are compiled.
pub const OPERATIONS: &[&str] = &[
    "CreateAgentRuntime",
    "UpdateAgentRuntime",
    "GetAgentRuntime",
    "DeleteAgentRuntime",
    "ListAgentRuntimes",
    "ListAgentRuntimeVersions",
    "CreateAgentRuntimeEndpoint",
    "UpdateAgentRuntimeEndpoint",
    "GetAgentRuntimeEndpoint",
    "DeleteAgentRuntimeEndpoint",
    "ListAgentRuntimeEndpoints",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
];

/// The control-plane model, parsed on first use.
pub fn control() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| Model::parse(CONTROL_MODEL_JSON, OPERATIONS).expect("the vendored model is valid JSON"))
}

/// Every violation of an operation's input: the model's constraints, then [`rules`].
pub fn check_input(operation: &str, input: &Map<String, Value>) -> Vec<FieldError> {
    let model = control();
    let mut errors = Vec::new();
    if let Some(shape) = model.input_shape(operation) {
        model.validate(shape, &Value::Object(input.clone()), "", &mut errors);
    }
    errors.extend(rules::check(operation, input));
    errors
}

/// One field that failed validation, as in the `fieldList` of a ValidationException.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The member's path, as AWS names it: `networkConfiguration.networkModeConfig.subnets.1.member`.
    pub name: String,
    /// AWS's message: `Value at '<name>' failed to satisfy constraint: <rule>`.
    pub message: String,
    /// The violated constraint alone, e.g. `Member must satisfy regular expression pattern: sg-…`,
    /// for callers that word the error themselves (not on the wire).
    #[serde(skip)]
    pub rule: String,
}

/// Where a request member travels on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Body,
    Uri(String),
    Query(String),
    Header(String),
}

impl FieldError {
    /// A violation of `rule` at the member `name`, worded as AWS words it.
    pub fn new(name: &str, rule: String) -> FieldError {
        FieldError {
            message: format!("Value at '{name}' failed to satisfy constraint: {rule}"),
            name: name.to_owned(),
            rule,
        }
    }
}

/// The parsed model with every reachable pattern compiled once.
#[derive(Debug)]
pub struct Model {
    shapes: Map<String, Value>,
    operations: Map<String, Value>,
    /// The operations served: only their inputs' patterns are compiled.
    served: &'static [&'static str],
    /// Anchored patterns by shape name; `None` when the regex crate cannot compile one.
    patterns: HashMap<String, Option<Regex>>,
}

impl Model {
    /// Parses a botocore model, compiling the patterns of the shapes `served` operations reach.
    pub fn parse(text: &str, served: &'static [&'static str]) -> Result<Model, serde_json::Error> {
        let root: Value = serde_json::from_str(text)?;
        let shapes = root.get("shapes").and_then(Value::as_object).cloned().unwrap_or_default();
        let operations = root.get("operations").and_then(Value::as_object).cloned().unwrap_or_default();
        let mut model = Model { shapes, operations, served, patterns: HashMap::new() };
        for name in model.reachable_shapes() {
            let Some(pattern) = model.shape(&name).and_then(|shape| shape.get("pattern")).and_then(Value::as_str)
            else {
                continue;
            };
            // botocore drops Smithy's anchors, and Smithy patterns match anywhere: anchor them so a
            // pattern constrains the whole value, as the service does. A pattern the regex crate
            // cannot compile accepts every value rather than reject valid input (the model test
            // lists such patterns).
            let regex = Regex::new(&format!("^(?:{pattern})$")).ok();
            model.patterns.insert(name, regex);
        }
        Ok(model)
    }

    fn collect(&self, name: &str, seen: &mut Vec<String>) {
        if seen.iter().any(|known| known == name) {
            return;
        }
        seen.push(name.to_owned());
        let Some(shape) = self.shape(name) else { return };
        if let Some(members) = shape.get("members").and_then(Value::as_object) {
            for member in members.values() {
                if let Some(target) = member.get("shape").and_then(Value::as_str) {
                    self.collect(target, seen);
                }
            }
        }
        for key in ["member", "key", "value"] {
            if let Some(target) = shape.get(key).and_then(|m| m.get("shape")).and_then(Value::as_str) {
                self.collect(target, seen);
            }
        }
    }

    pub fn shape(&self, name: &str) -> Option<&Value> {
        self.shapes.get(name)
    }

    fn operation(&self, name: &str) -> Option<&Value> {
        self.operations.get(name)
    }

    pub fn input_shape(&self, operation: &str) -> Option<&str> {
        self.operation(operation)?.get("input")?.get("shape")?.as_str()
    }

    /// Every shape reachable from the served operations' inputs.
    fn reachable_shapes(&self) -> Vec<String> {
        let mut seen = Vec::new();
        for operation in self.served {
            if let Some(input) = self.input_shape(operation) {
                self.collect(input, &mut seen);
            }
        }
        seen
    }

    /// The shapes whose pattern the regex crate cannot compile (and which so accept any value).
    pub fn uncompiled_patterns(&self) -> Vec<&str> {
        self.patterns.iter().filter(|(_, regex)| regex.is_none()).map(|(shape, _)| shape.as_str()).collect()
    }

    /// The compiled, anchored pattern of a string shape.
    fn pattern(&self, shape: &str) -> Option<&Regex> {
        self.patterns.get(shape).and_then(Option::as_ref)
    }

    /// `(member, location)` of each member of an operation's input.
    pub fn input_members(&self, operation: &str) -> Vec<(String, Location)> {
        let Some(shape) = self.input_shape(operation).and_then(|name| self.shape(name)) else { return Vec::new() };
        let Some(members) = shape.get("members").and_then(Value::as_object) else { return Vec::new() };
        members
            .iter()
            .map(|(name, member)| {
                let wire = member.get("locationName").and_then(Value::as_str).unwrap_or(name).to_owned();
                let location = match member.get("location").and_then(Value::as_str) {
                    Some("uri") => Location::Uri(wire),
                    Some("querystring") => Location::Query(wire),
                    Some("header") => Location::Header(wire),
                    _ => Location::Body,
                };
                (name.clone(), location)
            })
            .collect()
    }

    /// The model type (`string`, `integer`, ...) of a member of a structure shape.
    pub fn member_type(&self, structure: &str, member: &str) -> Option<&str> {
        let target = self.shape(structure)?.get("members")?.get(member)?.get("shape")?.as_str()?;
        self.shape(target)?.get("type")?.as_str()
    }

    /// Validates `value` against shape `name`, appending one error per violated constraint.
    pub fn validate(&self, name: &str, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
        let Some(shape) = self.shape(name) else { return };
        let kind = shape.get("type").and_then(Value::as_str).unwrap_or("");
        let mut fail = |rule: String| {
            let field = if path.is_empty() { "input".to_owned() } else { path.to_owned() };
            errors.push(FieldError::new(&field, rule));
        };
        let min = shape.get("min").and_then(Value::as_i64);
        let max = shape.get("max").and_then(Value::as_i64);
        match kind {
            "structure" => {
                let Some(object) = value.as_object() else { return fail("Member must be a structure".into()) };
                let members = shape.get("members").and_then(Value::as_object);
                for required in shape.get("required").and_then(Value::as_array).into_iter().flatten() {
                    let required = required.as_str().unwrap_or_default();
                    if object.get(required).is_none_or(Value::is_null) {
                        let field = join(path, required);
                        errors.push(FieldError {
                            message: format!(
                                "Value null at '{field}' failed to satisfy constraint: Member must not be null"
                            ),
                            name: field,
                            rule: "Member must not be null".to_owned(),
                        });
                    }
                }
                let mut set = 0;
                for (key, member_value) in object {
                    if member_value.is_null() {
                        continue;
                    }
                    set += 1;
                    let Some(target) =
                        members.and_then(|m| m.get(key)).and_then(|m| m.get("shape")).and_then(Value::as_str)
                    else {
                        continue; // unknown members are ignored, as the service's deserializer does
                    };
                    self.validate(target, member_value, &join(path, key), errors);
                }
                if shape.get("union").and_then(Value::as_bool) == Some(true) && set != 1 {
                    let names: Vec<&str> = members.map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default();
                    let field = if path.is_empty() { "input".to_owned() } else { path.to_owned() };
                    let rule = format!("Member must have exactly one of [{}] set, found {set}", names.join(", "));
                    errors.push(FieldError::new(&field, rule));
                }
            }
            "string" => {
                let Some(text) = value.as_str() else { return fail("Member must be a string".into()) };
                let length = text.chars().count() as i64;
                if let Some(min) = min.filter(|&min| length < min) {
                    fail(format!("Member must have length greater than or equal to {min}"));
                }
                if let Some(max) = max.filter(|&max| length > max) {
                    fail(format!("Member must have length less than or equal to {max}"));
                }
                if let Some(pattern) = self.pattern(name)
                    && !pattern.is_match(text)
                {
                    let source = shape.get("pattern").and_then(Value::as_str).unwrap_or_default();
                    fail(format!("Member must satisfy regular expression pattern: {source}"));
                }
                if let Some(allowed) = shape.get("enum").and_then(Value::as_array)
                    && !allowed.iter().any(|choice| choice.as_str() == Some(text))
                {
                    let choices: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
                    fail(format!("Member must satisfy enum value set: [{}]", choices.join(", ")));
                }
            }
            "integer" | "long" => {
                let Some(number) = value.as_i64() else { return fail("Member must be an integer".into()) };
                if let Some(min) = min.filter(|&min| number < min) {
                    fail(format!("Member must have value greater than or equal to {min}"));
                }
                if let Some(max) = max.filter(|&max| number > max) {
                    fail(format!("Member must have value less than or equal to {max}"));
                }
            }
            "double" | "float" if !value.is_number() => fail("Member must be a number".into()),
            "boolean" if !value.is_boolean() => fail("Member must be a boolean".into()),
            "timestamp" if !(value.is_string() || value.is_number()) => fail("Member must be a timestamp".into()),
            "list" => {
                let Some(items) = value.as_array() else { return fail("Member must be a list".into()) };
                let length = items.len() as i64;
                if let Some(min) = min.filter(|&min| length < min) {
                    fail(format!("Member must have length greater than or equal to {min}"));
                }
                if let Some(max) = max.filter(|&max| length > max) {
                    fail(format!("Member must have length less than or equal to {max}"));
                }
                if let Some(target) = shape.get("member").and_then(|m| m.get("shape")).and_then(Value::as_str) {
                    for (index, item) in items.iter().enumerate() {
                        self.validate(target, item, &format!("{path}.{}.member", index + 1), errors);
                    }
                }
            }
            "map" => {
                let Some(entries) = value.as_object() else { return fail("Member must be a map".into()) };
                let length = entries.len() as i64;
                if let Some(min) = min.filter(|&min| length < min) {
                    fail(format!("Member must have length greater than or equal to {min}"));
                }
                if let Some(max) = max.filter(|&max| length > max) {
                    fail(format!("Member must have length less than or equal to {max}"));
                }
                let key_shape = shape.get("key").and_then(|m| m.get("shape")).and_then(Value::as_str);
                let value_shape = shape.get("value").and_then(|m| m.get("shape")).and_then(Value::as_str);
                for (key, entry) in entries {
                    if let Some(key_shape) = key_shape {
                        self.validate(key_shape, &Value::String(key.clone()), &format!("{path}.key"), errors);
                    }
                    if let Some(value_shape) = value_shape {
                        self.validate(value_shape, entry, &format!("{path}.{key}"), errors);
                    }
                }
            }
            _ => {}
        }
    }
}

fn join(path: &str, member: &str) -> String {
    if path.is_empty() { member.to_owned() } else { format!("{path}.{member}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reachable_pattern_compiles() {
        let uncompiled = control().uncompiled_patterns();
        assert!(uncompiled.is_empty(), "the regex crate cannot compile the patterns of {uncompiled:?}");
        assert!(control().pattern("AgentRuntimeName").is_some());
    }

    #[test]
    fn patterns_are_anchored() {
        let model = control();
        let mut errors = Vec::new();
        model.validate("AgentRuntimeName", &Value::String("ok_name-with-hyphen".into()), "name", &mut errors);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].name, "name");
    }

    #[test]
    fn unions_need_exactly_one_member() {
        let model = control();
        let mut errors = Vec::new();
        model.validate("AgentRuntimeArtifact", &serde_json::json!({}), "agentRuntimeArtifact", &mut errors);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].message.contains("exactly one"), "{errors:?}");
    }
}
