"""Extract: raw logs and block headers from a JSON-RPC node, in block ranges that adapt.

Ranges shrink when the provider refuses them (too many results, response too large, -32005,
HTTP 413) or times out, and grow again while batches stay small. Transient faults are retried
with backoff; a fault no retry can fix stops the indexer with a clear message.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from ledger.errors import LedgerError

if TYPE_CHECKING:
    from web3 import Web3

__all__ = [
    "BlockRanges",
    "Header",
    "IndexerError",
    "RangeTooLarge",
    "RpcSource",
    "TransientRpcError",
]


class IndexerError(LedgerError):
    """The indexer cannot go on; the message says why and what to do."""


class TransientRpcError(IndexerError):
    """A fault worth retrying (timeout, connection reset, node busy)."""


class RangeTooLarge(IndexerError):
    """The provider refused a block range as too large."""


@dataclass(frozen=True)
class Header:
    number: int
    hash: str
    parent_hash: str
    ts: int


_TOO_LARGE_MARKERS = (
    "more than",
    "too many",
    "too large",
    "limit exceeded",
    "response size",
    "query returned",
)


def _classify(error: Any) -> IndexerError:
    code = error.get("code") if isinstance(error, dict) else None
    message = str(error.get("message", error)) if isinstance(error, dict) else str(error)
    if code == -32005 or any(marker in message.lower() for marker in _TOO_LARGE_MARKERS):
        return RangeTooLarge(message)
    if code in (-32603, -32000) and "timeout" in message.lower():
        return TransientRpcError(message)
    return IndexerError(f"the node refused a request: {message}")


class RpcSource:
    """JSON-RPC calls the indexer needs, over HTTP (with batching) or an in-process provider."""

    def __init__(self, endpoint: str | Web3, *, timeout: float = 30.0, retries: int = 5) -> None:
        self.timeout, self.retries = timeout, retries
        if isinstance(endpoint, str):
            self._w3: Web3 | None = None
            self._http: httpx.Client | None = httpx.Client(timeout=timeout)
            self.url = endpoint
        else:
            self._w3 = endpoint
            self._http = None
            self.url = "in-process"
        self._ids = itertools.count(1)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    # ---- transport ------------------------------------------------------------------------------

    def _batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """Results of `calls`, in order; raises the classified error of the first failure."""
        delay = 0.2
        for attempt in range(self.retries + 1):
            try:
                return self._batch_once(calls)
            except TransientRpcError:
                if attempt == self.retries:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")

    def _batch_once(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        if self._w3 is not None:
            return [self._in_process(method, params) for method, params in calls]
        assert self._http is not None
        # Ids come from a shared counter, so batches sent from several threads never mix up.
        ids = [next(self._ids) for _ in calls]
        payload = [
            {"jsonrpc": "2.0", "id": i, "method": method, "params": params}
            for i, (method, params) in zip(ids, calls, strict=True)
        ]
        try:
            response = self._http.post(
                self.url,
                content=orjson.dumps(payload),
                headers={"content-type": "application/json"},
            )
        except (httpx.TimeoutException, httpx.NetworkError) as exc:
            raise TransientRpcError(f"{type(exc).__name__} talking to {self.url}") from exc
        if response.status_code == 413:
            raise RangeTooLarge("HTTP 413: response too large")
        if response.status_code in (429, 502, 503, 504):
            raise TransientRpcError(f"HTTP {response.status_code} from {self.url}")
        if response.status_code != 200:
            raise IndexerError(
                f"HTTP {response.status_code} from {self.url}: {response.text[:200]}"
            )
        answers = orjson.loads(response.content)
        if isinstance(answers, dict):  # some nodes answer a whole batch with one error
            raise _classify(answers.get("error", answers))
        by_id = {a["id"]: a for a in answers}
        results = []
        for request_id in ids:
            answer = by_id[request_id]
            if "error" in answer:
                raise _classify(answer["error"])
            results.append(answer["result"])
        return results

    def _in_process(self, method: str, params: list[Any]) -> Any:
        # An in-process provider (eth-tester) takes web3's typed calls, not raw JSON-RPC.
        assert self._w3 is not None
        eth = self._w3.eth
        try:
            if method == "eth_blockNumber":
                return int(eth.block_number)
            if method == "eth_getBlockByNumber":
                return eth.get_block(int(params[0], 16))
            if method == "eth_getLogs":
                query = params[0]
                return eth.get_logs(
                    {
                        "address": query["address"],
                        "fromBlock": int(query["fromBlock"], 16),
                        "toBlock": int(query["toBlock"], 16),
                    }
                )
        except Exception as exc:
            raise IndexerError(f"{method} failed: {exc}") from exc
        raise IndexerError(f"{method} is not available in process")

    # ---- calls ----------------------------------------------------------------------------------

    def head(self) -> int:
        return as_int(self._batch([("eth_blockNumber", [])])[0])

    def headers(self, numbers: Iterable[int]) -> dict[int, Header]:
        found: dict[int, Header] = {}
        wanted = sorted(set(numbers))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            blocks = self._batch([("eth_getBlockByNumber", [hex(n), False]) for n in chunk])
            for number, block in zip(chunk, blocks, strict=True):
                if block is None:
                    raise TransientRpcError(f"block {number} is not available yet")
                found[number] = Header(
                    number,
                    as_hex(block["hash"]),
                    as_hex(block["parentHash"]),
                    as_int(block["timestamp"]),
                )
        return found

    def logs(
        self, addresses: Sequence[str], from_block: int, to_block: int
    ) -> list[dict[str, Any]]:
        query = {"address": list(addresses), "fromBlock": hex(from_block), "toBlock": hex(to_block)}
        result: list[dict[str, Any]] = self._batch([("eth_getLogs", [query])])[0]
        return result


def as_hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return str(value) if str(value).startswith("0x") else "0x" + str(value)


def as_int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


class BlockRanges:
    """The next block range to fetch: halves on refusal, follows the log density otherwise."""

    def __init__(
        self,
        initial: int = 100,
        minimum: int = 1,
        maximum: int = 100_000,
        target_logs: int = 5_000,
    ) -> None:
        self.size = initial
        self.minimum, self.maximum, self.target_logs = minimum, maximum, target_logs

    def shrink(self, cause: Exception | None = None) -> None:
        """Halve the range after `cause` (a refusal or a fault that outlasted its retries)."""
        if self.size <= self.minimum:
            because = f" ({cause})" if cause is not None else ""
            raise IndexerError(
                f"the node fails even a one-block range{because}: check that it is reachable, "
                "raise its log limit or use another node"
            )
        self.size = max(self.minimum, self.size // 2)

    def observe(self, logs: int) -> None:
        """Aim the next range at `target_logs` logs, from the density just seen: batches (and so
        memory) stay bounded however dense the chain is; growth is at most twofold per step."""
        if logs == 0:
            self.size = min(self.maximum, self.size * 2)
            return
        wanted = int(self.size * self.target_logs / logs)
        self.size = max(self.minimum, min(self.maximum, wanted, self.size * 2))
