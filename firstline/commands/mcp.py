"""`firstline mcp serve`: firstline's incidents, approvals (read only), knowledge and catalog as an MCP server."""

from __future__ import annotations

import argparse
import os
import socket
import sys
from typing import Any

from firstline.commands import EXIT_OK, EXIT_USAGE, CommandError, add_common, load
from firstline.console import Console

SERVE_DESCRIPTION = """\
Serve firstline to an assistant (Claude Desktop, an IDE, any MCP client) over MCP.

Tools: list_incidents, show_incident (diagnosis, evidence, timeline), list_pending_approvals (read
only), search_knowledge, recall_similar_incidents, list_services, get_service, and
start_investigation (an Alertmanager webhook payload, worked like `firstline respond --approve
wait`: it stops at the approval gate). Deciding an approval is not offered: a human runs
`firstline approve`.

--transport stdio (the default) talks on stdin/stdout: the assistant starts this command itself.
--transport http serves streamable HTTP at http://HOST:PORT/mcp; every request must carry
`Authorization: Bearer <token>`, the token read from the environment variable named by --token-env
or mcp.token_env in the configuration. Without it, the server refuses to start.

examples:
  firstline --config config.yaml mcp serve
  FIRSTLINE_MCP_TOKEN=$(openssl rand -hex 32) firstline mcp serve --transport http --port 8788 --token-env FIRSTLINE_MCP_TOKEN
"""


def register(sub: Any) -> dict[str, Any]:
    """Add `mcp serve` to the parser; return its handler."""
    mcp = sub.add_parser("mcp", help="serve firstline over the Model Context Protocol", description=SERVE_DESCRIPTION)
    mcp_sub = mcp.add_subparsers(dest="mcp_command", metavar="SUBCOMMAND")
    serve = mcp_sub.add_parser(
        "serve",
        help="serve incidents, approvals (read only), knowledge and the catalog to an MCP client",
        description=SERVE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--transport", choices=["stdio", "http"], default="stdio", help="stdio (default) or http")
    serve.add_argument("--host", default=None, help="http: address to listen on (default: mcp.host, 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="http: port (default: mcp.port, 8788; 0 picks one)")
    serve.add_argument(
        "--token-env", default=None, metavar="NAME", help="http: variable holding the bearer token (or mcp.token_env)"
    )
    add_common(serve)
    return {"mcp serve": cmd_mcp_serve}


def cmd_mcp_serve(args: argparse.Namespace, console: Console) -> int:
    from firstline.mcp_server import build_server, http_app

    config = load(args)
    server = build_server(config)
    if args.transport == "stdio":
        # stdout is the protocol channel: nothing else may be printed on it.
        server.run("stdio")
        return EXIT_OK
    token_env = args.token_env or config.mcp.token_env
    if not token_env:
        raise CommandError(
            "mcp serve --transport http needs a bearer token: name its environment variable with --token-env NAME "
            "or mcp.token_env in the configuration",
            EXIT_USAGE,
        )
    token = os.environ.get(token_env, "")
    if len(token) < 16:
        raise CommandError(
            f"{token_env} (the bearer token for mcp serve) is {'not set' if not token else 'shorter than 16 characters'}; "
            "set it to a long random value, e.g. $(openssl rand -hex 32)",
            EXIT_USAGE,
        )
    import uvicorn

    host = args.host or config.mcp.host
    port = config.mcp.port if args.port is None else args.port
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CommandError(f"cannot listen on {host}:{port}: {exc}") from exc
    bound = sock.getsockname()[1]
    print(
        f"firstline MCP server on http://{host}:{bound}/mcp (bearer token from {token_env})",
        file=sys.stderr,
        flush=True,
    )
    app = http_app(server, token=token, host=host)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
    return EXIT_OK
