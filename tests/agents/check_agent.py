"""Loads one agent the way AgentCore does and drives its HTTP contract offline.

Usage: python check_agent.py AGENT_DIR PROMPT_FILE ENTRY_FILE (with the manifest's environment set)

The agent's entry file and system prompt are laid out as in its zip. The Strands model and agent
classes are replaced by recorders, so no model is called and no AWS credentials are needed; the
AgentCore app object, its routes and the agent's own code run for real.
"""

import importlib.util
import json
import os
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


def main():
    agent_dir, prompt_file, entry_file = sys.argv[1:4]
    work = Path(tempfile.mkdtemp(prefix="agent-check-"))
    try:
        shutil.copy(Path(agent_dir) / entry_file, work / entry_file)
        shutil.copy(prompt_file, work / "system_prompt.txt")
        sys.path.insert(0, str(work))

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

        first = client.post("/invocations", json={"prompt": "cats"})
        second = client.post("/invocations", json={})
        assert first.status_code == 200 and second.status_code == 200, (first.text, second.text)
        assert len(RecordingAgent.built) == 1, "the agent is built once and reused"
        agent = RecordingAgent.built[0]
        expected_prompt = Path(prompt_file).read_text(encoding="utf-8")
        assert agent.system_prompt == expected_prompt, "the system prompt comes from system_prompt.txt"
        assert agent.model.kwargs.get("model_id") == os.environ.get("MODEL_ID"), agent.model.kwargs
        assert agent.requests[0] == "cats" and agent.requests[1], agent.requests

        answer = first.json()
        assert any(value == "answer to: cats" for value in answer.values()), answer
        print(json.dumps({"ping": ping.json()["status"], "answer": answer, "default_request": agent.requests[1]}))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
