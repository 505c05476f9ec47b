"""Everything a write needs before it reaches the chain: input models, unit conversion, checks
against the chain's current state, simulation, and the hand-over to the relay batcher.

The order is: the request body is validated by the models (units, amounts, codes, formats);
then each record is checked against the chain (lots the maker holds and their remaining grams,
drawing twice from one lot within a batch included; mass balance); then the whole job is
simulated as the signer. Any failure answers 422 with one message per field, and nothing is sent.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

import httpx
from eth_abi import decode, encode
from eth_account.signers.local import LocalAccount
from eth_utils import function_signature_to_4byte_selector, is_address, to_checksum_address
from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import insert

from api.auth import NonceBook, SessionSigner, hash_api_key, new_api_key
from api.custody import Custody, KeystoreCustody, MultiCustody
from ledger.clients import Lot, Suite
from ledger.contract_errors import ContractRevert, decode_revert
from ledger.errors import LedgerError, TransactionFailed
from ledger.keystore import Keystore
from ledger.relay import Job, JobResult, RelayBatcher
from ledger.store.db import Store
from ledger.transact import REVERTS, Call, _as_ledger_error
from ledger.vocabulary import ContributionKind, Fate, Role, Source

__all__ = [
    "ContributionIn",
    "DispatchIn",
    "FieldErrors",
    "IntakeIn",
    "RateLimiter",
    "TransferIn",
    "TransformIn",
    "WriteService",
]

UNIT_GRAMS = {"g": Decimal(1), "kg": Decimal(1000), "t": Decimal(1_000_000)}
MAX_GRAMS = 2**48 - 1
MAX_BATCH = 200
#: Largest id a path or body may name (the store keeps 64-bit integers).
MAX_ID = 2**63 - 1
Unit = Literal["g", "kg", "t"]
Evidence = Annotated[
    str | None,
    Field(
        default=None,
        pattern=r"^0x[0-9a-fA-F]{64}$",
        description="SHA-256 of the evidence document (weigh ticket, photo, invoice), 0x-hex",
    ),
]
Positive = Annotated[Decimal, Field(gt=0, max_digits=20, decimal_places=6)]

# The vocabulary's names in lower case (tests/api check that they match ledger.vocabulary).
SourceName = Literal[
    "municipal_collection", "donation", "industrial_surplus", "product_return", "virgin_purchase"
]
FateName = Literal[
    "in_use", "reused", "repaired", "recycled", "composted", "incinerated", "landfilled"
]
KindName = Literal["workshop", "repair", "mentoring", "products_donated"]


class FieldErrors(Exception):
    """Input that is well-formed but wrong for the ledger: one message per field."""

    def __init__(self, fields: list[tuple[str, str]], status: int = 422) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in fields))
        self.fields = fields
        self.status = status


def _grams(quantity: Decimal, unit: str) -> int:
    grams = quantity * UNIT_GRAMS[unit]
    if grams != grams.to_integral_value():
        raise ValueError(f"{quantity} {unit} is not a whole number of grams")
    if grams > MAX_GRAMS:
        raise ValueError(f"{quantity} {unit} exceeds the ledger's largest lot ({MAX_GRAMS} g)")
    return int(grams)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Quantity(_Record):
    quantity: Positive = Field(examples=[12.5])
    unit: Unit = "kg"

    @model_validator(mode="after")
    def _whole_grams(self) -> _Quantity:
        _grams(self.quantity, self.unit)
        return self

    def grams(self) -> int:
        return _grams(self.quantity, self.unit)


class IntakeIn(_Quantity):
    material: str = Field(description="European Waste Catalogue code", examples=["20 01 01"])
    source: SourceName = Field(examples=["municipal_collection"])
    evidence: Evidence = None


class LotDraw(_Record):
    lot_id: int = Field(gt=0, le=MAX_ID, examples=[42])
    quantity: Positive = Field(examples=[10])


class OutputIn(_Record):
    material: str = Field(examples=["20 01 39"])
    quantity: Positive = Field(examples=[9.2])


class TransformIn(_Record):
    inputs: list[LotDraw] = Field(min_length=1, max_length=32)
    outputs: list[OutputIn] = Field(min_length=1, max_length=32)
    loss: Annotated[Decimal, Field(ge=0, max_digits=20, decimal_places=6)] = Decimal(0)
    unit: Unit = "kg"
    evidence: Evidence = None

    @model_validator(mode="after")
    def _whole_grams(self) -> TransformIn:
        for value in [d.quantity for d in self.inputs] + [o.quantity for o in self.outputs]:
            _grams(value, self.unit)
        _grams(self.loss, self.unit)
        return self


class TransferIn(_Quantity):
    lot_id: int = Field(gt=0, le=MAX_ID)
    to: str = Field(description="address of the receiving maker", examples=["0x" + "ab" * 20])
    evidence: Evidence = None

    @field_validator("to")
    @classmethod
    def _address(cls, value: str) -> str:
        if not is_address(value):
            raise ValueError("not an Ethereum address (0x and 40 hex digits)")
        return to_checksum_address(value)


class DispatchIn(_Quantity):
    lot_id: int = Field(gt=0, le=MAX_ID)
    fate: FateName = Field(examples=["recycled"])
    evidence: Evidence = None


class ContributionIn(_Record):
    kind: KindName = Field(examples=["repair"])
    amount: int = Field(gt=0, le=2**32 - 1, description="participants, minutes or items")
    evidence: Evidence = None


def _evidence(value: str | None) -> bytes:
    return bytes.fromhex(value[2:]) if value else b"\x00" * 32


class RateLimiter:
    """A token bucket per account: `rate` writes per second, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, account: str) -> float:
        """0 when allowed; otherwise the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(account, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1:
                self._buckets[account] = (tokens, now)
                return (1 - tokens) / self.rate
            self._buckets[account] = (tokens - 1, now)
            return 0.0


@dataclass
class WriteService:
    suite: Suite
    batcher: RelayBatcher
    custody: Custody
    sessions: SessionSigner
    nonces: NonceBook = field(default_factory=NonceBook)
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(rate=20.0, burst=60))
    #: the sign-in domain; None takes the Host header of the request
    domain: str | None = None
    role_ttl: float = 5.0
    _http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    _roles: dict[tuple[int, str], tuple[float, Role]] = field(default_factory=dict)

    @property
    def chain_id(self) -> int:
        return self.suite.manifest.chain_id

    def close(self) -> None:
        self.batcher.stop()
        self._http.close()

    # ---- roles ---------------------------------------------------------------------------------

    def roles(self, pilot: int, address: str) -> Role:
        key = (pilot, address)
        now = time.monotonic()
        cached = self._roles.get(key)
        if cached is None or now - cached[0] > self.role_ttl:
            cached = (now, self.suite.registry.roles_of(pilot, address))
            self._roles[key] = cached
        return cached[1]

    def require(self, pilot: int, address: str, role: Role, what: str) -> None:
        roles = self.roles(pilot, address)
        if roles & Role.SUSPENDED:
            raise FieldErrors([("account", f"{address} is suspended in pilot {pilot}")], 403)
        if not roles & role:
            raise FieldErrors(
                [("account", f"{address} is not a {what} of pilot {pilot}: ask the pilot admin")],
                403,
            )

    def throttle(self, account: str) -> None:
        """429 with Retry-After when `account` writes faster than its rate limit allows."""
        retry = self.limiter.take(account)
        if retry > 0:
            raise HTTPException(status_code=429, detail=f"too many writes: retry in {retry:.1f} s",
                                headers={"Retry-After": str(max(1, round(retry)))})  # fmt: skip

    def signer(self, address: str) -> LocalAccount:
        key = self.custody.key_for(address)
        if key is None:
            raise FieldErrors(
                [("account", f"the gateway holds no key for {address}: send EIP-712 signed "
                             "requests to /api/relay instead")], 403)  # fmt: skip
        return key

    # ---- chain reads and simulation ------------------------------------------------------------

    def material_id(self, code: str, where: str, errors: list[tuple[str, str]]) -> int:
        material = self.suite.manifest.materials.get(code.strip())
        if material is None:
            known = ", ".join(sorted(self.suite.manifest.materials))
            errors.append((where, f"unknown material code {code!r}: use one of {known}"))
            return 0
        return material

    def read_lots(self, lot_ids: Sequence[int]) -> dict[int, Lot | None]:
        """The current state of lots on chain (None: no such lot), in one JSON-RPC batch."""
        ids = sorted(set(lot_ids))
        if not ids:
            return {}
        url = getattr(self.suite.chain, "url", "")
        if not url:  # an in-process chain: one call per lot
            count = self.suite.materials.lot_count()
            return {i: self.suite.materials.lot(i) if 0 < i <= count else None for i in ids}
        to = self.suite.materials.address
        selector = function_signature_to_4byte_selector("lotOf(uint256)")
        calls = [{"jsonrpc": "2.0", "id": n, "method": "eth_call",
                  "params": [{"to": to, "data": "0x" + (selector + encode(["uint256"], [i])).hex()}, "latest"]}
                 for n, i in enumerate(ids)]  # fmt: skip
        try:
            replies = {
                r["id"]: r
                for r in self._http.post(url, json=calls, timeout=30).raise_for_status().json()
            }
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise LedgerError(f"cannot read lots from the chain: {exc}") from exc
        lots: dict[int, Lot | None] = {}
        for n, lot_id in enumerate(ids):
            reply = replies.get(n, {})
            if "result" not in reply:  # lotOf reverts with LedgerUnknownLot
                lots[lot_id] = None
                continue
            holder, grams, pilot, material, recycled = decode(
                ["(address,uint48,uint16,uint16,uint16)"], bytes.fromhex(reply["result"][2:])
            )[0]
            lots[lot_id] = Lot(
                lot_id, to_checksum_address(holder), grams, pilot, material, recycled
            )
        return lots

    def check_draws(
        self, maker: str, pilot: int, draws: Sequence[tuple[str, int, int]]
    ) -> list[tuple[str, str]]:
        """(field, lot id, grams) drawn in order: the maker must hold enough of each lot."""
        errors: list[tuple[str, str]] = []
        left: dict[int, int] = {}
        state = self.read_lots([lot_id for _, lot_id, _ in draws])
        for where, lot_id, grams in draws:
            if lot_id not in left:
                lot = state[lot_id]
                if lot is None:
                    errors.append((where, f"lot {lot_id} does not exist"))
                    left[lot_id] = -1
                    continue
                if lot.holder != maker:
                    errors.append((where, f"lot {lot_id} is held by {lot.holder}, not by {maker}"))
                    left[lot_id] = -1
                    continue
                if lot.pilot != pilot:
                    errors.append(
                        (where, f"lot {lot_id} belongs to pilot {lot.pilot}, not {pilot}")
                    )
                    left[lot_id] = -1
                    continue
                left[lot_id] = lot.grams
            if left[lot_id] < 0:
                continue
            if grams > left[lot_id]:
                errors.append(
                    (where, f"lot {lot_id} has {left[lot_id]} g left, {grams} g were asked for")
                )
                left[lot_id] = -1
                continue
            left[lot_id] -= grams
        return errors

    def gas_of(self, sender: str, call: Call) -> int:
        """Gas the call needs as `sender`; a revert raises the contract's decoded error.

        On an RPC node this is one raw `eth_estimateGas` (web3.py's request machinery costs
        more interpreter time than the call itself when many requests arrive at once)."""
        url = getattr(self.suite.chain, "url", "")
        if not url:
            try:
                estimate = self.suite.chain.w3.eth.estimate_gas(
                    {"from": sender, "to": to_checksum_address(call.to), "data": call.data}
                )
            except REVERTS as exc:
                raise _as_ledger_error(exc) from None
            return int(estimate * 1.25) + 20_000
        body = {"jsonrpc": "2.0", "id": 1, "method": "eth_estimateGas",
                "params": [{"from": sender, "to": call.to, "data": "0x" + call.data.hex()}]}  # fmt: skip
        try:
            reply = self._http.post(url, json=body, timeout=30).raise_for_status().json()
        except (httpx.HTTPError, ValueError) as exc:
            raise LedgerError(f"the chain did not answer a gas estimate: {exc}") from exc
        if "error" in reply:
            data = reply["error"].get("data")
            if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
                raise decode_revert(bytes.fromhex(data[2:]))
            raise TransactionFailed(f"the ledger refuses it: {reply['error'].get('message')}")
        return int(int(reply["result"], 16) * 1.25) + 20_000

    def simulate(self, sender: str, calls: Sequence[tuple[str, Call]]) -> list[tuple[Call, int]]:
        """Gas for each call as `sender`, or 422 naming the record the ledger refuses.

        Several calls to the material ledger travel as one `multicall` (one signed request, one
        estimate); only when it reverts are the records simulated one by one to name the culprit.
        """
        material = self.suite.materials.address
        if len(calls) > 1 and all(call.to == material for _, call in calls):
            bundle = self.suite.materials.call_data("multicall", [call.data for _, call in calls])
            try:
                return [(bundle, self.gas_of(sender, bundle))]
            except LedgerError:
                pass  # find the record below
        errors: list[tuple[str, str]] = []
        planned: list[tuple[Call, int]] = []
        for where, call in calls:
            try:
                planned.append((call, self.gas_of(sender, call)))
            except ContractRevert as exc:
                errors.append((where, f"the ledger refuses it: {exc}"))
            except LedgerError as exc:
                errors.append((where, str(exc)))
        if errors:
            raise FieldErrors(errors)
        return planned

    def run(self, job: Job, timeout: float = 120.0) -> JobResult:
        """Relay the job in the next batch and wait for its receipt."""
        try:
            return self.batcher.submit(job).result(timeout=timeout)
        except ContractRevert as exc:
            raise FieldErrors([("records", f"the ledger refused the batch: {exc}")]) from exc

    # ---- building the calls --------------------------------------------------------------------

    def intake_calls(
        self, maker: str, pilot: int, records: Sequence[IntakeIn]
    ) -> list[tuple[str, Call]]:
        errors: list[tuple[str, str]] = []
        rows = []
        for i, r in enumerate(records):
            material = self.material_id(r.material, f"records.{i}.material", errors)
            rows.append(
                (pilot, material, int(Source[r.source.upper()]), r.grams(), _evidence(r.evidence))
            )
        if errors:
            raise FieldErrors(errors)
        return [("records", self.suite.materials.call_data("intakeBatch", rows))]

    def transform_calls(
        self, maker: str, pilot: int, records: Sequence[TransformIn]
    ) -> list[tuple[str, Call]]:
        errors: list[tuple[str, str]] = []
        draws: list[tuple[str, int, int]] = []
        calls: list[tuple[str, Call]] = []
        for i, r in enumerate(records):
            inputs = [(d.lot_id, _grams(d.quantity, r.unit)) for d in r.inputs]
            outputs = [(self.material_id(o.material, f"records.{i}.outputs.{j}.material", errors),
                        _grams(o.quantity, r.unit)) for j, o in enumerate(r.outputs)]  # fmt: skip
            loss = _grams(r.loss, r.unit) if r.loss else 0
            consumed, produced = sum(g for _, g in inputs), sum(g for _, g in outputs)
            if produced + loss != consumed:
                errors.append((f"records.{i}", f"mass balance: outputs {produced} g + loss {loss} g "
                               f"must equal inputs {consumed} g (differs by {consumed - produced - loss} g)"))  # fmt: skip
            draws += [
                (f"records.{i}.inputs.{j}.lot_id", lot, g) for j, (lot, g) in enumerate(inputs)
            ]
            calls.append((f"records.{i}", self.suite.materials.call_data(
                "transform", [lot for lot, _ in inputs], [g for _, g in inputs],
                [tuple(o) for o in outputs], loss, _evidence(r.evidence))))  # fmt: skip
        errors += self.check_draws(maker, pilot, draws)
        if errors:
            raise FieldErrors(errors)
        return calls

    def transfer_calls(
        self, maker: str, pilot: int, records: Sequence[TransferIn]
    ) -> list[tuple[str, Call]]:
        errors: list[tuple[str, str]] = []
        draws = [(f"records.{i}.lot_id", r.lot_id, r.grams()) for i, r in enumerate(records)]
        for i, r in enumerate(records):
            if r.to == maker:
                errors.append((f"records.{i}.to", "a lot cannot be handed to its own holder"))
            elif not self.roles(pilot, r.to) & Role.MAKER:
                errors.append((f"records.{i}.to", f"{r.to} is not a maker of pilot {pilot}"))
        errors += self.check_draws(maker, pilot, draws)
        if errors:
            raise FieldErrors(errors)
        return [(f"records.{i}", self.suite.materials.call_data(
            "transfer", r.lot_id, r.to, r.grams(), _evidence(r.evidence))) for i, r in enumerate(records)]  # fmt: skip

    def dispatch_calls(
        self, maker: str, pilot: int, records: Sequence[DispatchIn]
    ) -> list[tuple[str, Call]]:
        draws = [(f"records.{i}.lot_id", r.lot_id, r.grams()) for i, r in enumerate(records)]
        errors = self.check_draws(maker, pilot, draws)
        if errors:
            raise FieldErrors(errors)
        return [(f"records.{i}", self.suite.materials.call_data(
            "dispatch", r.lot_id, r.grams(), int(Fate[r.fate.upper()]), _evidence(r.evidence)))
            for i, r in enumerate(records)]  # fmt: skip

    def contribution_calls(
        self, maker: str, pilot: int, records: Sequence[ContributionIn]
    ) -> list[tuple[str, Call]]:
        return [(f"records.{i}", self.suite.contributions.call_data(
            "recordContribution", pilot, int(ContributionKind[r.kind.upper()]), r.amount,
            _evidence(r.evidence))) for i, r in enumerate(records)]  # fmt: skip


def session_secret(path: Path) -> bytes:
    """The gateway's session secret: created once (owner-only), then reused across restarts."""
    if path.exists():
        secret = path.read_bytes()
        if len(secret) >= 32:
            return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secret)
    tmp.replace(path)
    return secret


def issue_api_key(store: Store, address: str, label: str) -> str:
    """A new API key for `address`; only its hash is stored, so show the key once."""
    key = new_api_key()
    with store.engine.begin() as conn:
        conn.execute(insert(store.tables["api_key"]).values(
            key_hash=hash_api_key(key), address=to_checksum_address(address), label=label[:100],
            created_at=int(time.time()), revoked=False))  # fmt: skip
    return key


def start_write_service(
    suite: Suite,
    *,
    data_dir: Path,
    keystore_password: str,
    demo_custody: Custody | None = None,
    rate: float = 20.0,
    burst: int = 60,
    window: float = 0.01,
) -> WriteService:
    """The write side of a gateway: custody, sessions and a running relay batcher."""
    sources: list[Custody] = [KeystoreCustody(Keystore(data_dir / "keys", keystore_password))]
    if demo_custody is not None:
        sources.append(demo_custody)
    return WriteService(
        suite=suite,
        batcher=RelayBatcher(suite, window=window).start(),
        custody=MultiCustody(*sources),
        sessions=SessionSigner(session_secret(data_dir / "session.key")),
        limiter=RateLimiter(rate=rate, burst=burst),
    )
