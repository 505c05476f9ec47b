"""Security headers on every response of the gateway (an ASGI middleware, so that the cost is a
few header lines, not a second request/response cycle).

The pages load their scripts and styles from ``/static`` only and hold no inline script or style,
so the policy is strict: nothing from elsewhere, nothing inline, no framing (clickjacking), no
MIME sniffing, and no full URL in the Referer (wallet and maker links carry an API key in the
fragment, which browsers never send, but paths and queries stay private too). The API documentation
pages (``/docs``, ``/redoc``) start their viewers inline; they alone get a looser policy, and it
still allows nothing from elsewhere.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["CSP", "DOCS_CSP", "SecurityHeaders"]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
#: Swagger UI and ReDoc come from the gateway's own copies of their npm packages; they start with
#: an inline script and ReDoc styles itself inline and in a worker, so those are allowed here only
#: (nothing from elsewhere: ReDoc would otherwise fetch its makers' logo from a CDN).
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; worker-src 'self' blob:; "
    "font-src 'self' data:; base-uri 'none'; frame-ancestors 'none'"
)
DOCS = ("/docs", "/redoc")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _headers(csp: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", csp.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]


class SecurityHeaders:
    """Adds the security headers to every HTTP response of `app`."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app
        self._strict = _headers(CSP)
        self._docs = _headers(DOCS_CSP)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._docs if scope["path"].startswith(DOCS) else self._strict

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
