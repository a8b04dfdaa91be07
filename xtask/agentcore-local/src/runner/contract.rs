//! The contract between AgentCore and an agent's server, by the version's `protocolConfiguration`:
//! the port the agent listens on, the path an invocation is sent to, and what says the process is
//! ready. HTTP and AGUI: `POST /invocations` on 8080, ready once `GET /ping` answers 200. MCP:
//! `POST /mcp` on 8000; A2A: `POST /` on 9000; neither has to serve `GET /ping`, so either is ready
//! once it answers HTTP at all. A port or path the version sets replaces the protocol's.

use serde_json::{Map, Value};

/// AgentCore's `serverProtocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Http,
    Mcp,
    A2a,
    Agui,
}

impl Protocol {
    /// The protocol a version names; HTTP, AgentCore's default, when it names none (the model's
    /// enum refused any other name at create or update).
    fn named(name: Option<&str>) -> Protocol {
        match name {
            Some("MCP") => Protocol::Mcp,
            Some("A2A") => Protocol::A2a,
            Some("AGUI") => Protocol::Agui,
            _ => Protocol::Http,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "HTTP",
            Protocol::Mcp => "MCP",
            Protocol::A2a => "A2A",
            Protocol::Agui => "AGUI",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Protocol::Http | Protocol::Agui => 8080,
            Protocol::Mcp => 8000,
            Protocol::A2a => 9000,
        }
    }

    fn default_path(self) -> &'static str {
        match self {
            Protocol::Http | Protocol::Agui => "/invocations",
            Protocol::Mcp => "/mcp",
            Protocol::A2a => "/",
        }
    }

    /// Whether the agent must answer `GET /ping` with 200 (the HTTP and AG-UI contracts).
    fn pings(self) -> bool {
        matches!(self, Protocol::Http | Protocol::Agui)
    }
}

/// Where one version's process listens and what it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Contract {
    pub(crate) protocol: Protocol,
    /// The port the agent binds (the boot script moves that bind to a free loopback port).
    pub(crate) port: u16,
    /// The path InvokeAgentRuntime is forwarded to.
    pub(crate) path: String,
}

impl Contract {
    /// The contract of a version's configuration (as its create or update request gave it).
    pub(crate) fn of(config: &Map<String, Value>) -> Contract {
        let given = config.get("protocolConfiguration").and_then(Value::as_object);
        let protocol = Protocol::named(given.and_then(|given| given.get("serverProtocol")).and_then(Value::as_str));
        let port = given
            .and_then(|given| given.get("port"))
            .and_then(Value::as_u64)
            .and_then(|port| u16::try_from(port).ok())
            .unwrap_or_else(|| protocol.default_port());
        let path = given
            .and_then(|given| given.get("path"))
            .and_then(Value::as_str)
            .unwrap_or_else(|| protocol.default_path())
            .to_owned();
        Contract { protocol, port, path }
    }

    /// Whether a process that answered `GET /ping` with `status` is ready for invocations.
    pub(crate) fn ready(&self, status: hyper::StatusCode) -> bool {
        !self.protocol.pings() || status == hyper::StatusCode::OK
    }

    /// What a process that is not ready in time failed to do, for the error message.
    pub(crate) fn not_ready(&self, listened: bool) -> String {
        match (listened, self.protocol.pings()) {
            (false, _) => format!("it did not listen on port {} ({} agent)", self.port, self.protocol.as_str()),
            (true, true) => "GET /ping did not answer 200".to_owned(),
            (true, false) => format!("it did not answer HTTP on port {}", self.port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract(config: Value) -> Contract {
        Contract::of(config.as_object().unwrap())
    }

    #[test]
    fn each_protocol_has_its_port_and_path_unless_the_version_sets_them() {
        let of =
            |protocol: &str| contract(serde_json::json!({ "protocolConfiguration": { "serverProtocol": protocol } }));
        assert_eq!((of("HTTP").port, of("HTTP").path.as_str()), (8080, "/invocations"));
        assert_eq!((of("AGUI").port, of("AGUI").path.as_str()), (8080, "/invocations"));
        assert_eq!((of("MCP").port, of("MCP").path.as_str()), (8000, "/mcp"));
        assert_eq!((of("A2A").port, of("A2A").path.as_str()), (9000, "/"));
        let none = contract(serde_json::json!({}));
        assert_eq!(none, Contract { protocol: Protocol::Http, port: 8080, path: "/invocations".into() });
        let custom = contract(serde_json::json!({
            "protocolConfiguration": { "serverProtocol": "MCP", "port": 9100, "path": "/tools" }
        }));
        assert_eq!(custom, Contract { protocol: Protocol::Mcp, port: 9100, path: "/tools".into() });
    }

    #[test]
    fn only_http_and_agui_must_answer_ping_with_200() {
        let of =
            |protocol: &str| contract(serde_json::json!({ "protocolConfiguration": { "serverProtocol": protocol } }));
        assert!(of("HTTP").ready(hyper::StatusCode::OK) && !of("HTTP").ready(hyper::StatusCode::NOT_FOUND));
        assert!(!of("AGUI").ready(hyper::StatusCode::NOT_FOUND));
        assert!(
            of("MCP").ready(hyper::StatusCode::NOT_FOUND) && of("A2A").ready(hyper::StatusCode::METHOD_NOT_ALLOWED)
        );
    }
}
