"""The outermost ASGI layer: request ids on every answer, and fault injection on /v1.

It wraps the Starlette routes. Every answer, errors and injected faults included, echoes the
caller's MS-RequestId / MS-CorrelationId (minted when absent). A path with a `.` or `..` segment
(also percent-encoded) is refused with 400 before routing. /v1 requests then meet the faults
that `FaultInjector` decides; /sandbox requests never do.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio
from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope, Send

from .faults import Fault, FaultKind
from .tokens import peek_tenant
from .wire import CODE_INVALID_INPUT, SCOPE_REQUEST_ID, SCOPE_REQUEST_ID_GIVEN, error_body

if TYPE_CHECKING:
    from .core import Emulator


def _has_dot_segment(path: str) -> bool:
    """`scope["path"]` is percent-decoded: `..%2F` and `%2E%2E` arrive here as `..`. Routing
    never resolves them, but no emulator resource has such a segment: refuse them outright."""
    return any(segment in (".", "..") for segment in path.split("/"))


class InjectedConnectionReset(Exception):
    """Raised only when the server refused the short body: makes it drop the connection."""


_ID_HEADERS = (b"ms-requestid", b"ms-correlationid")


class Gateway:
    """Outermost ASGI layer: request-id echo on every answer, faults on /v1."""

    def __init__(
        self, emulator: Emulator, inner: Callable[[Scope, Receive, Send], Awaitable[None]]
    ):
        self.emulator = emulator
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        headers = Headers(scope=scope)
        given = headers.get("ms-requestid")
        rid = given or str(uuid.uuid4())
        cid = headers.get("ms-correlationid") or str(uuid.uuid4())
        scope[SCOPE_REQUEST_ID] = rid
        scope[SCOPE_REQUEST_ID_GIVEN] = bool(given)
        echo = [(b"ms-requestid", rid.encode()), (b"ms-correlationid", cid.encode())]

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() not in _ID_HEADERS
                ]
                message = {**message, "headers": kept + echo}
            await send(message)

        if _has_dot_segment(scope["path"]):
            await self._bad_path(send_with_ids)
        elif scope["path"].startswith("/v1"):
            await self._v1(scope, receive, send_with_ids, headers)
        else:
            await self.inner(scope, receive, send_with_ids)

    async def _v1(self, scope: Scope, receive: Receive, send: Send, headers: Headers) -> None:
        config = self.emulator.faults
        if config.latency_ms:
            await anyio.sleep(config.latency_ms / 1000)
        tenant = "anonymous"
        if config.rate_limit_per_minute:
            scheme, _, token = headers.get("authorization", "").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                key = self.emulator.store.signing_key()
                tenant = peek_tenant(key, token.strip()) or tenant
        fault = self.emulator.fault_injector.decide(tenant, scope["method"], scope["path"])
        if fault is None:
            await self.inner(scope, receive, send)
        elif fault.kind in (FaultKind.THROTTLED, FaultKind.RANDOM_429):
            await self._throttled(send, fault.retry_after)
        elif fault.kind is FaultKind.PATH_429:
            await self._throttled(send, fault.retry_after_header)
        elif fault.kind is FaultKind.SERVER_ERROR:
            await self._server_error(send, fault.status)
        elif fault.kind is FaultKind.TIMEOUT:
            await self._timeout(scope, receive, send, fault, config.timeout_hang_seconds)
        else:
            start, body = await self._capture(scope, receive)
            await self._cut_short(send, start, body)

    @staticmethod
    async def _send(
        send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
    ) -> None:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _bad_path(self, send: Send) -> None:
        body = error_body(
            CODE_INVALID_INPUT,
            "The path has a '.' or '..' segment (perhaps percent-encoded): ids go into a path "
            "as one segment and are never resolved against it.",
            error_name="InvalidPath",
        )
        await self._send(
            send, 400, json.dumps(body).encode(), [(b"content-type", b"application/json")]
        )

    async def _throttled(self, send: Send, seconds: int | str) -> None:
        body = json.dumps(
            {
                "statusCode": 429,
                "message": f"Rate limit is exceeded. Try again in {seconds} seconds.",
            }
        ).encode()
        await self._send(
            send,
            429,
            body,
            [(b"content-type", b"application/json"), (b"retry-after", str(seconds).encode())],
        )

    async def _server_error(self, send: Send, status: int) -> None:
        if status == 502:
            # Gateways answer with HTML: clients must not assume a JSON error body.
            html = (
                b"<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>"
            )
            await self._send(send, status, html, [(b"content-type", b"text/html")])
            return
        names = {500: "InternalServerError", 503: "ServiceUnavailable", 504: "GatewayTimeout"}
        body = error_body(
            status,
            "The service encountered an error (injected fault). Try again later.",
            error_name=names.get(status, "ServerError"),
            retryable=True,
        )
        await self._send(
            send, status, json.dumps(body).encode(), [(b"content-type", b"application/json")]
        )

    async def _timeout(
        self, scope: Scope, receive: Receive, send: Send, fault: Fault, hang: float
    ) -> None:
        if fault.apply_before_hang:
            # The request takes effect, then the answer is "lost" in the hang.
            start, body = await self._capture(scope, receive)
            await anyio.sleep(hang)
            await send(start)
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        # Read the body now: a client that gives up must not stop the late request applying.
        replay = await self._buffered(receive)
        await anyio.sleep(hang)
        await self.inner(scope, replay, send)

    async def _capture(self, scope: Scope, receive: Receive) -> tuple[Message, bytes]:
        """Run the app and keep its answer instead of sending it."""
        start: Message = {}
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.inner(scope, receive, keep)
        return start, b"".join(chunks)

    @staticmethod
    async def _buffered(receive: Receive) -> Receive:
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay

    @staticmethod
    async def _cut_short(send: Send, start: Message, body: bytes) -> None:
        """Declare the full length, send half, close: a client sees a body cut off mid-way."""
        headers = [
            (k, v)
            for k, v in start.get("headers", [])
            if k.lower() not in (b"content-length", b"connection")
        ]
        declared = max(len(body), 1)
        headers += [(b"content-length", str(declared).encode()), (b"connection", b"close")]
        await send({**start, "headers": headers})
        try:
            await send({"type": "http.response.body", "body": body[: len(body) // 2]})
        except Exception as exc:  # e.g. h11 refuses a short body: have the server drop the line
            raise InjectedConnectionReset("injected connection reset") from exc
