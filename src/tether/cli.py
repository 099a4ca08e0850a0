"""The `tether` command: `serve` and `verify`."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from tether.config import MULTIPROC_ENV, Settings, load_settings
from tether.errors import ConfigError
from tether.observability.logs import configure as configure_logs

log = logging.getLogger("tether")
CONFIG_ENV = "TETHER_CONFIG"
LOG_LEVEL_ENV = "TETHER_LOG_LEVEL"
BACKLOG = 2048  # uvicorn's default
STARTUP_FAILURE = 3  # uvicorn's status when the app fails to start


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tether", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", help=f"YAML config file (or ${CONFIG_ENV})")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=4000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    verify = commands.add_parser("verify", help="check a live deployment end to end")
    verify.add_argument("--url", default="http://127.0.0.1:4000")
    verify.add_argument("--config", help="YAML config file (or $TETHER_CONFIG)")
    verify.add_argument("--model", help="model to use (default: the first listed)")
    verify.add_argument("--key", help="API key (default: the config's master key)")
    return parser


def load_quietly(config_path: str | None) -> Settings:
    """The settings, or one line naming the bad key and exit status 2."""
    try:
        return load_settings(config_path, os.environ)
    except ConfigError as exc:
        print(f"tether: {exc.message}", file=sys.stderr)
        raise SystemExit(2) from None


def app_factory() -> object:
    """Entry point for uvicorn workers: each worker builds its own app from the config."""
    from tether.app import create_app

    settings = load_quietly(os.environ.get(CONFIG_ENV))
    configure_logs(os.environ.get(LOG_LEVEL_ENV, "info"), settings.log_json)
    return create_app(settings)


def serve(args: argparse.Namespace) -> int:
    config_path = args.config or os.environ.get(CONFIG_ENV)
    created_metrics_dir = None
    if args.workers > 1 and not os.environ.get(MULTIPROC_ENV):
        # Set before prometheus_client is imported anywhere: workers share metric files.
        created_metrics_dir = tempfile.mkdtemp(prefix="tether-metrics-")
        os.environ[MULTIPROC_ENV] = created_metrics_dir
    try:
        return _serve(args, config_path)
    finally:
        if created_metrics_dir:
            shutil.rmtree(created_metrics_dir, ignore_errors=True)


def _serve(args: argparse.Namespace, config_path: str | None) -> int:
    settings = load_quietly(config_path)
    if args.workers > 1 and settings.redis_url is None:
        # The embedded cache lives in one process: a delete would not reach the others.
        print(
            "tether: --workers: more than one worker needs Redis (router_settings.redis_url)",
            file=sys.stderr,
        )
        return 2
    sock = listen(args.host, args.port)
    if sock is None:
        return 2
    with sock:
        configure_logs(args.log_level, settings.log_json)
        if settings.unknown_keys:
            log.warning(
                "config keys not supported and ignored: %s", ", ".join(settings.unknown_keys)
            )
        return _run_uvicorn(args, config_path, settings, sock)


def listen(host: str, port: int) -> socket.socket | None:
    """The listening socket, claimed before any start-up work (migrations, connections), so
    a taken port fails at once; connections made while the app starts wait in the backlog.
    None, after one line on stderr, when the address cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        where = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
        reason = (exc.strerror or str(exc)).lower()
        print(f"tether: cannot listen on {where}: {reason}", file=sys.stderr)
        return None
    sock.set_inheritable(True)  # the workers share it
    return sock


def _run_uvicorn(
    args: argparse.Namespace, config_path: str | None, settings: Settings, sock: socket.socket
) -> int:
    """What `uvicorn.run` does, on the socket already claimed."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    common: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "backlog": BACKLOG,
        "log_level": args.log_level,
        "log_config": None,  # keep tether's handlers
        "access_log": False,  # tether logs one line per request itself
        "timeout_graceful_shutdown": 30,
        # A running WebSocket turn finishes on SIGTERM (then 1001), as an HTTP one does.
        "ws": "tether.api.websocket_protocol:DrainingWebSocketProtocol",
        "ws_max_size": settings.max_body_bytes,  # a frame may carry what a body may
    }
    if args.workers > 1:
        if config_path:
            os.environ[CONFIG_ENV] = config_path  # how the workers find the same config
        os.environ[LOG_LEVEL_ENV] = args.log_level
        config = uvicorn.Config(
            "tether.cli:app_factory", factory=True, workers=args.workers, **common
        )
        with suppress(KeyboardInterrupt):
            Multiprocess(config, sockets=[sock]).run()
        return 0
    from tether.app import create_app

    # uvicorn drains, restores the previous SIGTERM handler and raises the signal again:
    # make that a clean exit (status 0) once everything is flushed.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), **common))
    with suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    return 0 if server.started else STARTUP_FAILURE


def _exit_cleanly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    from tether.verify import run_verify

    settings = load_quietly(args.config or os.environ.get(CONFIG_ENV))
    status: int = run_verify(args.url, settings, args.model, args.key)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
