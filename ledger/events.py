"""Decoding raw logs of the LoopLedger contracts: a pure function of the log and the ABI.

``EventDecoder`` precomputes, for each event topic, the names and ABI types of the indexed and
non-indexed fields, then decodes a raw ``eth_getLogs`` entry with ``eth_abi`` directly (web3's
per-event decoding is an order of magnitude slower).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from eth_abi import decode
from eth_utils import keccak, to_checksum_address

__all__ = ["DecodedEvent", "EventDecoder", "EventSpec", "abi_type", "fixed_bytes", "text_of"]


def abi_type(item: Mapping[str, Any]) -> str:
    """The canonical ABI type of an ABI input, tuples spelled out."""
    kind = str(item["type"])
    if kind.startswith("tuple"):
        return "(" + ",".join(abi_type(c) for c in item["components"]) + ")" + kind[5:]
    return kind


@dataclass(frozen=True)
class EventSpec:
    """How to decode one event."""

    contract: str
    name: str
    topic: bytes
    indexed: tuple[tuple[str, str], ...]
    data: tuple[tuple[str, str], ...]
    topic_readers: tuple[Callable[[bytes], Any] | None, ...] = ()
    data_readers: tuple[Callable[[bytes], Any] | None, ...] | None = (
        None  # None: some field is dynamic
    )
    topic_hex_readers: tuple[Callable[[str], Any] | None, ...] = ()
    data_hex_readers: tuple[Callable[[str], Any] | None, ...] | None = None


@dataclass(frozen=True)
class DecodedEvent:
    """One decoded log with its chain reference. Its identity is (block_hash, log_index)."""

    contract: str
    name: str
    address: str
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    args: Mapping[str, Any]


@lru_cache(maxsize=65_536)
def _checksum(raw: bytes) -> str:
    return to_checksum_address(raw)


@lru_cache(maxsize=1_024)
def _checksum_text(address: str) -> str:
    return to_checksum_address(address)


def _normalise(abi_kind: str, value: Any) -> Any:
    if abi_kind == "address":
        return _checksum(bytes.fromhex(value[2:]) if isinstance(value, str) else value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, tuple | list):
        return tuple(_normalise("", v) for v in value)
    return value


def _word_reader(kind: str) -> Callable[[bytes], Any] | None:
    """A converter from one 32-byte ABI word, for static types (None for the others)."""
    if kind == "address":
        return lambda word: _checksum(word[12:])
    if kind == "bool":
        return lambda word: word[-1] == 1
    if kind.startswith("uint") and "[" not in kind:
        return lambda word: int.from_bytes(word, "big")
    if kind.startswith("int") and "[" not in kind:
        return lambda word: int.from_bytes(word, "big", signed=True)
    if kind.startswith("bytes") and kind != "bytes" and "[" not in kind:
        size = int(kind[5:])
        return lambda word: "0x" + word[:size].hex()
    return None


@lru_cache(maxsize=65_536)
def _checksum_hex(word: str) -> str:
    """The checksummed address in the last 40 hex digits of a 64-digit ABI word."""
    return to_checksum_address("0x" + word[24:])


def _hex_reader(kind: str) -> Callable[[str], Any] | None:
    """Like `_word_reader`, from the word's 64 hex digits (what JSON-RPC returns): the indexer's
    fast path, which never builds the bytes of a log."""
    if kind == "address":
        return _checksum_hex
    if kind == "bool":
        return lambda word: word[-1] == "1"
    if kind.startswith("uint") and "[" not in kind:
        return lambda word: int(word, 16)
    if kind.startswith("int") and "[" not in kind:
        bits = 256

        def signed(word: str) -> int:
            value = int(word, 16)
            return value - (1 << bits) if value >> (bits - 1) else value

        return signed
    if kind.startswith("bytes") and kind != "bytes" and "[" not in kind:
        size = int(kind[5:])
        return lambda word: "0x" + word[: 2 * size].lower()
    return None


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value)
    return text if text.startswith("0x") else "0x" + text


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    text = str(value)
    return bytes.fromhex(text[2:] if text.startswith("0x") else text)


class EventDecoder:
    """Decoder for the events of a set of contracts, keyed by topic 0."""

    def __init__(self, abis: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        self.specs: dict[bytes, EventSpec] = {}
        self._by_hex: dict[str, EventSpec] = {}
        # topic -> (spec, (name, reader, topic index)..., (name, reader, data offset)..., data length)
        self._hex_plans: dict[str, tuple[EventSpec, tuple[Any, ...], tuple[Any, ...], int]] = {}
        for contract, abi in abis.items():
            for item in abi:
                if item.get("type") != "event" or item.get("anonymous"):
                    continue
                inputs = item["inputs"]
                signature = f"{item['name']}({','.join(abi_type(i) for i in inputs)})"
                topic = keccak(text=signature)
                indexed = tuple((i["name"], abi_type(i)) for i in inputs if i["indexed"])
                data = tuple((i["name"], abi_type(i)) for i in inputs if not i["indexed"])
                readers = tuple(_word_reader(kind) for _, kind in data)
                hex_readers = tuple(_hex_reader(kind) for _, kind in data)
                self.specs[topic] = EventSpec(
                    contract=contract,
                    name=item["name"],
                    topic=topic,
                    indexed=indexed,
                    data=data,
                    topic_readers=tuple(_word_reader(kind) for _, kind in indexed),
                    data_readers=readers if all(r is not None for r in readers) else None,
                    topic_hex_readers=tuple(_hex_reader(kind) for _, kind in indexed),
                    data_hex_readers=hex_readers
                    if all(r is not None for r in hex_readers)
                    else None,
                )
                self._by_hex["0x" + topic.hex()] = self.specs[topic]
                spec = self.specs[topic]
                if spec.data_hex_readers is not None and None not in spec.topic_hex_readers:
                    self._hex_plans["0x" + topic.hex()] = (
                        spec,
                        tuple((n, r, i + 1) for i, ((n, _), r) in enumerate(zip(spec.indexed, spec.topic_hex_readers, strict=True))),
                        tuple((n, r, 2 + 64 * i) for i, ((n, _), r) in enumerate(zip(spec.data, spec.data_hex_readers, strict=True))),
                        2 + 64 * len(spec.data),
                    )  # fmt: skip
        self.unknown = 0

    def _decode_hex(self, log: Mapping[str, Any], topics: Sequence[str]) -> DecodedEvent | None:
        """The fast path for JSON-RPC logs whose fields are all static: None to take the
        general path (dynamic fields, an unknown topic, or an unexpected shape)."""
        plan = self._hex_plans.get(topics[0])
        if plan is None:
            return None
        spec, topic_plan, data_plan, data_length = plan
        data = log["data"]
        if len(topics) != len(topic_plan) + 1 or len(data) < data_length:
            return None
        args = {name: read(topics[i][2:]) for name, read, i in topic_plan}
        for name, read, start in data_plan:
            args[name] = read(data[start : start + 64])
        return DecodedEvent(spec.contract, spec.name, _checksum_text(log["address"]),
                            int(log["blockNumber"], 16), log["blockHash"], log["transactionHash"],
                            int(log["logIndex"], 16), args)  # fmt: skip

    def topics_of(self, names: Iterable[str]) -> list[str]:
        wanted = set(names)
        return ["0x" + spec.topic.hex() for spec in self.specs.values() if spec.name in wanted]

    def decode(self, log: Mapping[str, Any]) -> DecodedEvent | None:
        """Decode one raw log (as ``eth_getLogs`` returns it); None for an unknown topic."""
        topics = log["topics"]
        if topics and isinstance(topics[0], str) and isinstance(log["data"], str):
            fast = self._decode_hex(log, topics)
            if fast is not None:
                return fast
        spec = self.specs.get(_bytes(topics[0])) if topics else None
        if spec is None or len(topics) != len(spec.indexed) + 1:
            self.unknown += 1
            return None
        args: dict[str, Any] = {}
        # Static fields are read word by word (fast path); eth_abi decodes the rest.
        for (name, kind), reader, topic in zip(
            spec.indexed, spec.topic_readers, topics[1:], strict=True
        ):
            raw = _bytes(topic)
            if reader is not None:
                args[name] = reader(raw)
            else:
                (value,) = decode([kind], raw)
                args[name] = _normalise(kind, value)
        if spec.data:
            data = _bytes(log["data"])
            if spec.data_readers is not None:
                for offset, ((name, _), reader) in enumerate(
                    zip(spec.data, spec.data_readers, strict=True)
                ):
                    args[name] = reader(data[offset * 32 : offset * 32 + 32])  # type: ignore[misc]
            else:
                values = decode([kind for _, kind in spec.data], data)
                for (name, kind), value in zip(spec.data, values, strict=True):
                    args[name] = _normalise(kind, value)
        block_number = log["blockNumber"]
        return DecodedEvent(
            contract=spec.contract,
            name=spec.name,
            address=_checksum_text(_hex(log["address"])),
            block_number=int(block_number, 16)
            if isinstance(block_number, str)
            else int(block_number),
            block_hash=_hex(log["blockHash"]),
            tx_hash=_hex(log["transactionHash"]),
            log_index=int(log["logIndex"], 16)
            if isinstance(log["logIndex"], str)
            else int(log["logIndex"]),
            args=args,
        )


def fixed_bytes(text: str, size: int) -> bytes:
    """`text` as a right-zero-padded bytesN value (pilot and material codes on chain)."""
    raw = text.encode()
    if len(raw) > size:
        raise ValueError(f"{text!r} is longer than {size} bytes")
    return raw.ljust(size, b"\0")


def text_of(value: bytes | str) -> str:
    """The text of a right-zero-padded bytesN value (hex string or bytes)."""
    raw = _bytes(value) if isinstance(value, str) else value
    return raw.rstrip(b"\0").decode()
