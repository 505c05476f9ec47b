"""Decoding raw logs of the LoopLedger contracts: a pure function of the log and the ABI.

``EventDecoder`` precomputes, for each event topic, the names and ABI types of the indexed and
non-indexed fields, then decodes a raw ``eth_getLogs`` entry with ``eth_abi`` directly (web3's
per-event decoding is an order of magnitude slower).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
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


def _normalise(abi_kind: str, value: Any) -> Any:
    if abi_kind == "address":
        return to_checksum_address(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, tuple | list):
        return tuple(_normalise("", v) for v in value)
    return value


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
        for contract, abi in abis.items():
            for item in abi:
                if item.get("type") != "event" or item.get("anonymous"):
                    continue
                inputs = item["inputs"]
                signature = f"{item['name']}({','.join(abi_type(i) for i in inputs)})"
                topic = keccak(text=signature)
                self.specs[topic] = EventSpec(
                    contract=contract,
                    name=item["name"],
                    topic=topic,
                    indexed=tuple((i["name"], abi_type(i)) for i in inputs if i["indexed"]),
                    data=tuple((i["name"], abi_type(i)) for i in inputs if not i["indexed"]),
                )
        self.unknown = 0

    def topics_of(self, names: Iterable[str]) -> list[str]:
        wanted = set(names)
        return ["0x" + spec.topic.hex() for spec in self.specs.values() if spec.name in wanted]

    def decode(self, log: Mapping[str, Any]) -> DecodedEvent | None:
        """Decode one raw log (as ``eth_getLogs`` returns it); None for an unknown topic."""
        topics = log["topics"]
        spec = self.specs.get(_bytes(topics[0])) if topics else None
        if spec is None or len(topics) != len(spec.indexed) + 1:
            self.unknown += 1
            return None
        args: dict[str, Any] = {}
        for (name, kind), topic in zip(spec.indexed, topics[1:], strict=True):
            (value,) = decode([kind], _bytes(topic))
            args[name] = _normalise(kind, value)
        if spec.data:
            values = decode([kind for _, kind in spec.data], _bytes(log["data"]))
            for (name, kind), value in zip(spec.data, values, strict=True):
                args[name] = _normalise(kind, value)
        block_number = log["blockNumber"]
        return DecodedEvent(
            contract=spec.contract,
            name=spec.name,
            address=to_checksum_address(log["address"]),
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
