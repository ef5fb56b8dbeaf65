"""In-process transport: the emulator's ASGI app behind an httpx client, without a socket.

`httpx.ASGITransport` alone hides two failures a real connection shows, so this subclass adds them:
  * a body shorter than its Content-Length (an injected connection reset) raises
    `httpx.RemoteProtocolError`, as httpcore does over TCP;
  * the request's read timeout (httpx's `timeout` extension) bounds the call and raises
    `httpx.ReadTimeout`, as it would over TCP (ASGITransport ignores timeouts). The app is
    cancelled at that point, like a server whose client went away before it applied anything.
"""

from __future__ import annotations

import anyio
import httpx


class EmulatorTransport(httpx.ASGITransport):
    """ASGITransport that turns cut-short bodies and hangs into httpx's network errors."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = (request.extensions.get("timeout") or {}).get("read")
        try:
            if timeout is None:
                response = await super().handle_async_request(request)
            else:
                with anyio.fail_after(timeout):
                    response = await super().handle_async_request(request)
        except TimeoutError:
            raise httpx.ReadTimeout(
                f"The emulator did not answer within {timeout} s.", request=request
            ) from None
        body = b"".join([chunk async for chunk in response.stream])  # type: ignore[union-attr]
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > len(body):
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body"
                f" (received {len(body)} bytes, expected {declared})",
                request=request,
            )
        return httpx.Response(
            response.status_code,
            headers=response.headers.raw,
            stream=httpx.ByteStream(body),
            extensions=response.extensions,
        )
