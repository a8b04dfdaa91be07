"""Started by the local AgentCore stack as `python boot.py <entry point>`, in place of AgentCore's
`python <entry point>`.

AgentCore sends requests to the port of the version's protocol: 8080 for HTTP and AGUI, 8000 for MCP,
9000 for A2A, or the port its protocolConfiguration sets; the stack passes it as
AGENTCORE_LOCAL_CONTRACT_PORT. On a developer's machine several agents run at once, so the first
bind of that port goes to a free loopback port instead, which this script writes to the file named
by AGENTCORE_LOCAL_PORT_FILE for the stack to read; every later bind of it gets the same port. Then
the entry point runs as `python <entry point>` runs it: as __main__, with its own directory first
on sys.path.
"""

import os
import runpy
import socket
import sys

CONTRACT_PORT = int(os.environ.pop("AGENTCORE_LOCAL_CONTRACT_PORT", None) or 8080)
_port_file = os.environ.pop("AGENTCORE_LOCAL_PORT_FILE", None)
_bind = socket.socket.bind
_chosen = []


def _bind_contract_port(self, address):
    moved = (
        _port_file is not None
        and self.family in (socket.AF_INET, socket.AF_INET6)
        and isinstance(address, tuple)
        and len(address) >= 2
        and address[1] == CONTRACT_PORT
    )
    if not moved:
        return _bind(self, address)
    host = "127.0.0.1" if self.family == socket.AF_INET else "::1"
    _bind(self, (host, _chosen[0] if _chosen else 0) + tuple(address[2:]))
    if not _chosen:
        _chosen.append(self.getsockname()[1])
        staged = _port_file + ".tmp"
        with open(staged, "w", encoding="ascii") as out:
            out.write(str(_chosen[0]))
        os.replace(staged, _port_file)
    return None


socket.socket.bind = _bind_contract_port

_entry = os.path.abspath(sys.argv[1])
sys.argv = sys.argv[1:]
sys.path[0] = os.path.dirname(_entry)
runpy.run_path(_entry, run_name="__main__")
