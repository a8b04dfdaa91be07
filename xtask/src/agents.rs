//! Agents: every directory under `agents/` is a deployable unit described by its `agent.toml`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::settings::{self, Settings};
pub use crate::settings::{Lifecycle, Vpc};

pub(crate) const AGENTS_DIR: &str = "agents";
pub(crate) const MANIFEST: &str = "agent.toml";

/// `agent.toml`, as written by the agent's owners.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// What the agent does; becomes the runtime's description.
    pub(crate) description: Option<String>,
    /// The file AgentCore starts, optionally behind a launcher: `"main.py"` or
    /// `["opentelemetry-instrument", "main.py"]`.
    pub entry_point: EntryPoint,
    /// System prompt, relative to the workspace root (default `prompts/<agent>.txt`).
    pub(crate) prompt: Option<PathBuf>,
    /// PYTHON_3_10 … PYTHON_3_14 (default: the workspace setting).
    pub(crate) python_runtime: Option<String>,
    /// Pinned dependencies, relative to the agent directory (default `requirements.txt`).
    pub(crate) requirements: Option<PathBuf>,
    #[serde(default)]
    pub(crate) network_mode: NetworkMode,
    /// The protocol the agent serves: HTTP (default), MCP, A2A or AGUI.
    #[serde(default)]
    pub protocol: Protocol,
    /// The port the agent listens on, when not its protocol's default (8000-12000, not 8443).
    pub port: Option<i64>,
    /// The path the agent serves, when not its protocol's default (`/` then up to 2047 of
    /// `A-Z a-z 0-9 - . _ ~ / %`).
    pub path: Option<String>,
    /// `[vpc]`: where a `network_mode = "VPC"` runtime's network interfaces go (default: the
    /// workspace's `[workspace.metadata.agentcore.vpc]`).
    pub(crate) vpc: Option<Vpc>,
    /// `[lifecycle]`: how long sessions may idle and live (default: the workspace's
    /// `[workspace.metadata.agentcore.lifecycle]`, else AgentCore's 900 s and 8 h).
    pub(crate) lifecycle: Option<Lifecycle>,
    /// `[authorizer.jwt]`: inbound auth by a JWT authorizer instead of IAM (SigV4), the default.
    pub(crate) authorizer: Option<Authorizer>,
    /// Request headers AgentCore passes on to the agent.
    pub(crate) request_headers: Option<Vec<String>>,
    /// `V1` or `V2` (default: the workspace setting).
    pub(crate) platform_version: Option<String>,
    /// Further ports reachable through the session URL: a port, or a range `"9000-9010"`.
    pub(crate) allowed_ports: Option<Vec<AllowedPort>>,
    /// `[resources]`: what AgentCore reserves for each session.
    pub(crate) resources: Option<Resources>,
    /// Environment variables of the runtime.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Tags of the runtime.
    #[serde(default)]
    pub(crate) tags: BTreeMap<String, String>,
    /// Glob patterns (relative to the agent directory) of files that must not be packaged.
    #[serde(default)]
    pub(crate) exclude: Vec<String>,
    /// The smoke test of a deployed version (default: the protocol's [`Protocol::smoke_payload`]
    /// answered with HTTP 200).
    pub smoke: Option<SmokeManifest>,
}

/// `[smoke]` of `agent.toml`: what a smoke test sends and what it must get back.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct SmokeManifest {
    /// The request body, a TOML table (or any value) sent as JSON (default `{"prompt": "ping"}`).
    pub payload: Option<serde_json::Value>,
    /// Seconds the whole answer may take (default 60, at most 900).
    pub timeout_secs: Option<u64>,
    /// A substring of the answer, or with a leading `/` a JSON pointer that must be present in it.
    pub expect: Option<String>,
}

/// The most a smoke test may take: AgentCore's own limit on a synchronous invocation.
pub(crate) const SMOKE_TIMEOUT_MAX: u64 = 900;

impl SmokeManifest {
    fn check(&self, name: &str) -> Result<()> {
        if let Some(seconds) = self.timeout_secs
            && !(1..=SMOKE_TIMEOUT_MAX).contains(&seconds)
        {
            bail!(
                "agent `{name}`: [smoke] timeout_secs must be 1 to {SMOKE_TIMEOUT_MAX} seconds, not {seconds}; e.g. timeout_secs = 60"
            );
        }
        match self.expect.as_deref() {
            Some("") => bail!(
                "agent `{name}`: [smoke] expect is empty; give a substring of the answer, or a JSON pointer such as \"/echo\", or leave it out"
            ),
            Some(pointer) if pointer.starts_with('/') => {
                let escapes_ok = pointer.split('/').all(|token| {
                    let mut chars = token.chars();
                    while let Some(c) = chars.next() {
                        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
                            return false;
                        }
                    }
                    true
                });
                if !escapes_ok {
                    bail!(
                        "agent `{name}`: [smoke] expect `{pointer}` is not a valid JSON pointer: `~` must be followed by 0 (for `~`) or 1 (for `/`)"
                    );
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// `[authorizer]` of `agent.toml`: one kind of authorizer, today `jwt`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Authorizer {
    pub(crate) jwt: Option<JwtAuthorizer>,
}

/// `[authorizer.jwt]`: callers present a bearer token that this identity provider issued.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct JwtAuthorizer {
    /// The provider's `…/.well-known/openid-configuration` (or `oauth-authorization-server`) URL.
    pub(crate) discovery_url: String,
    /// Tokens must carry one of these `aud` values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) allowed_audiences: Option<Vec<String>>,
    /// Tokens must carry one of these client ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) allowed_clients: Option<Vec<String>>,
    /// Tokens must carry one of these scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) allowed_scopes: Option<Vec<String>>,
}

/// One entry of `allowed_ports`: `8081`, or `"9000-9010"` for an inclusive range.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum AllowedPort {
    Port(i64),
    Range(String),
}

impl AllowedPort {
    /// `(from, to)` of a range entry; `None` when it is not `"FROM-TO"` with two numbers.
    pub(crate) fn range(text: &str) -> Option<(i64, i64)> {
        let (from, to) = text.split_once('-')?;
        Some((from.trim().parse().ok()?, to.trim().parse().ok()?))
    }
}

impl fmt::Display for AllowedPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowedPort::Port(port) => write!(f, "{port}"),
            AllowedPort::Range(range) => f.write_str(range),
        }
    }
}

/// `[resources]` of `agent.toml`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// The least memory, in MiB, AgentCore gives each session.
    pub(crate) min_memory_mib: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum EntryPoint {
    File(String),
    Command(Vec<String>),
}

impl EntryPoint {
    /// The list AgentCore receives as `entryPoint`.
    pub(crate) fn to_vec(&self) -> Vec<String> {
        match self {
            EntryPoint::File(file) => vec![file.clone()],
            EntryPoint::Command(parts) => parts.clone(),
        }
    }
    /// The Python file that must be in the zip: the last element.
    pub fn file(&self) -> &str {
        match self {
            EntryPoint::File(file) => file,
            EntryPoint::Command(parts) => parts.last().map(String::as_str).unwrap_or(""),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
pub(crate) enum NetworkMode {
    #[default]
    #[serde(rename = "PUBLIC")]
    Public,
    #[serde(rename = "VPC")]
    Vpc,
}

impl fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NetworkMode::Public => "PUBLIC",
            NetworkMode::Vpc => "VPC",
        })
    }
}

/// `protocol` of `agent.toml`: the contract the agent's server speaks, AgentCore's
/// `protocolConfiguration.serverProtocol`.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(try_from = "String", into = "String")]
pub enum Protocol {
    /// `POST /invocations` and `GET /ping` on 8080: the AgentCore app object's contract.
    #[default]
    Http,
    /// A Model Context Protocol server: streamable HTTP, JSON-RPC on `POST /mcp`, port 8000.
    Mcp,
    /// An Agent2Agent server: JSON-RPC on `POST /`, port 9000.
    A2a,
    /// An AG-UI server: `POST /invocations` answered with server-sent events, port 8080.
    Agui,
}

/// AgentCore's range of agent ports, and the one port in it that it keeps for itself.
pub(crate) const PORTS: std::ops::RangeInclusive<i64> = 8000..=12000;
pub(crate) const RESERVED_PORT: i64 = 8443;
/// The longest path AgentCore takes (the model's `ServerPath`).
pub(crate) const PATH_MAX: usize = 2048;

impl Protocol {
    pub const ALL: [Protocol; 4] = [Protocol::Http, Protocol::Mcp, Protocol::A2a, Protocol::Agui];

    /// The name AgentCore and `agent.toml` use.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "HTTP",
            Protocol::Mcp => "MCP",
            Protocol::A2a => "A2A",
            Protocol::Agui => "AGUI",
        }
    }

    /// The protocol AgentCore's `serverProtocol` names (`None` for a name it does not have).
    pub fn parse(text: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|protocol| protocol.as_str() == text)
    }

    /// The port AgentCore sends requests to when the agent sets none.
    pub fn default_port(self) -> u16 {
        match self {
            Protocol::Http | Protocol::Agui => 8080,
            Protocol::Mcp => 8000,
            Protocol::A2a => 9000,
        }
    }

    /// The path AgentCore sends requests to when the agent sets none.
    pub fn default_path(self) -> &'static str {
        match self {
            Protocol::Http | Protocol::Agui => "/invocations",
            Protocol::Mcp => "/mcp",
            Protocol::A2a => "/",
        }
    }

    /// The request that carries one user message in this protocol: `{"prompt": TEXT}` for HTTP, an
    /// A2A `message/send`, an AG-UI `RunAgentInput`; `None` for MCP, whose requests call tools.
    pub fn prompt_payload(self, text: &str) -> Option<serde_json::Value> {
        use serde_json::json;
        match self {
            Protocol::Http => Some(json!({ "prompt": text })),
            Protocol::Mcp => None,
            Protocol::A2a => Some(json!({
                "jsonrpc": "2.0",
                "id": 1,
                "method": "message/send",
                "params": { "message": {
                    "role": "user",
                    "parts": [{ "kind": "text", "text": text }],
                    "messageId": "xtask-message-1",
                } },
            })),
            Protocol::Agui => Some(json!({
                "threadId": "xtask-thread",
                "runId": "xtask-run",
                "state": {},
                "messages": [{ "id": "xtask-message-1", "role": "user", "content": text }],
                "tools": [],
                "context": [],
                "forwardedProps": {},
            })),
        }
    }

    /// What a smoke test sends when the agent's `[smoke]` gives no payload: a `ping` message, or
    /// for MCP a `tools/list` request.
    pub fn smoke_payload(self) -> serde_json::Value {
        self.prompt_payload("ping").unwrap_or_else(|| mcp_request("tools/list"))
    }
}

/// A JSON-RPC request of MCP without parameters, such as `tools/list`.
pub fn mcp_request(method: &str) -> serde_json::Value {
    serde_json::json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": {} })
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Protocol {
    type Error = String;
    fn try_from(text: String) -> Result<Protocol, String> {
        Protocol::parse(&text).ok_or_else(|| {
            let known: Vec<&str> = Protocol::ALL.iter().map(|protocol| protocol.as_str()).collect();
            format!(
                "protocol `{text}` is not one AgentCore runs: write one of {} in capitals, e.g. protocol = \"MCP\", or leave it out for HTTP",
                known.join(", ")
            )
        })
    }
}

impl From<Protocol> for String {
    fn from(protocol: Protocol) -> String {
        protocol.as_str().to_owned()
    }
}

/// A validated agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub name: String,
    /// Absolute path of `agents/<name>`.
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// Absolute path of the system prompt file.
    pub prompt: PathBuf,
    /// Absolute path of the pinned requirements file.
    pub requirements: PathBuf,
    /// Effective Python runtime (manifest, else settings).
    pub(crate) python_runtime: String,
}

impl Agent {
    /// The protocol the agent serves.
    pub fn protocol(&self) -> Protocol {
        self.manifest.protocol
    }

    /// The port the agent set, if any (checked to be within 8000 to 12000 when loaded).
    pub fn port(&self) -> Option<u16> {
        self.manifest.port.and_then(|port| u16::try_from(port).ok())
    }

    /// The port AgentCore sends requests to: the agent's own, else its protocol's.
    pub fn serving_port(&self) -> u16 {
        self.port().unwrap_or_else(|| self.protocol().default_port())
    }

    /// The path AgentCore sends requests to: the agent's own, else its protocol's.
    pub fn serving_path(&self) -> &str {
        self.manifest.path.as_deref().unwrap_or_else(|| self.protocol().default_path())
    }

    /// Reads and validates `agents/<name>/agent.toml` under `root`.
    pub(crate) fn load(root: &Path, dir: &Path, settings: &Settings) -> Result<Agent> {
        let name = dir.file_name().and_then(|name| name.to_str()).unwrap_or_default().to_owned();
        if !crate::naming::is_valid_name(&name) {
            bail!(
                "agent directory `{}`: `{name}` cannot form an AgentCore runtime name (a letter, then letters, digits or underscores, at most 48); rename the directory, e.g. `{}`",
                dir.display(),
                suggest_name(&name)
            );
        }
        let manifest_path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&manifest_path).with_context(|| {
            format!("agent `{name}`: cannot read {}; every agent directory needs one", manifest_path.display())
        })?;
        let manifest: Manifest = toml::from_str(&text)
            .map_err(|err| anyhow::anyhow!("agent `{name}`: invalid {}: {err}", manifest_path.display()))?;

        let entry_parts = manifest.entry_point.to_vec();
        if entry_parts.is_empty()
            || entry_parts.len() > 2
            || entry_parts.iter().any(|part| part.is_empty() || part.len() > 128)
        {
            bail!(
                "agent `{name}`: entry_point must be a file name or a list of 1-2 non-empty strings of at most 128 characters, e.g. \"main.py\""
            );
        }
        check_inside(&name, "entry_point", Path::new(manifest.entry_point.file()), "the agent directory")?;
        if let Some(prompt) = &manifest.prompt {
            check_inside(&name, "prompt", prompt, "the repository")?;
        }
        if let Some(requirements) = &manifest.requirements {
            check_inside(&name, "requirements", requirements, "the agent directory")?;
        }
        let entry_file = dir.join(manifest.entry_point.file());
        if !entry_file.is_file() {
            bail!(
                "agent `{name}`: entry point `{}` does not exist in {}; create it or fix entry_point in {MANIFEST}",
                manifest.entry_point.file(),
                dir.display()
            );
        }
        let prompt_rel = manifest.prompt.clone().unwrap_or_else(|| PathBuf::from(format!("prompts/{name}.txt")));
        let prompt = root.join(&prompt_rel);
        if !prompt.is_file() {
            bail!(
                "agent `{name}`: prompt file `{}` does not exist; create it or set `prompt` in {MANIFEST}",
                prompt_rel.display()
            );
        }
        let requirements_rel = manifest.requirements.clone().unwrap_or_else(|| PathBuf::from("requirements.txt"));
        let requirements = dir.join(&requirements_rel);
        if !requirements.is_file() {
            bail!(
                "agent `{name}`: requirements file `{}` does not exist; pin the dependencies there (e.g. `uv pip compile requirements.in -o requirements.txt`) or set `requirements` in {MANIFEST}",
                requirements_rel.display()
            );
        }
        let python_runtime = manifest.python_runtime.clone().unwrap_or_else(|| settings.python_runtime.clone());
        settings::check_python_runtime(&python_runtime, &format!("agent `{name}`: python_runtime in {MANIFEST}"))?;
        if let Some(description) = &manifest.description
            && (description.is_empty() || description.len() > 4096)
        {
            bail!("agent `{name}`: description must be 1-4096 characters");
        }
        if manifest.environment.len() > 50 {
            bail!("agent `{name}`: at most 50 environment variables are allowed, found {}", manifest.environment.len());
        }
        for (key, value) in &manifest.environment {
            if key.is_empty() || key.len() > 100 || value.len() > 5000 {
                bail!(
                    "agent `{name}`: environment variable `{key}` must have a 1-100 character name and a value of at most 5000 characters"
                );
            }
        }
        check_tags(&name, &manifest.tags)?;
        check_protocol(&name, &manifest)?;
        if let Some(authorizer) = &manifest.authorizer
            && authorizer.jwt.is_none()
        {
            bail!(
                "agent `{name}`: [authorizer] names no authorizer; add [authorizer.jwt] with discovery_url, or remove [authorizer] to keep IAM (SigV4) auth"
            );
        }
        for entry in manifest.allowed_ports.iter().flatten() {
            if let AllowedPort::Range(text) = entry
                && AllowedPort::range(text).is_none()
            {
                bail!(
                    "agent `{name}`: allowed_ports entry \"{text}\" is neither a port nor a range; write a port such as 8081 or a range such as \"9000-9010\""
                );
            }
        }
        if let Some(smoke) = &manifest.smoke {
            smoke.check(&name)?;
        }
        for pattern in &manifest.exclude {
            globset::Glob::new(pattern)
                .map_err(|err| anyhow::anyhow!("agent `{name}`: exclude pattern `{pattern}` is invalid: {err}"))?;
        }
        Ok(Agent { name, dir: dir.to_path_buf(), manifest, prompt, requirements, python_runtime })
    }
}

/// Manifest paths are relative and stay inside their base: a manifest must not reach for files
/// elsewhere on the machine (or in another agent) through `..` or an absolute path.
fn check_inside(name: &str, key: &str, path: &Path, base: &str) -> Result<()> {
    let inside = path.components().all(|component| matches!(component, std::path::Component::Normal(_)));
    if !inside || path.as_os_str().is_empty() {
        bail!(
            "agent `{name}`: {key} `{}` must be a relative path inside {base}, without `..`; move the file there",
            path.display()
        );
    }
    Ok(())
}

/// `port` and `path`: what AgentCore's model allows (`ServerPort`, `ServerPath`), and AgentCore's
/// reserved port.
fn check_protocol(name: &str, manifest: &Manifest) -> Result<()> {
    let protocol = manifest.protocol;
    if let Some(port) = manifest.port {
        let default = protocol.default_port();
        if port == RESERVED_PORT {
            bail!(
                "agent `{name}`: port {port} is reserved by AgentCore; pick another port from 8000 to 12000, or leave `port` out for {protocol}'s {default}"
            );
        }
        if !PORTS.contains(&port) {
            bail!(
                "agent `{name}`: port {port} is outside the 8000 to 12000 AgentCore allows; pick a port in that range (not 8443), or leave `port` out for {protocol}'s {default}"
            );
        }
    }
    if let Some(path) = &manifest.path {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~/%".contains(c);
        if !path.starts_with('/') || path.len() > PATH_MAX || !path.chars().all(allowed) {
            bail!(
                "agent `{name}`: path `{path}` must start with `/` and hold only letters, digits and `- . _ ~ / %`, at most {PATH_MAX} characters, e.g. path = \"/tools\"; or leave `path` out for {protocol}'s `{}`",
                protocol.default_path()
            );
        }
    }
    Ok(())
}

fn check_tags(name: &str, tags: &BTreeMap<String, String>) -> Result<()> {
    let allowed =
        |text: &str| text.chars().all(|c| c.is_ascii_alphanumeric() || c.is_whitespace() || "._:/=+@-".contains(c));
    if tags.len() > 50 {
        bail!("agent `{name}`: at most 50 tags are allowed, found {}", tags.len());
    }
    for (key, value) in tags {
        if key.is_empty() || key.len() > 128 || value.len() > 256 || !allowed(key) || !allowed(value) {
            bail!(
                "agent `{name}`: tag `{key}` must have a 1-128 character key and a value of at most 256, using letters, digits, spaces and . _ : / = + @ -"
            );
        }
    }
    Ok(())
}

fn suggest_name(name: &str) -> String {
    let mut suggestion: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    if !suggestion.starts_with(|c: char| c.is_ascii_alphabetic()) {
        suggestion.insert_str(0, "agent_");
    }
    suggestion.truncate(crate::naming::NAME_MAX);
    suggestion
}

/// Every agent under `root/agents`, sorted by name. Hidden directories are skipped.
pub fn discover(root: &Path, settings: &Settings) -> Result<Vec<Agent>> {
    let agents_dir = root.join(AGENTS_DIR);
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(&agents_dir).with_context(|| format!("cannot list {}", agents_dir.display()))? {
        let entry = entry?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_dir() && !file_name.starts_with(['.', '_']) {
            dirs.push((file_name, entry.path()));
        }
    }
    dirs.sort();
    // Names are case-insensitively unique: runtimes named from them must not collide anywhere.
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (name, _) in &dirs {
        if let Some(other) = seen.insert(name.to_ascii_lowercase(), name) {
            bail!(
                "duplicate agents `{other}` and `{name}` under {AGENTS_DIR}/: names must differ in more than letter case; rename one"
            );
        }
    }
    dirs.iter().map(|(_, dir)| Agent::load(root, dir, settings)).collect()
}

/// Picks agents by name from `all`, in the order given; duplicates and unknown names are errors.
pub(crate) fn pick(all: &[Agent], names: &[String]) -> Result<Vec<Agent>> {
    let mut picked: Vec<Agent> = Vec::new();
    for name in names {
        if picked.iter().any(|agent| &agent.name == name) {
            bail!("agent `{name}` is listed twice; list each agent once");
        }
        match all.iter().find(|agent| &agent.name == name) {
            Some(agent) => picked.push(agent.clone()),
            None => {
                let known: Vec<&str> = all.iter().map(|agent| agent.name.as_str()).collect();
                bail!("no agent named `{name}` under {AGENTS_DIR}/; known agents: {}", known.join(", "));
            }
        }
    }
    Ok(picked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        crate::settings::test_settings()
    }

    fn workspace(agents: &[(&str, &str)]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("prompts")).unwrap();
        for (name, manifest) in agents {
            let dir = root.path().join(AGENTS_DIR).join(name);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(MANIFEST), manifest).unwrap();
            std::fs::write(dir.join("main.py"), "print('hi')\n").unwrap();
            std::fs::write(dir.join("requirements.txt"), "").unwrap();
            std::fs::write(root.path().join("prompts").join(format!("{name}.txt")), "You are helpful.").unwrap();
        }
        root
    }

    fn error(agents: &[(&str, &str)]) -> String {
        let root = workspace(agents);
        format!("{:#}", discover(root.path(), &settings()).unwrap_err())
    }

    #[test]
    fn parses_a_full_manifest() {
        let root = workspace(&[(
            "bot",
            r#"
description = "A bot"
entry_point = ["opentelemetry-instrument", "main.py"]
python_runtime = "PYTHON_3_13"
network_mode = "PUBLIC"
exclude = ["tests/**"]
[environment]
LOG_LEVEL = "INFO"
[tags]
team = "fun"
"#,
        )]);
        let agents = discover(root.path(), &settings()).unwrap();
        assert_eq!(agents.len(), 1);
        let agent = &agents[0];
        assert_eq!(agent.name, "bot");
        assert_eq!(agent.python_runtime, "PYTHON_3_13");
        assert_eq!(agent.manifest.entry_point.to_vec(), ["opentelemetry-instrument", "main.py"]);
        assert_eq!(agent.manifest.entry_point.file(), "main.py");
        assert_eq!(agent.prompt, root.path().join("prompts/bot.txt"));
        assert_eq!(agent.manifest.environment["LOG_LEVEL"], "INFO");
    }

    #[test]
    fn minimal_manifest_takes_defaults() {
        let root = workspace(&[("bot", "entry_point = \"main.py\"\n")]);
        let agent = &discover(root.path(), &settings()).unwrap()[0];
        assert_eq!(agent.python_runtime, "PYTHON_3_12");
        assert_eq!(agent.manifest.network_mode, NetworkMode::Public);
        assert_eq!(agent.requirements, root.path().join("agents/bot/requirements.txt"));
    }

    #[test]
    fn errors_name_the_problem_and_the_fix() {
        let err = error(&[("bot", "entry_point = \"main.py\"\nentrypoint = \"x\"\n")]);
        assert!(err.contains("agent `bot`") && err.contains("unknown field `entrypoint`"), "{err}");

        let err = error(&[("bot", "entry_point = \"app.py\"\n")]);
        assert!(err.contains("entry point `app.py` does not exist"), "{err}");

        let err = error(&[("bot", "entry_point = \"main.py\"\nprompt = \"prompts/missing.txt\"\n")]);
        assert!(err.contains("prompt file `prompts/missing.txt` does not exist"), "{err}");

        let err = error(&[("bot", "description = \"x\"\n")]);
        assert!(err.contains("missing field `entry_point`"), "{err}");

        let err = error(&[("bot", "entry_point = \"../main.py\"\n")]);
        assert!(err.contains("entry_point `../main.py` must be a relative path inside the agent directory"), "{err}");

        let err = error(&[("bot", "entry_point = \"main.py\"\nprompt = \"/etc/passwd\"\n")]);
        assert!(err.contains("prompt `/etc/passwd` must be a relative path inside the repository"), "{err}");

        let err = error(&[("bot", "entry_point = \"main.py\"\nrequirements = \"../../requirements.txt\"\n")]);
        assert!(err.contains("requirements `../../requirements.txt` must be a relative path"), "{err}");

        let err = error(&[("bot", "entry_point = []\n")]);
        assert!(err.contains("list of 1-2"), "{err}");

        let err = error(&[("bot", "entry_point = \"main.py\"\npython_runtime = \"PYTHON_3_9\"\n")]);
        assert!(err.contains("PYTHON_3_9") && err.contains("PYTHON_3_10"), "{err}");

        let err = error(&[("bot", "entry_point = \"main.py\"\nnetwork_mode = \"PRIVATE\"\n")]);
        assert!(err.contains("network_mode") || err.contains("PRIVATE"), "{err}");

        let err = error(&[("bot", "entry_point = \"main.py\"\nexclude = [\"[\"]\n")]);
        assert!(err.contains("exclude pattern `[`"), "{err}");

        let err = error(&[("dad-joke-bot", "entry_point = \"main.py\"\n")]);
        assert!(err.contains("cannot form an AgentCore runtime name") && err.contains("dad_joke_bot"), "{err}");

        let err = error(&[("1bot", "entry_point = \"main.py\"\n")]);
        assert!(err.contains("agent_1bot"), "{err}");

        let err = error(&[("Bot", "entry_point = \"main.py\"\n"), ("bot", "entry_point = \"main.py\"\n")]);
        assert!(err.contains("duplicate agents `Bot` and `bot`"), "{err}");
    }

    #[test]
    fn runtime_settings_are_read_and_checked() {
        let root = workspace(&[(
            "bot",
            r#"entry_point = "main.py"
network_mode = "VPC"
platform_version = "V2"
request_headers = ["X-Api-Key"]
allowed_ports = [8081, "9000-9010"]
[vpc]
subnets = ["subnet-0123456789abcdef0"]
security_groups = ["sg-0123456789abcdef0"]
require_service_s3_endpoint = true
[lifecycle]
idle_timeout_secs = 600
[authorizer.jwt]
discovery_url = "https://idp.example.com/.well-known/openid-configuration"
[resources]
min_memory_mib = 2048
"#,
        )]);
        let manifest = discover(root.path(), &settings()).unwrap().remove(0).manifest;
        assert_eq!(manifest.vpc.unwrap().require_service_s3_endpoint, Some(true));
        assert_eq!(manifest.lifecycle, Some(Lifecycle { idle_timeout_secs: Some(600), max_lifetime_secs: None }));
        assert_eq!(manifest.allowed_ports, Some(vec![AllowedPort::Port(8081), AllowedPort::Range("9000-9010".into())]));
        assert_eq!(AllowedPort::range("9000-9010"), Some((9000, 9010)));
        assert!(manifest.authorizer.unwrap().jwt.is_some());
        assert_eq!(manifest.resources, Some(Resources { min_memory_mib: 2048 }));

        let err = error(&[("bot", "entry_point = \"main.py\"\n[authorizer]\n")]);
        assert!(err.contains("[authorizer] names no authorizer; add [authorizer.jwt]"), "{err}");
        let err = error(&[("bot", "entry_point = \"main.py\"\n[authorizer.oauth]\n")]);
        assert!(err.contains("unknown field `oauth`"), "{err}");
        let err = error(&[("bot", "entry_point = \"main.py\"\nallowed_ports = [\"http\"]\n")]);
        assert!(err.contains("allowed_ports entry \"http\" is neither a port nor a range"), "{err}");
        let err = error(&[("bot", "entry_point = \"main.py\"\n[resources]\n")]);
        assert!(err.contains("missing field `min_memory_mib`"), "{err}");
    }

    #[test]
    fn smoke_tables_are_read_and_checked() {
        let root = workspace(&[(
            "bot",
            "entry_point = \"main.py\"\n[smoke]\npayload = { prompt = \"hi\", n = 2 }\ntimeout_secs = 30\nexpect = \"/echo\"\n",
        )]);
        let smoke = discover(root.path(), &settings()).unwrap().remove(0).manifest.smoke.unwrap();
        assert_eq!(smoke.payload, Some(serde_json::json!({ "prompt": "hi", "n": 2 })));
        assert_eq!((smoke.timeout_secs, smoke.expect.as_deref()), (Some(30), Some("/echo")));

        let err = error(&[("bot", "entry_point = \"main.py\"\n[smoke]\ntimeout = 3\n")]);
        assert!(err.contains("unknown field `timeout`"), "{err}");
        let err = error(&[("bot", "entry_point = \"main.py\"\n[smoke]\ntimeout_secs = 0\n")]);
        assert!(err.contains("timeout_secs must be 1 to 900 seconds, not 0"), "{err}");
        let err = error(&[("bot", "entry_point = \"main.py\"\n[smoke]\nexpect = \"\"\n")]);
        assert!(err.contains("expect is empty"), "{err}");
        let err = error(&[("bot", "entry_point = \"main.py\"\n[smoke]\nexpect = \"/a~2\"\n")]);
        assert!(err.contains("not a valid JSON pointer"), "{err}");
    }

    #[test]
    fn protocol_port_and_path_are_read_and_checked() {
        let root = workspace(&[
            ("plain", "entry_point = \"main.py\"\n"),
            ("tools", "entry_point = \"main.py\"\nprotocol = \"MCP\"\n"),
            ("peer", "entry_point = \"main.py\"\nprotocol = \"A2A\"\nport = 9100\npath = \"/a2a/v1\"\n"),
            ("ui", "entry_point = \"main.py\"\nprotocol = \"AGUI\"\nport = 12000\npath = \"/%7Eui_x-1.2\"\n"),
        ]);
        let agents = discover(root.path(), &settings()).unwrap();
        let shown: Vec<(&str, Protocol, Option<u16>, u16, &str)> = agents
            .iter()
            .map(|agent| {
                (agent.name.as_str(), agent.protocol(), agent.port(), agent.serving_port(), agent.serving_path())
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("peer", Protocol::A2a, Some(9100), 9100, "/a2a/v1"),
                ("plain", Protocol::Http, None, 8080, "/invocations"),
                ("tools", Protocol::Mcp, None, 8000, "/mcp"),
                ("ui", Protocol::Agui, Some(12000), 12000, "/%7Eui_x-1.2"),
            ]
        );

        let err = error(&[("bot", "entry_point = \"main.py\"\nprotocol = \"mcp\"\n")]);
        assert!(err.contains("agent `bot`") && err.contains("protocol `mcp` is not one AgentCore runs"), "{err}");
        assert!(err.contains("HTTP, MCP, A2A, AGUI") && err.contains("protocol = \"MCP\""), "{err}");
        let err = error(&[("bot", "entry_point = \"main.py\"\nprotocol = \"MCP\"\nport = 8443\n")]);
        assert!(err.contains("agent `bot`: port 8443 is reserved by AgentCore") && err.contains("MCP's 8000"), "{err}");
        for port in ["7999", "12001", "-1", "80"] {
            let err = error(&[("bot", &format!("entry_point = \"main.py\"\nport = {port}\n"))]);
            assert!(err.contains(&format!("port {port} is outside the 8000 to 12000")), "{err}");
            assert!(err.contains("HTTP's 8080"), "{err}");
        }
        let err = error(&[("bot", "entry_point = \"main.py\"\nport = \"8000\"\n")]);
        assert!(err.contains("agent `bot`") && err.contains("port"), "{err}");
        for path in ["mcp", "/with space", "/é", "/a?b"] {
            let err = error(&[("bot", &format!("entry_point = \"main.py\"\nprotocol = \"MCP\"\npath = \"{path}\"\n"))]);
            assert!(
                err.contains(&format!("path `{path}` must start with `/`")) && err.contains("MCP's `/mcp`"),
                "{err}"
            );
        }
        let long = format!("/{}", "a".repeat(PATH_MAX));
        let err = error(&[("bot", &format!("entry_point = \"main.py\"\npath = \"{long}\"\n"))]);
        assert!(err.contains("at most 2048 characters"), "{err}");
        let err = error(&[("bot", "entry_point = \"main.py\"\nserver_protocol = \"MCP\"\n")]);
        assert!(err.contains("unknown field `server_protocol`"), "{err}");
    }

    #[test]
    fn missing_manifest_is_an_error() {
        let root = workspace(&[]);
        std::fs::create_dir_all(root.path().join("agents/empty")).unwrap();
        let err = format!("{:#}", discover(root.path(), &settings()).unwrap_err());
        assert!(err.contains("agent `empty`: cannot read") && err.contains("agent.toml"), "{err}");
    }

    #[test]
    fn pick_refuses_unknown_and_repeated_names() {
        let root = workspace(&[("a", "entry_point = \"main.py\"\n"), ("b", "entry_point = \"main.py\"\n")]);
        let all = discover(root.path(), &settings()).unwrap();
        assert_eq!(
            pick(&all, &["b".into(), "a".into()]).unwrap().iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
            ["b", "a"]
        );
        assert!(pick(&all, &["c".into()]).unwrap_err().to_string().contains("known agents: a, b"));
        assert!(pick(&all, &["a".into(), "a".into()]).unwrap_err().to_string().contains("listed twice"));
    }
}
