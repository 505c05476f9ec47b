"""Decoding raw logs of the LoopLedger contracts: a pure function of the log and the ABI.

``EventDecoder`` precomputes, for each event topic, the names and ABI types of the indexed and
non-indexed fields, then decodes a raw ``eth_getLogs`` entry with ``eth_abi`` directly (web3's
per-event decoding is an order of magnitude slower).

Every string that comes from the chain is decoded leniently: a log is data anyone with a role
may shape, and one undecodable value must not stop a reader. ``text_of`` shows a bytesN code
in an escaped form (printable ASCII as is, every other byte as ``\\xNN``); an ABI ``string`` is
read as its bytes and shown as UTF-8 with invalid bytes and control characters escaped. A log of
a known event that cannot be decoded at all raises ``MalformedLog``, which the indexer stores
raw and reports while it goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from eth_abi import decode
from eth_utils import keccak, to_checksum_address

from ledger.errors import LedgerError

__all__ = [
    "DecodedEvent",
    "EventDecoder",
    "EventSpec",
    "MalformedLog",
    "abi_type",
    "escaped",
    "fixed_bytes",
    "lenient_text",
    "text_of",
]


class MalformedLog(LedgerError):
    """A log of a known event whose topics or data do not decode as its ABI says."""

    def __init__(self, event: str, reason: str) -> None:
        self.event, self.reason = event, reason
        super().__init__(f"{event}: {reason}")


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
    if abi_kind == "string":
        return lenient_text(value)
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


def _signed_hex(word: str) -> int:
    value = int(word, 16)
    return value - (1 << 256) if value >> 255 else value


def _hex_expression(kind: str, text: str, at: int) -> str | None:
    """Python source reading a static value of `kind` from the 64 hex digits at `text[at:]`
    (what JSON-RPC returns), or None for a type without one."""
    word = f"{text}[{at}:{at + 64}]"
    if kind == "address":
        return f"_checksum_hex({word})"
    if kind == "bool":
        return f"({text}[{at + 63}] == '1')"
    if "[" in kind:
        return None
    if kind.startswith("uint"):
        return f"int({word}, 16)"
    if kind.startswith("int"):
        return f"_signed_hex({word})"
    if kind.startswith("bytes") and kind != "bytes":
        return f"'0x' + {text}[{at}:{at + 2 * int(kind[5:])}].lower()"
    return None


def _compile_hex_decoder(spec: EventSpec) -> Callable[..., DecodedEvent | None] | None:
    """A function decoding a JSON-RPC log of `spec` straight from its hex strings, generated
    as one expression per field (no per-field calls or loops: the indexer's hot path), or None
    when a field is dynamic. It returns None for a log of an unexpected shape."""
    fields = []
    for i, (name, kind) in enumerate(spec.indexed):
        fields.append((name, _hex_expression(kind, f"topics[{i + 1}]", 2)))
    for i, (name, kind) in enumerate(spec.data):
        fields.append((name, _hex_expression(kind, "data", 2 + 64 * i)))
    if any(expression is None for _, expression in fields):
        return None
    args = ", ".join(f"{name!r}: {expression}" for name, expression in fields)
    source = (
        "def decode(log, topics):\n"
        "    data = log['data']\n"
        f"    if len(topics) != {len(spec.indexed) + 1} or len(data) < {2 + 64 * len(spec.data)}:\n"
        "        return None\n"
        f"    return DecodedEvent({spec.contract!r}, {spec.name!r}, _checksum_text(log['address']),\n"
        "                        int(log['blockNumber'], 16), log['blockHash'], log['transactionHash'],\n"
        f"                        int(log['logIndex'], 16), {{{args}}})\n"
    )
    namespace: dict[str, Any] = {
        "DecodedEvent": DecodedEvent,
        "_checksum_hex": _checksum_hex,
        "_checksum_text": _checksum_text,
        "_signed_hex": _signed_hex,
    }
    exec(compile(source, f"<decoder of {spec.contract}.{spec.name}>", "exec"), namespace)
    decode: Callable[..., DecodedEvent | None] = namespace["decode"]
    return decode


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
        self.abis = {contract: list(abi) for contract, abi in abis.items()}
        self.specs: dict[bytes, EventSpec] = {}
        #: topic (hex) -> generated decoder of JSON-RPC logs, for events whose fields are static
        self._hex_decoders: dict[str, Callable[..., DecodedEvent | None]] = {}
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
                self.specs[topic] = EventSpec(
                    contract=contract,
                    name=item["name"],
                    topic=topic,
                    indexed=indexed,
                    data=data,
                    topic_readers=tuple(_word_reader(kind) for _, kind in indexed),
                    data_readers=readers if all(r is not None for r in readers) else None,
                )
                fast = _compile_hex_decoder(self.specs[topic])
                if fast is not None:
                    self._hex_decoders["0x" + topic.hex()] = fast
        self.unknown = 0

    def topics_of(self, names: Iterable[str]) -> list[str]:
        wanted = set(names)
        return ["0x" + spec.topic.hex() for spec in self.specs.values() if spec.name in wanted]

    def decode(self, log: Mapping[str, Any]) -> DecodedEvent | None:
        """Decode one raw log (as ``eth_getLogs`` returns it); None for an unknown topic.

        Raises `MalformedLog` for a log of a known event that does not decode."""
        try:
            return self._decode(log)
        except MalformedLog:
            raise
        except Exception as exc:  # eth_abi, hex and length errors alike: the log is bad data
            spec = self.specs.get(_bytes(log["topics"][0])) if log.get("topics") else None
            name = f"{spec.contract}.{spec.name}" if spec else "log"
            raise MalformedLog(name, f"{type(exc).__name__}: {exc}") from exc

    def _decode(self, log: Mapping[str, Any]) -> DecodedEvent | None:
        topics = log["topics"]
        if topics and isinstance(topics[0], str) and isinstance(log["data"], str):
            # The fast path for JSON-RPC logs; None for the general path (dynamic fields, an
            # unknown topic, an unexpected shape).
            fast = self._hex_decoders.get(topics[0])
            decoded = fast(log, topics) if fast is not None else None
            if decoded is not None:
                return decoded
        spec = self.specs.get(_bytes(topics[0])) if topics else None
        if spec is None:
            self.unknown += 1
            return None
        if len(topics) != len(spec.indexed) + 1:
            raise MalformedLog(
                f"{spec.contract}.{spec.name}",
                f"{len(topics)} topics where the event has {len(spec.indexed) + 1}",
            )
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
                if len(data) < 32 * len(spec.data):
                    raise MalformedLog(
                        f"{spec.contract}.{spec.name}",
                        f"{len(data)} bytes of data where the event has {32 * len(spec.data)}",
                    )
                for offset, ((name, _), reader) in enumerate(
                    zip(spec.data, spec.data_readers, strict=True)
                ):
                    args[name] = reader(data[offset * 32 : offset * 32 + 32])  # type: ignore[misc]
            else:
                # A string is read as its bytes (the same encoding), so that invalid UTF-8
                # cannot stop the decoder; `_normalise` shows it leniently.
                values = decode([_as_bytes_type(kind) for _, kind in spec.data], data)
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


def escaped(raw: bytes) -> str:
    r"""`raw` with printable ASCII as is (a backslash doubled) and every other byte as ``\xNN``:
    one spelling per byte string, safe to print, and equal to the text for a valid code.

    >>> escaped(b"20 01 38"), escaped(b"CAF\xc9"), escaped(b"a\\b")
    ('20 01 38', 'CAF\\xc9', 'a\\\\b')
    """
    return "".join(
        "\\\\" if b == 0x5C else chr(b) if 0x20 <= b <= 0x7E else f"\\x{b:02x}" for b in raw
    )


def text_of(value: bytes | str) -> str:
    """The escaped text of a right-zero-padded bytesN value (hex string or bytes)."""
    raw = _bytes(value) if isinstance(value, str) else value
    return escaped(raw.rstrip(b"\0"))


def lenient_text(value: bytes | str) -> str:
    """An ABI string from the chain: UTF-8 where valid, other bytes and control characters
    escaped as ``\\xNN``."""
    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    text = raw.decode("utf-8", "backslashreplace")
    return "".join(
        f"\\x{ord(c):02x}" if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 else c for c in text
    )


def _as_bytes_type(kind: str) -> str:
    return "bytes" if kind == "string" else kind
