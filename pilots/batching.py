"""The demo scenario written in blocks: many signed requests per ``executeAll`` transaction.

Seeding one transaction per action spent most of the first start waiting for receipts. Here the
actions of one day go into one block (up to ``BLOCK_REQUESTS`` of them) at the first action's
time, each as a forward request signed by its actor (maker, member or pilot staff), relayed
together by the relayer account. The ids a block creates (lots, events, holds) are known before
it is sent, because the contracts count them one by one; so are the amounts that decide whether
an action runs at all (an award within the pilot's budget, a redemption the member can afford):
``ChainModel`` follows them from the chain's state when seeding starts.

The model only saves time, it never decides what is recorded: a block that reverts is not
retried from the model, and the caller writes the rest of the scenario one action at a time,
reading the chain as it goes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.clients import Suite
from ledger.errors import LedgerError
from ledger.events import fixed_bytes
from ledger.transact import Call
from pilots.scenario import Action

__all__ = [
    "BLOCK_REQUESTS",
    "REQUEST_GAS",
    "Actors",
    "BlockWriter",
    "ChainModel",
    "action_evidence",
]

DAY = 86_400
#: Gas each demo request may use; a block of BLOCK_REQUESTS stays within a 30M block gas limit.
REQUEST_GAS = 600_000
BLOCK_REQUESTS = 40
#: The forwarder's own work per request (signature, nonce, event) and the transaction's base.
FORWARDING_GAS = 40_000
BASE_GAS = 60_000
#: Kinds whose block must start at their own time: a hold's release time is counted from it.
STARTS_BLOCK = {"hold"}


@dataclass(frozen=True)
class Actors:
    """Who does what in each pilot: makers and members by index, the pilot's staff, rewards."""

    makers: dict[int, list[LocalAccount]]
    members: dict[int, list[LocalAccount]]
    staff: dict[int, LocalAccount]
    rewards: dict[int, list[int]]


@dataclass
class ChainModel:
    """The chain's counters and amounts, as the seeder's requests change them."""

    next_lot: int
    next_event: int
    next_hold: int
    budgets: dict[int, int]
    balances: dict[tuple[int, str], int]
    stock: dict[int, int]
    cost: dict[int, int]
    hold_periods: dict[int, int]
    lot_grams: dict[int, int] = field(default_factory=dict)
    events: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # opens, closes, points
    holds: dict[int, tuple[int, int, str]] = field(
        default_factory=dict
    )  # release at, points, member
    attended: set[tuple[str, int]] = field(default_factory=set)

    @classmethod
    def read(cls, suite: Suite, actors: Actors) -> ChainModel:
        """The state seeding starts from (after the pilots' roles, budgets and rewards)."""
        events, _, holds = suite.community.contract.functions.counts().call()
        pilots = list(actors.staff)
        rewards = [suite.catalogue.reward(r) for p in pilots for r in actors.rewards[p]]
        community = suite.community.contract.functions
        return cls(
            next_lot=suite.materials.lot_count() + 1,
            next_event=int(events) + 1,
            next_hold=int(holds) + 1,
            budgets={p: suite.token.budget(p) for p in pilots},
            balances={
                (p, m.address): suite.token.balance_in(p, m.address)
                for p in pilots
                for m in actors.members[p]
            },
            stock={r.reward_id: r.stock for r in rewards},
            cost={r.reward_id: r.cost for r in rewards},
            hold_periods={p: int(community.holdPeriod(p).call()) for p in pilots},
        )

    def fits(self, action: Action, ts: int, handles: dict[str, int]) -> bool:
        """Whether `action` can run in a block at `ts` (check-in windows, hold times)."""
        a = action.args
        if action.kind == "check_in":
            opens, closes, _ = self.events[handles[str(a["event"])]]
            return opens <= ts <= closes
        if action.kind in ("release", "void"):
            hold = self.holds.get(handles[str(a["hold"])])
            if hold is None:  # voided or released already: let the chain say so
                return True
            return ts >= hold[0] if action.kind == "release" else ts < hold[0]
        return True


class BlockWriter:
    """Turns actions into signed requests, block by block."""

    def __init__(
        self,
        suite: Suite,
        actors: Actors,
        model: ChainModel,
        handles: dict[str, int],
        material: dict[str, int],
    ) -> None:
        self.suite = suite
        self.actors = actors
        self.model = model
        self.handles = handles
        self.material = material
        self._nonces: dict[str, int] = {}
        #: Transactions sent (each a block of requests).
        self.blocks = 0
        self._deadline = int(time.time()) + DAY

    def write(
        self,
        actions: Sequence[Action],
        last_ts: int,
        progress: Callable[[int, int], None],
        total: int,
    ) -> tuple[int, int, int]:
        """Write `actions` in blocks until one reverts. Returns how many actions were written
        (the rest is for the caller), how many were skipped, and the last block's time."""
        done = skipped = 0
        while done < len(actions):
            ts = max(actions[done].ts, last_ts + 1)
            requests: list[tuple[LocalAccount, Call]] = []
            end, skipped_here = done, 0
            while end < len(actions) and len(requests) < BLOCK_REQUESTS:
                action = actions[end]
                first = end == done
                if not first and (
                    action.ts // DAY != ts // DAY
                    or action.kind in STARTS_BLOCK
                    or not self.model.fits(action, ts, self.handles)
                ):
                    break
                made = self._requests(action, ts)
                if made is None:
                    skipped_here += 1
                else:
                    requests.extend(made)
                end += 1
            if requests and not self._send(requests, ts):
                return done, skipped, ts
            if requests:
                last_ts = ts
            skipped += skipped_here
            before, done = done, end
            if done // 50 != before // 50 or done == len(actions):
                progress(done, total)
        return done, skipped, last_ts

    def _send(self, requests: Sequence[tuple[LocalAccount, Call]], ts: int) -> bool:
        tx = self.suite.tx
        signed = []
        for signer, call in requests:
            nonce = self._nonces.get(signer.address)
            if nonce is None:
                nonce = int(tx.forwarder.functions.nonces(signer.address).call())  # type: ignore[union-attr]
            self._nonces[signer.address] = nonce + 1
            signed.append(
                tx.sign_request(signer, call, gas=REQUEST_GAS, deadline=self._deadline, nonce=nonce)
            )
        gas = BASE_GAS + len(signed) * (REQUEST_GAS + FORWARDING_GAS)
        self.suite.chain.w3.provider.make_request("evm_setNextBlockTimestamp", [ts])  # type: ignore[arg-type]
        try:
            tx.submit_relayed(signed, gas=gas)
        except LedgerError:
            return False
        self.blocks += 1
        return True

    def _requests(self, action: Action, ts: int) -> list[tuple[LocalAccount, Call]] | None:
        """The signed calls of `action` with their effect on the model; None when it is
        skipped (an award beyond the budget, a redemption the member cannot afford)."""
        s, m, a = self.suite, self.model, action.args
        pilot = action.pilot
        staff = self.actors.staff[pilot]
        evidence = action_evidence(action)
        if action.kind in ("intake", "transform", "transfer", "dispatch", "contribution"):
            maker = self.actors.makers[pilot][action.actor]
            return [(maker, self._material(action, maker, evidence))]
        if action.kind == "award":
            member = self.actors.members[pilot][action.actor]
            amount = int(a["amount"])
            if not self._award(pilot, member.address, amount):
                return None
            call = s.token.call_data("award", pilot, member.address, amount, int(a["reason"]))
            return [(staff, call)]
        if action.kind == "redeem":
            member = self.actors.members[pilot][action.actor]
            reward = self.actors.rewards[pilot][int(a["reward"])]
            key = (pilot, member.address)
            if m.stock[reward] == 0 or m.balances[key] < m.cost[reward]:
                return None
            m.stock[reward] -= 1
            m.balances[key] -= m.cost[reward]
            return [(member, s.catalogue.call_data("redeem", reward))]
        return self._community(action, ts, staff, evidence)

    def _award(self, pilot: int, member: str, amount: int) -> bool:
        m = self.model
        if amount > m.budgets[pilot]:
            return False
        m.budgets[pilot] -= amount
        key = (pilot, member)
        m.balances[key] = m.balances.get(key, 0) + amount
        return True

    def _new_lots(self, count: int, grams: Sequence[int]) -> list[int]:
        first = self.model.next_lot
        self.model.next_lot += count
        ids = list(range(first, first + count))
        self.model.lot_grams.update(zip(ids, grams, strict=True))
        return ids

    def _material(self, action: Action, maker: LocalAccount, evidence: bytes) -> Call:
        s, m, h, a = self.suite, self.model, self.handles, action.args
        materials = s.materials
        if action.kind == "intake":
            grams = int(a["grams"])
            (h[action.creates[0]],) = self._new_lots(1, [grams])
            code = self.material[str(a["code"])]
            source = int(a["source"])
            return materials.call_data("intake", action.pilot, code, source, grams, evidence)
        if action.kind == "transform":
            inputs = [(h[handle], int(g)) for handle, g in a["inputs"]]
            for lot, g in inputs:
                m.lot_grams[lot] -= g
            outputs = [(self.material[code], int(g)) for code, g in a["outputs"]]
            made = self._new_lots(len(outputs), [g for _, g in outputs])
            h.update(zip(action.creates, made, strict=True))
            return materials.call_data(
                "transform",
                [lot for lot, _ in inputs],
                [g for _, g in inputs],
                outputs,
                int(a["loss"]),
                evidence,
            )
        if action.kind == "transfer":
            lot, grams = h[str(a["lot"])], int(a["grams"])
            to = self.actors.makers[action.pilot][int(a["to"])].address
            if grams == m.lot_grams[lot]:
                h[action.creates[0]] = lot  # the whole lot changes hands under its id
            else:
                m.lot_grams[lot] -= grams
                (h[action.creates[0]],) = self._new_lots(1, [grams])
            return materials.call_data("transfer", lot, to, grams, evidence)
        if action.kind == "dispatch":
            lot, grams = h[str(a["lot"])], int(a["grams"])
            m.lot_grams[lot] -= grams
            return materials.call_data("dispatch", lot, grams, int(a["fate"]), evidence)
        return s.contributions.call_data(
            "recordContribution", action.pilot, int(a["kind"]), int(a["amount"]), evidence
        )

    def _community(
        self, action: Action, ts: int, staff: LocalAccount, evidence: bytes
    ) -> list[tuple[LocalAccount, Call]] | None:
        s, m, h, a = self.suite, self.model, self.handles, action.args
        community = s.community
        pilot = action.pilot
        if action.kind == "hold_period":
            m.hold_periods[pilot] = int(a["seconds"])
            return [(staff, community.call_data("setHoldPeriod", pilot, int(a["seconds"])))]
        if action.kind == "event":
            opens, closes, points = int(a["opens"]), int(a["closes"]), int(a["points"])
            event_id = m.next_event
            m.next_event += 1
            m.events[event_id] = (opens, closes, points)
            h[action.creates[0]] = event_id
            call = community.call_data(
                "createEvent",
                pilot,
                int(a["kind"]),
                opens,
                closes,
                points,
                staff.address,
                b"\0" * 32,
            )
            return [(staff, call)]
        if action.kind == "check_in":
            event_id = h[str(a["event"])]
            member = self.actors.members[pilot][action.actor]
            if not self._award(pilot, member.address, m.events[event_id][2]):
                return None
            m.attended.add((member.address, event_id))
            token = community.sign_check_in(staff, event_id, ts + 300)
            call = community.call_data("checkIn", event_id, token.not_after, token.r, token.vs)
            return [(member, call)]
        if action.kind == "credential":
            event_id = h[str(a["event"])]
            member = self.actors.members[pilot][action.actor]
            if (member.address, event_id) not in m.attended:
                return None
            call = community.call_data(
                "issueCredential",
                event_id,
                member.address,
                fixed_bytes(str(a["skill"]), 16),
                int(a["level"]),
            )
            return [(staff, call)]
        if action.kind == "hold":
            member = self.actors.members[pilot][action.actor]
            hold_id = m.next_hold
            m.next_hold += 1
            m.holds[hold_id] = (ts + m.hold_periods.get(pilot, 0), int(a["points"]), member.address)
            h[action.creates[0]] = hold_id
            call = community.call_data(
                "holdDropOff", pilot, member.address, int(a["points"]), b"\0" * 32
            )
            return [(staff, call)]
        if action.kind == "void":
            hold_id = h[str(a["hold"])]
            m.holds.pop(hold_id, None)
            call = community.call_data("voidHold", hold_id, fixed_bytes(str(a["reason"]), 32))
            return [(staff, call)]
        if action.kind == "release":
            hold_id = h[str(a["hold"])]
            _, points, member_address = m.holds[hold_id]
            if not self._award(pilot, member_address, points):
                return None
            del m.holds[hold_id]
            return [(staff, community.call_data("release", hold_id))]
        raise LedgerError(f"the demo scenario has an action of unknown kind {action.kind!r}")


def action_evidence(action: Action) -> bytes:
    """The evidence hash of a demo action (the same in both ways of seeding)."""
    return keccak(text=f"{action.pilot}:{action.ts}:{action.kind}:{action.creates}")
