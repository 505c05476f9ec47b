"""A JSON-RPC proxy that injects faults between LoopLedger and a node, for the write path's tests
and the chaos benchmark.

Each request is forwarded to the node unless a fault is drawn for it (seeded, so a run can be
repeated): an answer delayed, HTTP 429 or 503 without forwarding, the connection reset before or
after forwarding, or a receipt lost (``null`` for ``eth_getTransactionReceipt``). "After
forwarding" is the hard case: the node has the transaction, the client saw an error.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

__all__ = ["FaultProxy", "Faults", "fault_proxy"]

KINDS = ("delay", "429", "503", "reset_before", "reset_after", "lost_receipt")


@dataclass
class Faults:
    """What to inject: each request gets a fault with probability `rate`, of a kind in `kinds`."""

    rate: float = 0.0
    kinds: tuple[str, ...] = KINDS
    delay: float = 0.3
    seed: int = 7
    #: methods never faulted (e.g. to keep a test's own reads clean)
    spared: frozenset[str] = frozenset()
    #: when set, only requests with one of these methods are faulted
    only: frozenset[str] = frozenset()
    #: faults injected so far, by kind
    injected: Counter[str] = field(default_factory=Counter)
    calls: int = 0

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def draw(self, methods: list[str]) -> str | None:
        with self._lock:
            self.calls += 1
            if self.rate <= 0 or any(m in self.spared for m in methods):
                return None
            if self.only and not any(m in self.only for m in methods):
                return None
            if self._random.random() >= self.rate:
                return None
            kinds = [
                k
                for k in self.kinds
                if k != "lost_receipt" or "eth_getTransactionReceipt" in methods
            ]
            kind = self._random.choice(kinds)
            self.injected[kind] += 1
            return kind


class FaultProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, faults: Faults) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream
        self.faults = faults
        self.http = httpx.Client(timeout=60)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FaultProxy

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = {}
        calls = parsed if isinstance(parsed, list) else [parsed]
        methods = [str(c.get("method")) for c in calls if isinstance(c, dict)]
        fault = self.server.faults.draw(methods)
        if fault == "delay":
            time.sleep(self.server.faults.delay)
        elif fault in ("429", "503"):
            self._send(int(fault), b'{"error": "injected"}')
            return
        elif fault == "reset_before":
            self._reset()
            return
        reply = self.server.http.post(
            self.server.upstream, content=body, headers={"Content-Type": "application/json"}
        )
        if fault == "reset_after":
            self._reset()
            return
        content = reply.content
        if fault == "lost_receipt":
            answers = json.loads(content)
            for answer, call in zip(
                answers if isinstance(answers, list) else [answers], calls, strict=False
            ):
                if call.get("method") == "eth_getTransactionReceipt":
                    answer["result"] = None
            content = json.dumps(answers).encode()
        self._send(reply.status_code, content)

    def _send(self, status: int, content: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout: close() sends a TCP reset instead of a clean FIN.
        linger = (1).to_bytes(4, "little") + (0).to_bytes(4, "little")
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        self.connection.close()
        self.close_connection = True


@contextmanager
def fault_proxy(upstream: str, faults: Faults) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream, faults)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.http.close()
