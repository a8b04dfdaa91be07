"""Loads one agent the way AgentCore does and drives its protocol's contract offline.

Usage: python check_agent.py AGENT_DIR PROMPT_FILE ENTRY_FILE PROTOCOL PORT PATH (with the manifest's
environment set; PROTOCOL is HTTP, MCP, A2A or AGUI, PORT and PATH where AgentCore sends requests)

The agent's entry file and system prompt are laid out as in its zip. Prints one JSON line: what the
agent answered.

- HTTP: the entry file is imported and its `BedrockAgentCoreApp` driven over `GET /ping` and `POST
  /invocations`. The Strands model and agent classes are replaced by recorders, so no model is
  called and no AWS credentials are needed; the AgentCore app object, its routes and the agent's own
  code run for real.
- MCP, A2A, AGUI: the entry file runs as `python ENTRY_FILE` runs it, up to the point where its
  server would start listening (uvicorn, which the MCP SDK's MCPServer, FastMCP, the A2A SDK and the
  AgentCore app all serve with): the server it would start must listen on 0.0.0.0:PORT, and its app
  is driven in-process. MCP: a `tools/list` request to PATH, carrying an `Mcp-Session-Id` as
  AgentCore adds one, must answer with the server's tools. A2A: its agent card must be served. AGUI:
  `GET /ping` must answer 200.
"""

import importlib.util
import json
import os
import runpy
import shutil
import sys
import tempfile
from pathlib import Path


class RecordingModel:
    def __init__(self, **kwargs):
        self.kwargs = kwargs


class RecordingAgent:
    built = []

    def __init__(self, model=None, system_prompt=None, **kwargs):
        self.model = model
        self.system_prompt = system_prompt
        self.requests = []
        RecordingAgent.built.append(self)

    def __call__(self, request):
        self.requests.append(request)
        return f"answer to: {request}"


def check_http(work, entry_file, prompt_file, path):
    spec = importlib.util.spec_from_file_location("agent_main", work / entry_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    import strands
    import strands.models
    from bedrock_agentcore.runtime import BedrockAgentCoreApp
    from starlette.testclient import TestClient

    assert isinstance(module.app, BedrockAgentCoreApp), "the entry file must define `app = BedrockAgentCoreApp()`"
    assert not RecordingAgent.built, "no agent may be built at import"
    assert "strands" not in module.__dict__, "strands must be imported lazily, inside the builder"

    strands.Agent = RecordingAgent
    strands.models.BedrockModel = RecordingModel

    client = TestClient(module.app)
    ping = client.get("/ping")
    assert ping.status_code == 200, ping.text
    assert not RecordingAgent.built, "a health check must not build the agent"

    first = client.post(path, json={"prompt": "cats"})
    second = client.post(path, json={})
    assert first.status_code == 200 and second.status_code == 200, (first.text, second.text)
    assert len(RecordingAgent.built) == 1, "the agent is built once and reused"
    agent = RecordingAgent.built[0]
    expected_prompt = Path(prompt_file).read_text(encoding="utf-8")
    assert agent.system_prompt == expected_prompt, "the system prompt comes from system_prompt.txt"
    assert agent.model.kwargs.get("model_id") == os.environ.get("MODEL_ID"), agent.model.kwargs
    assert agent.requests[0] == "cats" and agent.requests[1], agent.requests

    answer = first.json()
    assert any(value == "answer to: cats" for value in answer.values()), answer
    return {"protocol": "HTTP", "ping": ping.json()["status"], "answer": answer, "default_request": agent.requests[1]}


class ServerStarted(Exception):
    """Raised in place of serving: the entry file got as far as starting its server."""


def served_app(work, entry_file):
    """Runs the entry file as __main__ until it starts uvicorn; its config (app, host, port)."""
    import uvicorn

    captured = []

    async def serve(self, sockets=None):
        captured.append(self.config)
        raise ServerStarted()

    uvicorn.Server.serve = serve
    sys.argv = [str(work / entry_file)]
    try:
        runpy.run_path(str(work / entry_file), run_name="__main__")
    except ServerStarted:
        pass
    assert captured, "the entry file ended without starting a server: serve with uvicorn under `if __name__ == \"__main__\":`"
    config = captured[0]
    if isinstance(config.app, str):
        config.load()
        return config, config.loaded_app
    return config, config.app


def json_rpc_answer(response, request_id):
    """The JSON-RPC response of `request_id` in an answer, plain JSON or server-sent events."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        for line in response.text.splitlines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("id") == request_id:
                    return message
        raise AssertionError(f"no answer to request {request_id} in the event stream: {response.text[:2000]}")
    return response.json()


def check_server(work, entry_file, protocol, port, path):
    from starlette.testclient import TestClient

    config, app = served_app(work, entry_file)
    assert (config.host, config.port) == ("0.0.0.0", port), (
        f"a {protocol} agent listens on 0.0.0.0:{port} (AgentCore's contract), this one on {config.host}:{config.port}"
    )
    with TestClient(app) as client:
        if protocol == "MCP":
            request = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
            headers = {
                "Accept": "application/json, text/event-stream",
                "Content-Type": "application/json",
                # AgentCore adds a session id: a stateless server must take it.
                "Mcp-Session-Id": "agentcore-platform-session-0123456789",
            }
            response = client.post(path, json=request, headers=headers)
            assert response.status_code == 200, f"POST {path} tools/list answered {response.status_code}: {response.text}"
            message = json_rpc_answer(response, 1)
            tools = message.get("result", {}).get("tools")
            assert tools, f"tools/list answered no tools: {message}"
            for tool in tools:
                assert tool.get("name") and isinstance(tool.get("inputSchema"), dict), f"not an MCP tool: {tool}"
            return {"protocol": "MCP", "tools": [tool["name"] for tool in tools]}
        if protocol == "A2A":
            for card_path in ("/.well-known/agent-card.json", "/.well-known/agent.json"):
                card = client.get(card_path)
                if card.status_code == 200:
                    assert card.json().get("name"), f"the agent card has no name: {card.text}"
                    return {"protocol": "A2A", "agent_card": card.json()["name"]}
            raise AssertionError("an A2A agent serves its agent card at /.well-known/agent-card.json")
        ping = client.get("/ping")
        assert ping.status_code == 200, f"GET /ping answered {ping.status_code}: {ping.text}"
        return {"protocol": protocol, "ping": ping.json().get("status")}


def main():
    agent_dir, prompt_file, entry_file, protocol, port, path = sys.argv[1:7]
    work = Path(tempfile.mkdtemp(prefix="agent-check-"))
    try:
        shutil.copy(Path(agent_dir) / entry_file, work / entry_file)
        shutil.copy(prompt_file, work / "system_prompt.txt")
        sys.path.insert(0, str(work))
        if protocol == "HTTP":
            report = check_http(work, entry_file, prompt_file, path)
        else:
            report = check_server(work, entry_file, protocol, int(port), path)
        print(json.dumps(report))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
