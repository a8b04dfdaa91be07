"""Motivational quotes bot: a short, original quote fitted to what the user is facing.

Served by the AgentCore app object (POST /invocations, GET /ping on port 8080). The model and the
Strands agent are built on the first request, so the runtime starts fast and health checks pass
before any model client exists.
"""

import logging
import os
from pathlib import Path

from bedrock_agentcore.runtime import BedrockAgentCoreApp

logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"))
log = logging.getLogger("motivational_quotes_bot")

app = BedrockAgentCoreApp()

# Packaging places the prompt beside this file; prompts/motivational_quotes_bot.txt is its source.
SYSTEM_PROMPT_FILE = Path(__file__).with_name("system_prompt.txt")
DEFAULT_REQUEST = "I need some motivation today."

_agent = None


def _build_agent():
    """Creates the Strands agent once; imported lazily to keep cold start light."""
    from strands import Agent
    from strands.models import BedrockModel

    model = BedrockModel(model_id=os.environ["MODEL_ID"], temperature=0.7, max_tokens=300)
    system_prompt = SYSTEM_PROMPT_FILE.read_text(encoding="utf-8")
    return Agent(model=model, system_prompt=system_prompt, callback_handler=None)


def get_agent():
    global _agent
    if _agent is None:
        _agent = _build_agent()
        log.info("agent ready (model %s)", os.environ.get("MODEL_ID"))
    return _agent


@app.entrypoint
def invoke(payload):
    """Payload: {"prompt": "a topic or a request"}; returns {"quote": "..."}."""
    request = (payload or {}).get("prompt") or DEFAULT_REQUEST
    result = get_agent()(str(request)[:2000])
    return {"quote": str(result).strip()}


if __name__ == "__main__":
    app.run()
