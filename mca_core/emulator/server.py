"""Run the emulator as a real HTTP server on loopback (browser tests, the CLI, curl).

The access log is off: request lines would be harmless, but nothing here should ever be in a
position to log an Authorization header. Injected connection resets are not logged as errors.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from .core import Emulator
from .gateway import InjectedConnectionReset

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


class _QuietInjectedResets(logging.Filter):
    """Drop uvicorn's "Exception in ASGI application" record for an injected reset."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, InjectedConnectionReset)


_FILTER = _QuietInjectedResets()


def _config(emulator: Emulator, host: str, port: int) -> uvicorn.Config:
    logging.getLogger("uvicorn.error").addFilter(_FILTER)
    return uvicorn.Config(
        emulator.app,
        host=host,
        port=port,
        access_log=False,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=1,
    )


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host` ("localhost", 127.0.0.0/8, ::1)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name or "": it may well resolve to a reachable address


def exposure_warning(host: str) -> str | None:
    """What to print before binding `host` beyond loopback; None for loopback."""
    if is_loopback(host):
        return None
    return (
        f"WARNING: the emulator listens on {host or 'every interface'}, beyond loopback. Its "
        "/sandbox/* endpoints need no token: anyone who can reach this address can reset it "
        "(POST /sandbox/reset wipes its data), change its faults and clock, and mint bearer "
        "tokens (POST /sandbox/token) for every sandbox user. Bind 127.0.0.1 unless the network "
        "is yours alone."
    )


def serve(emulator: Emulator, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve until interrupted (Ctrl+C). Binds loopback unless told otherwise."""
    uvicorn.Server(_config(emulator, host, port)).run()


@contextmanager
def run_in_thread(
    emulator: Emulator, host: str = DEFAULT_HOST, port: int = 0, *, start_timeout: float = 10.0
) -> Iterator[str]:
    """Serve in a background thread; yields the base URL (port 0 = a free port) and stops after."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(_config(emulator, host, bound_port))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="mca-emulator", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("the emulator server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
