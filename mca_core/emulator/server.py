"""Run the emulator as a real HTTP server on loopback (browser tests, the CLI, curl).

The access log is off: request lines would be harmless, but nothing here should ever be in a
position to log an Authorization header. Injected connection resets are not logged as errors.
"""

from __future__ import annotations

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
