"""Raw JSON-RPC for the write path: batches of calls in one round trip, errors without secrets.

web3.py's request machinery costs more interpreter time than the calls themselves when many
writes arrive at once, so the write path speaks JSON-RPC directly (over HTTP, or through the
provider of an in-process chain). Nothing it raises carries the endpoint's URL: a provider key
in the URL would otherwise reach error bodies and logs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import httpx

from ledger.chain import Chain
from ledger.errors import ChainUnreachable

__all__ = ["Rpc", "RpcUnavailable", "redact"]

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_SECRET = re.compile(r"(?i)\b(api[_-]?key|token|secret|password|apikey)=([^\s&'\"]+)")


def redact(text: str) -> str:
    """`text` with URLs and key=value secrets replaced, for error bodies and log lines.

    >>> redact("HTTP 401 for url 'https://rpc.example/v3/abc123' (token=xyz)")
    "HTTP 401 for url '<url>' (token=<redacted>)"
    """
    return _SECRET.sub(r"\1=<redacted>", _URL.sub("<url>", text))


class RpcUnavailable(ChainUnreachable):
    """The endpoint did not answer usefully (timeout, refused, HTTP error): worth retrying."""


def _describe(exc: Exception) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    return type(exc).__name__


class Rpc:
    """JSON-RPC calls to the chain of `chain`, one at a time or as a batch."""

    def __init__(self, chain: Chain, *, timeout: float = 30.0) -> None:
        self.chain = chain
        self.url: str = getattr(chain, "url", "")
        self.timeout = timeout
        self._http = httpx.Client(timeout=timeout) if self.url else None

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        """The replies (each with ``result`` or ``error``) of `calls`, in order."""
        if not calls:
            return []
        if self._http is not None and self._http.is_closed:
            # Closed by an app that shut down while others share this client: open it again.
            self._http = httpx.Client(timeout=self.timeout)
        if self._http is None:  # an in-process chain answers through its provider
            provider = self.chain.w3.provider
            return [dict(provider.make_request(m, p)) for m, p in calls]  # type: ignore[arg-type]
        body = [
            {"jsonrpc": "2.0", "id": n, "method": m, "params": p} for n, (m, p) in enumerate(calls)
        ]
        try:
            response = self._http.post(self.url, json=body if len(body) > 1 else body[0])
            response.raise_for_status()
            replies = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RpcUnavailable(f"the chain did not answer ({_describe(exc)})") from None
        if isinstance(replies, dict):
            replies = [replies]
        if not isinstance(replies, list):
            raise RpcUnavailable("the chain answered something that is not JSON-RPC")
        by_id = {r.get("id"): r for r in replies if isinstance(r, dict)}
        out = []
        for n in range(len(calls)):
            reply = by_id.get(n)
            if reply is None:
                raise RpcUnavailable("the chain left a request of a batch unanswered")
            out.append(reply)
        return out

    def call(self, method: str, params: list[Any]) -> Any:
        """The result of one call; an error reply raises RpcError with the node's message."""
        reply = self.batch([(method, params)])[0]
        if "error" in reply:
            raise RpcError(reply["error"])
        return reply.get("result")


class RpcError(Exception):
    """An error reply of the node (a revert, a refused transaction): not a transport fault."""

    def __init__(self, error: Any) -> None:
        error = error if isinstance(error, dict) else {"message": str(error)}
        super().__init__(redact(str(error.get("message", "error"))))
        self.code = error.get("code")
        self.data = error.get("data")
        self.message = redact(str(error.get("message", "")))

    def revert_data(self) -> bytes | None:
        data = self.data
        if isinstance(data, dict):
            data = data.get("data")
        if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
            return bytes.fromhex(data[2:])
        return None
