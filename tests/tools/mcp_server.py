"""A small MCP server, written with the official SDK, that the MCP adapter's tests start as a subprocess.

    python tests/tools/mcp_server.py stdio
    python tests/tools/mcp_server.py http        # prints "listening on http://127.0.0.1:PORT/mcp", then serves

Its tools cover what the adapter must handle: reads with a typed schema, a tool that errors, a large
answer (the output budget), a slow one (the timeout), one that kills the server (a server that dies
mid-session), one that echoes the secret the adapter passed it (redaction), and one that changes
something: ``restart_service`` appends a line to the file named by ``MCP_TEST_EFFECTS``, so a test can
prove whether it ran. Over HTTP, when ``MCP_TEST_HTTP_TOKEN`` is set, every request must carry
``Authorization: Bearer <it>`` (401 otherwise).
"""

from __future__ import annotations

import asyncio
import hmac
import os
import socket
import sys
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("firstline-test-mcp", version="1.0.0")


@server.tool(description="Health of one service: status and error ratio.")
def get_status(service: str) -> dict[str, Any]:
    return {"service": service, "status": "degraded" if service == "checkout" else "healthy", "error_ratio": 0.12}


@server.tool(description="Search log lines containing a text.")
def search_logs(query: str, limit: int = 10) -> dict[str, Any]:
    lines = [f"{query} seen on pod-{i}" for i in range(limit)]
    return {"query": query, "lines": lines}


@server.tool(description="Return n numbered items (to exceed an output budget).")
def get_many(n: int) -> dict[str, Any]:
    return {"items": [{"i": i, "text": "x" * 40} for i in range(n)]}


@server.tool(description="Always fails with the given message.")
def get_broken(message: str) -> str:
    raise ToolError(f"backend exploded: {message}")


@server.tool(description="Answer after some seconds.")
async def get_slowly(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "done"


@server.tool(description="Report the credential this server was started with.")
def get_credential() -> str:
    return f"I was started with key {os.environ.get('MCP_TEST_SECRET', '<unset>')}"


@server.tool(description="Stop the server process at once, without answering.")
def get_crash() -> str:
    os._exit(3)


@server.tool(description="Restart a service (appends to the effects file).")
def restart_service(service: str, reason: str = "") -> dict[str, Any]:
    effects = os.environ.get("MCP_TEST_EFFECTS")
    if effects:
        with Path(effects).open("a", encoding="utf-8") as handle:
            handle.write(f"restart {service}\n")
    return {"restarted": service, "reason": reason}


@server.tool(description="Restart a service, then stop the server before answering.")
def restart_and_crash(service: str) -> str:
    restart_service(service)
    os._exit(4)


class BearerRequired:
    """ASGI middleware: 401 unless the request carries the expected bearer token."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                await send(
                    {"type": "http.response.start", "status": 401, "headers": [(b"content-type", b"text/plain")]}
                )
                await send({"type": "http.response.body", "body": b"unauthorized"})
                return
        await self.app(scope, receive, send)


def serve_http() -> None:
    import uvicorn

    app: Any = server.streamable_http_app()
    token = os.environ.get("MCP_TEST_HTTP_TOKEN")
    if token:
        app = BearerRequired(app, token)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    print(f"listening on http://127.0.0.1:{port}/mcp", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


if __name__ == "__main__":
    if sys.argv[1:] == ["http"]:
        serve_http()
    else:
        server.run("stdio")
