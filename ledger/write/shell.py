"""The I/O around the planner: read what a plan needs in one JSON-RPC batch, and simulate it.

``Writer.prepare`` is what every writer calls: read the view (lots, roles, balances, rewards,
budgets, the next lot id), plan, then estimate the gas of the calls as the actor, which is the
simulation: a revert names the record the ledger refuses. Several material-ledger calls travel
as one ``multicall`` (one signed request, one estimate); only when it reverts are the calls
simulated one by one to name the culprit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import decode, encode
from eth_keys import keys
from eth_keys.exceptions import BadSignature, ValidationError
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from ledger.clients import Suite
from ledger.contract_errors import ContractRevert, decode_revert
from ledger.errors import LedgerError, TransactionFailed
from ledger.transact import EXECUTE_ALL, REQUEST_FIELDS, REQUEST_TYPE, Call
from ledger.vocabulary import Role
from ledger.write.plan import (
    Award,
    Encoders,
    Intake,
    LedgerView,
    LotView,
    Part,
    Record,
    Redemption,
    RewardView,
    Transfer,
    Transform,
    WriteRejected,
    lot_ids,
    plan,
    plan_parts,
)
from ledger.write.rpc import Rpc, RpcError

__all__ = ["PART_GAS", "Planned", "Writer", "gas_with_margin"]


def gas_with_margin(estimate: int) -> int:
    """The gas to give a call the node estimated: a quarter more and a fixed margin, because
    state can move between the estimate and the block (a lot's storage word warm or cold)."""
    return estimate * 5 // 4 + 20_000


def _selector(signature: str) -> bytes:
    return function_signature_to_4byte_selector(signature)


_LOT_OF = _selector("lotOf(uint256)")
_ROLES_OF = _selector("rolesOf(uint16,address)")
_BALANCE_IN = _selector("balanceIn(uint16,address)")
_MATERIAL_IN = _selector("materialIdIn(uint16,bytes16)")
_REWARD_OF = _selector("rewardOf(uint256)")
_BUDGET = _selector("awardBudget(uint16)")
_LOT_COUNT = _selector("lotCount()")
_NONCES = _selector("nonces(address)")


def _codes(records: Sequence[Record]) -> set[str]:
    codes: set[str] = set()
    for r in records:
        if isinstance(r, Intake):
            codes.add(r.material.strip())
        elif isinstance(r, Transform):
            codes |= {code.strip() for code, _ in r.outputs}
    return codes


def _code_bytes(code: str) -> bytes | None:
    """A material code as the registry keys it (bytes16, right-padded); None if it cannot be."""
    try:
        raw = code.encode("ascii")
    except UnicodeEncodeError:
        return None
    return raw.ljust(16, b"\0") if 0 < len(raw) <= 16 else None


def recover(digest: bytes, signature: bytes) -> str | None:
    """The address that signed `digest` (65-byte r, s, v signature), or None if unreadable."""
    if len(signature) != 65 or signature[64] not in (27, 28):
        return None
    try:
        key = keys.Signature(signature[:64] + bytes([signature[64] - 27]))
        return str(key.recover_public_key_from_msg_hash(digest).to_checksum_address())
    except (BadSignature, ValidationError, ValueError):
        return None


#: Gas a later part of a several-actor plan may use (unsimulated; only what it uses is paid).
PART_GAS = 3_000_000


@dataclass(frozen=True)
class Planned:
    """A plan ready to queue: its calls with the gas each needs, and the lots it names."""

    calls: tuple[tuple[Call, int], ...]
    lots: dict[str, int]
    #: the signer of each call, when the plan has several actors
    signers: tuple[str, ...] = ()


class Writer:
    """Reads, plans and simulates writes against one deployment."""

    def __init__(self, suite: Suite, rpc: Rpc | None = None) -> None:
        self.suite = suite
        self.rpc = rpc or Rpc(suite.chain)
        self.encoders = Encoders(
            materials=suite.materials.call_data,
            contributions=suite.contributions.call_data,
            token=suite.token.call_data,
            catalogue=suite.catalogue.call_data,
        )

    # ---- reading ----------------------------------------------------------------------------

    def view(
        self, actor: str, pilot: int, records: Sequence[Record], *, next_lot: bool = False
    ) -> LedgerView:
        """The state `records` depend on, read in one round trip."""
        addresses = self.suite.manifest.addresses
        ledger, registry = addresses["MaterialLedger"], addresses["PilotRegistry"]
        token, catalogue = addresses["EngagementToken"], addresses["RewardCatalogue"]
        # (what, key, contract, calldata)
        reads: list[tuple[str, object, str, bytes]] = []
        for lot in sorted(lot_ids(records)):
            reads.append(("lot", lot, ledger, _LOT_OF + encode(["uint256"], [lot])))
        for who in sorted({r.to for r in records if isinstance(r, Transfer)}):
            data = _ROLES_OF + encode(["uint16", "address"], [pilot, who])
            reads.append(("role", who, registry, data))
        rewards = sorted({r.reward_id for r in records if isinstance(r, Redemption)})
        if rewards:
            data = _BALANCE_IN + encode(["uint16", "address"], [pilot, actor])
            reads.append(("balance", actor, token, data))
        # Codes as the pilot sees them: its own product codes first, then the shared ones.
        for code in sorted(_codes(records)):
            raw = _code_bytes(code)
            if raw is not None:
                data = _MATERIAL_IN + encode(["uint16", "bytes16"], [pilot, raw])
                reads.append(("material", code, registry, data))
        for reward in rewards:
            reads.append(("reward", reward, catalogue, _REWARD_OF + encode(["uint256"], [reward])))
        if any(isinstance(r, Award) for r in records):
            reads.append(("budget", pilot, token, _BUDGET + encode(["uint16"], [pilot])))
        if next_lot:
            reads.append(("count", None, ledger, _LOT_COUNT))
        replies = self.rpc.batch(
            [
                ("eth_call", [{"to": to, "data": "0x" + data.hex()}, "latest"])
                for *_, to, data in reads
            ]
        )
        lots: dict[int, LotView | None] = {}
        roles: dict[tuple[int, str], Role] = {}
        balances: dict[str, int] = {}
        reward_views: dict[int, RewardView | None] = {}
        budgets: dict[int, int] = {}
        materials = dict(self.suite.manifest.materials)
        count = 0
        for (what, key, _, _), reply in zip(reads, replies, strict=True):
            raw = bytes.fromhex(reply["result"][2:]) if "result" in reply else None
            if what == "lot":
                lot_id = int(key)  # type: ignore[call-overload]
                if raw is None:  # lotOf reverts with LedgerUnknownLot
                    lots[lot_id] = None
                    continue
                holder, grams, lot_pilot, _, _ = decode(
                    ["(address,uint48,uint16,uint16,uint16)"], raw
                )[0]
                lots[lot_id] = LotView(to_checksum_address(holder), int(grams), int(lot_pilot))
            elif raw is None and what == "reward":  # rewardOf reverts for an unknown reward
                reward_views[int(key)] = None  # type: ignore[call-overload]
            elif raw is None:
                raise LedgerError(f"the chain refused to read the {what} a write depends on")
            elif what == "role":
                roles[(pilot, str(key))] = Role(decode(["uint8"], raw)[0])
            elif what == "balance":
                balances[actor] = int(decode(["uint256"], raw)[0])
            elif what == "reward":
                r_pilot, _partner, cost, stock, _redeemed, expiry = decode(
                    ["uint16", "address", "uint64", "uint32", "uint32", "uint40"], raw
                )
                reward_views[int(key)] = (  # type: ignore[call-overload]
                    RewardView(int(r_pilot), int(cost), int(stock), int(expiry)) if cost else None
                )
            elif what == "material":
                found = int(decode(["uint16"], raw)[0])
                if found:
                    materials[str(key)] = found
                else:
                    materials.pop(str(key), None)
            elif what == "budget":
                budgets[pilot] = int(decode(["uint256"], raw)[0])
            else:
                count = int(decode(["uint256"], raw)[0])
        return LedgerView(
            encoders=self.encoders,
            materials=materials,
            lots=lots,
            roles=roles,
            balances=balances,
            rewards=reward_views,
            budgets=budgets,
            next_lot=count + 1,
            now=int(time.time()),
        )

    # ---- simulating -------------------------------------------------------------------------

    def gas(self, sender: str, call: Call) -> int:
        """Gas `call` needs as `sender`; a revert raises the contract's decoded error."""
        params = {"from": sender, "to": call.to, "data": "0x" + call.data.hex()}
        try:
            estimate = self.rpc.call("eth_estimateGas", [params])
        except RpcError as exc:
            data = exc.revert_data()
            if data is not None:
                raise decode_revert(data) from None
            raise TransactionFailed(f"the ledger refuses it: {exc.message}") from None
        return gas_with_margin(int(estimate, 16) if isinstance(estimate, str) else int(estimate))

    def simulate(self, sender: str, calls: Sequence[tuple[str, Call]]) -> list[tuple[Call, int]]:
        """Gas for each call as `sender`, or WriteRejected naming the record the ledger refuses."""
        material = self.suite.materials.address
        if len(calls) > 1 and all(call.to == material for _, call in calls):
            bundle = self.encoders.materials("multicall", [call.data for _, call in calls])
            try:
                return [(bundle, self.gas(sender, bundle))]
            except ContractRevert:
                pass  # find the record below
        reasons: list[tuple[str, str]] = []
        planned: list[tuple[Call, int]] = []
        for where, call in calls:
            try:
                planned.append((call, self.gas(sender, call)))
            except ContractRevert as exc:
                reasons.append((where, f"the ledger refuses it: {exc}"))
            except TransactionFailed as exc:
                reasons.append((where, str(exc)))
        if reasons:
            raise WriteRejected(reasons)
        return planned

    def forwarder_nonces(self, signers: Sequence[str]) -> dict[str, int]:
        """The next forwarder nonce of each signer, in one round trip."""
        forwarder = self.suite.manifest.addresses["LedgerForwarder"]
        calls = [
            (
                "eth_call",
                [
                    {"to": forwarder, "data": "0x" + (_NONCES + encode(["address"], [s])).hex()},
                    "latest",
                ],
            )
            for s in signers
        ]
        out: dict[str, int] = {}
        for signer, reply in zip(signers, self.rpc.batch(calls), strict=True):
            if "result" not in reply:
                raise LedgerError("the chain refused to read a forwarder nonce")
            out[signer] = int(reply["result"], 16)
        return out

    def simulate_relayed(self, requests: Sequence[dict[str, Any]]) -> int:
        """Gas of an ``executeAll`` of signed requests as the relayer would send it; a revert
        raises the failing request's decoded error."""
        rows = [tuple(r[k] for k in REQUEST_FIELDS) for r in requests]
        call = Call(
            self.suite.manifest.addresses["LedgerForwarder"],
            EXECUTE_ALL + encode([REQUEST_TYPE + "[]"], [rows]),
        )
        relayer = self.suite.tx.relayer
        return self.gas(relayer.address if relayer is not None else requests[0]["from"], call)

    def prepare_parts(self, pilot: int, parts: Sequence[Part]) -> Planned:
        """Read, plan and simulate the records of several actors as one job, in order.

        The first part is simulated as its actor. The later ones depend on what the earlier
        parts do, which the chain has not seen yet, so they are checked by the planner only and
        given :data:`PART_GAS` a call; the relayer simulates the whole, signed, before sending,
        and fails the job, nothing of it recorded, if any part would revert."""
        parts = [Part(to_checksum_address(p.actor), p.records, p.where) for p in parts]
        records = [r for part in parts for r in part.records]
        view = self.view(parts[0].actor, pilot, records, next_lot=True)
        made = plan_parts(pilot, parts, view)
        calls: list[tuple[Call, int, str]] = []
        for index, (actor, part_plan) in enumerate(made):
            if index == 0:
                calls += [(c, g, actor) for c, g in self.simulate(actor, part_plan.calls)]
            elif part_plan.calls:
                bundle = self.encoders.materials("multicall", [c.data for _, c in part_plan.calls])
                calls.append((bundle, PART_GAS, actor))
        return Planned(
            tuple((c, g) for c, g, _ in calls), made[0][1].lots, tuple(a for *_, a in calls)
        )

    def prepare(
        self,
        actor: str,
        pilot: int,
        records: Sequence[Record],
        *,
        where: Callable[[int], str] = lambda i: f"records.{i}",
        handles: bool = False,
    ) -> Planned:
        """Read, plan and simulate `records` as `actor`: the calls to queue, or WriteRejected."""
        actor = to_checksum_address(actor)
        view = self.view(actor, pilot, records, next_lot=handles)
        made = plan(actor, pilot, records, view, where=where)
        return Planned(tuple(self.simulate(actor, made.calls)), made.lots)
