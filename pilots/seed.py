"""Executes the demo scenario on chain through the real clients (makers and members relayed)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from sqlmodel import Session

from ledger.chain import bring_clock_to_present
from ledger.clients import Suite
from ledger.errors import LedgerError
from ledger.impact.declarations import declare
from ledger.store.db import Store
from ledger.vocabulary import ContributionKind, EventKind, Fate, Role, Source
from pilots.batching import Actors, BlockWriter, ChainModel, action_evidence
from pilots.model import Pilot
from pilots.scenario import Action, plan_declarations, plan_pilot

__all__ = ["DemoCustody", "SeedReport", "demo_account", "seed_declarations", "seed_scenario"]

YEAR = 365 * 86_400


def demo_account(seed: int, pilot: Pilot, role: str, index: int) -> LocalAccount:
    """A deterministic demo key (development chains only)."""
    account: LocalAccount = Account.from_key(
        keccak(text=f"loopledger-demo:{seed}:{pilot.code}:{role}:{index}")
    )
    return account


@dataclass(frozen=True)
class SeedReport:
    actions: int
    skipped: int
    seconds: float
    #: Transactions that wrote the actions, and how many actions went in blocks of many.
    transactions: int = 0
    batched: int = 0


def seed_scenario(
    suite: Suite,
    pilots: Sequence[Pilot],
    *,
    seed: int = 2026,
    scale: float = 1.0,
    months: int = 12,
    progress: Callable[[int, int], None] = lambda done, total: None,
    batch: bool = True,
) -> SeedReport | None:
    """Write the scenario onto the chain, once: None when the chain already holds lots.

    Batched (the default), a day's actions go into one block of relayed requests
    (``pilots.batching``); otherwise, and after a block that reverted, one action per block."""
    if suite.materials.lot_count() > 0:
        return None
    started = time.monotonic()
    w3 = suite.chain.w3
    latest = int(w3.eth.get_block("latest")["timestamp"])
    start_ts = max(latest + 600, int(time.time()) - YEAR)
    plans = {
        p.id: plan_pilot(p, seed=seed, start_ts=start_ts, months=months, scale=scale)
        for p in pilots
    }
    by_id = {p.id: p for p in pilots}
    makers = {
        p.id: [demo_account(seed, p, "maker", i) for i in range(p.scenario.makers)] for p in pilots
    }
    members = {
        p.id: [demo_account(seed, p, "member", i) for i in range(p.scenario.members)]
        for p in pilots
    }
    rewards: dict[int, list[int]] = {}

    for pilot in pilots:
        admin = suite.chain.accounts[pilot.id]
        for maker in makers[pilot.id]:
            suite.registry.set_pilot_role(admin, pilot.id, maker.address, Role.MAKER)
        suite.registry.set_pilot_role(admin, pilot.id, admin.address, Role.ISSUER | Role.PARTNER)
        suite.token.set_budget(admin, pilot.id, pilot.earning.award_budget)
        rewards[pilot.id] = [
            suite.catalogue.list_reward(
                admin, pilot.id, admin.address, r.cost, r.stock, start_ts + 2 * YEAR
            ).reward_id
            for r in pilot.rewards
        ]

    actions = sorted((a for plan in plans.values() for a in plan), key=lambda a: (a.ts, a.pilot))
    handles: dict[str, int] = {}
    material = suite.manifest.materials
    written, skipped, last_ts, blocks = 0, 0, latest, 0
    if batch:
        actors = Actors(
            makers=makers,
            members=members,
            staff={p.id: suite.chain.accounts[p.id] for p in pilots},
            rewards=rewards,
        )
        writer = BlockWriter(suite, actors, ChainModel.read(suite, actors), handles, material)
        written, skipped, last_ts = writer.write(actions, last_ts, progress, len(actions))
        blocks = writer.blocks
    # One action at a time, reading the chain as it goes: the whole scenario when not batched,
    # or what follows a block that reverted.
    for done, action in enumerate(actions[written:], written + 1):
        last_ts = max(action.ts, last_ts + 1)
        try:
            w3.provider.make_request("evm_setNextBlockTimestamp", [last_ts])  # type: ignore[arg-type]
        except Exception as exc:  # pragma: no cover - a node without time control
            raise LedgerError(
                f"the chain cannot set block times for the demo scenario: {exc}"
            ) from exc
        if not _execute(
            suite,
            action,
            by_id[action.pilot],
            makers[action.pilot],
            members[action.pilot],
            rewards[action.pilot],
            handles,
            material,
        ):
            skipped += 1
            w3.provider.make_request("evm_setNextBlockTimestamp", [last_ts])  # type: ignore[arg-type]
        else:
            blocks += 1
        if done % 50 == 0 or done == len(actions):
            progress(done, len(actions))
    # History ends in the past; what is written after it must be dated today.
    bring_clock_to_present(w3)
    return SeedReport(len(actions) - skipped, skipped, time.monotonic() - started, blocks, written)


def _execute(
    suite: Suite,
    action: Action,
    pilot: Pilot,
    makers: list[LocalAccount],
    members: list[LocalAccount],
    rewards: list[int],
    handles: dict[str, int],
    material: dict[str, int],
) -> bool:
    """Run one action; False when it was skipped (a redemption the member cannot afford)."""
    a = action.args
    evidence = action_evidence(action)
    if action.kind == "intake":
        result = suite.materials.intake(
            makers[action.actor],
            pilot.id,
            material[str(a["code"])],
            Source(int(a["source"])),
            int(a["grams"]),
            evidence,
            relay=True,
        )
        handles[action.creates[0]] = result.lot_id
    elif action.kind == "transform":
        inputs = [(handles[h], g) for h, g in a["inputs"]]
        outputs = [(material[code], g) for code, g in a["outputs"]]
        made = suite.materials.transform(
            makers[action.actor], inputs, outputs, int(a["loss"]), evidence, relay=True
        )
        handles.update(zip(action.creates, made.output_lots, strict=True))
    elif action.kind == "transfer":
        moved = suite.materials.transfer(
            makers[action.actor],
            handles[str(a["lot"])],
            makers[int(a["to"])].address,
            int(a["grams"]),
            evidence,
            relay=True,
        )
        handles[action.creates[0]] = moved.received_lot
    elif action.kind == "dispatch":
        suite.materials.dispatch(
            makers[action.actor],
            handles[str(a["lot"])],
            int(a["grams"]),
            Fate(int(a["fate"])),
            evidence,
            relay=True,
        )
    elif action.kind == "contribution":
        suite.contributions.record(
            makers[action.actor],
            pilot.id,
            ContributionKind(int(a["kind"])),
            int(a["amount"]),
            evidence,
            relay=True,
        )
    elif action.kind == "award":
        admin = suite.chain.accounts[pilot.id]
        amount = int(a["amount"])
        if amount > suite.token.budget(pilot.id):
            return False
        suite.token.award(admin, pilot.id, members[action.actor].address, amount, int(a["reason"]))
    elif action.kind == "redeem":
        reward_id = rewards[int(a["reward"])]
        reward = suite.catalogue.reward(reward_id)
        member = members[action.actor]
        if reward.stock == 0 or suite.token.balance_in(pilot.id, member.address) < reward.cost:
            return False
        suite.catalogue.redeem(member, reward_id, relay=True)
    else:
        return _community(suite, action, pilot, members, handles)
    return True


class DemoCustody:
    """The demo scenario's makers and members (development chains only)."""

    def __init__(self, seed: int, pilots: Sequence[Pilot]) -> None:
        self.accounts: dict[str, LocalAccount] = {}
        for pilot in pilots:
            for role, count in (
                ("maker", pilot.scenario.makers),
                ("member", pilot.scenario.members),
            ):
                for i in range(count):
                    account = demo_account(seed, pilot, role, i)
                    self.accounts[account.address] = account

    def holds(self, address: str) -> bool:
        return to_checksum_address(address) in self.accounts

    def key_for(self, address: str) -> LocalAccount | None:
        return self.accounts.get(to_checksum_address(address))


def _community(
    suite: Suite, action: Action, pilot: Pilot, members: list[LocalAccount], handles: dict[str, int]
) -> bool:
    """Community actions: the pilot admin is the staff member who creates events, signs their
    QR codes, holds, voids and releases drop-off points; members check in by relayed requests."""
    a = action.args
    staff = suite.chain.accounts[pilot.id]
    community = suite.community
    if action.kind == "hold_period":
        community.set_hold_period(staff, pilot.id, int(a["seconds"]))
    elif action.kind == "event":
        created = community.create_event(
            staff,
            pilot.id,
            EventKind(int(a["kind"])),
            int(a["opens"]),
            int(a["closes"]),
            int(a["points"]),
            staff.address,
        )
        handles[action.creates[0]] = created.event_id
    elif action.kind == "check_in":
        event_id = handles[str(a["event"])]
        _, _, _, _, points, _ = community.contract.functions.eventOf(event_id).call()
        if int(points) > suite.token.budget(pilot.id):
            return False
        _advance(suite, action.ts - 1)
        token = community.sign_check_in(staff, event_id, action.ts + 300)
        community.check_in(members[action.actor], token, relay=True)
    elif action.kind == "credential":
        community.issue_credential(
            staff,
            handles[str(a["event"])],
            members[action.actor].address,
            str(a["skill"]),
            int(a["level"]),
        )
    elif action.kind == "hold":
        held = community.hold_drop_off(
            staff, pilot.id, members[action.actor].address, int(a["points"])
        )
        handles[action.creates[0]] = held.hold_id
    elif action.kind == "void":
        community.void_hold(staff, handles[str(a["hold"])], str(a["reason"]))
    elif action.kind == "release":
        _advance(suite, action.ts - 1)
        hold = community.contract.functions.holdOf(handles[str(a["hold"])]).call()
        if int(hold[3]) > suite.token.budget(pilot.id):
            return False
        community.release(staff, handles[str(a["hold"])])
    return True


def _advance(suite: Suite, ts: int) -> None:
    """A request is simulated against the latest block before it is sent: when the chain's clock
    is still before `ts` (a check-in window or a hold's release time), an empty block at `ts`
    comes first, and the request's block follows at `ts + 1`."""
    w3 = suite.chain.w3
    if int(w3.eth.get_block("latest")["timestamp"]) < ts:
        w3.provider.make_request("evm_mine", [ts])  # type: ignore[arg-type]
        w3.provider.make_request("evm_setNextBlockTimestamp", [ts + 1])  # type: ignore[arg-type]


def seed_declarations(store: Store, pilots: Sequence[Pilot], *, seed: int = 2026) -> int:
    """The demo members' consented target-group declarations (off chain); returns how many
    members declared. Re-running replaces them with the same."""
    count = 0
    with Session(store.engine) as session:
        for pilot in pilots:
            for member, groups in plan_declarations(pilot, seed=seed):
                account = demo_account(seed, pilot, "member", member)
                declare(
                    session,
                    pilot,
                    account.address,
                    list(groups),
                    consent_version="demo-v1",
                    now=int(time.time()),
                )
                count += 1
    return count
