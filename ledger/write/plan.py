"""The write planner: records in, contract calls out, or one rejection with every reason.

A pure function of the records and of a :class:`LedgerView` (the lots, materials, roles,
balances and rewards the records refer to, read beforehand by :mod:`ledger.write.shell`). Every
writer goes through it: the gateway's routes, relayed requests, redemptions, EPCIS import and
the command line. What it checks is what the contracts would refuse, said per field before
anything is signed: known material codes, lots the actor holds in the pilot with the grams left
(drawing twice from one lot within a batch included), mass balance of a transformation,
hand-overs to makers only, a reward of the pilot that the member can afford.

Records may refer to lots that earlier records of the same plan create, by a handle (EPCIS
documents do). Such a plan starts with ``expectNextLot(view.next_lot)``, so that it runs only
while the lot ids it counted on are still the next ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from ledger.errors import LedgerError
from ledger.transact import Call
from ledger.vocabulary import ContributionKind, Fate, Role, Source

__all__ = [
    "MAX_GRAMS",
    "UNIT_GRAMS",
    "Award",
    "Contribution",
    "Dispatch",
    "Encoders",
    "Fulfilment",
    "Intake",
    "LedgerView",
    "LotRef",
    "LotView",
    "Part",
    "Plan",
    "Record",
    "Redemption",
    "RewardView",
    "Transfer",
    "Transform",
    "WriteRejected",
    "plan",
    "plan_parts",
    "to_grams",
]

#: Grams per unit. The gateway's units and EPCIS's UN/CEFACT codes (GRM, KGM, TNE).
UNIT_GRAMS: Mapping[str, Decimal] = {
    "g": Decimal(1),
    "kg": Decimal(1000),
    "t": Decimal(1_000_000),
    "GRM": Decimal(1),
    "KGM": Decimal(1000),
    "TNE": Decimal(1_000_000),
}
#: The largest lot the ledger can hold (uint48 grams).
MAX_GRAMS = 2**48 - 1
ZERO = b"\0" * 32


class WriteRejected(LedgerError):
    """A write the ledger would refuse: every (where, why), and the HTTP status it answers."""

    def __init__(self, reasons: Sequence[tuple[str, str]], status: int = 422) -> None:
        super().__init__("; ".join(f"{where}: {why}" for where, why in reasons))
        self.reasons = list(reasons)
        self.status = status


def to_grams(quantity: Decimal | int | float | str, unit: str) -> int:
    """A positive quantity in `unit` as whole grams; ValueError says what is wrong.

    >>> to_grams(Decimal("2.5"), "kg"), to_grams(3, "KGM"), to_grams("0.25", "t")
    (2500, 3000, 250000)
    """
    if unit not in UNIT_GRAMS:
        raise ValueError(f"unknown unit {unit!r}: use g, kg or t (GRM, KGM or TNE in EPCIS)")
    try:
        grams = Decimal(str(quantity)) * UNIT_GRAMS[unit]
    except InvalidOperation:
        raise ValueError(f"{quantity!r} is not a number") from None
    if not grams.is_finite() or grams <= 0:
        raise ValueError(f"{quantity} {unit} must be more than zero")
    if grams != grams.to_integral_value():
        raise ValueError(f"{quantity} {unit} is not a whole number of grams")
    if grams > MAX_GRAMS:
        raise ValueError(f"{quantity} {unit} exceeds the ledger's largest lot ({MAX_GRAMS} g)")
    return int(grams)


# ---- records --------------------------------------------------------------------------------------

#: A lot on chain (its id) or one an earlier record of the plan creates (its handle).
LotRef = int | str


@dataclass(frozen=True)
class Intake:
    material: str
    source: Source
    grams: int
    evidence: bytes = ZERO
    #: handle of the lot this intake creates, for later records of the plan
    creates: str | None = None


@dataclass(frozen=True)
class Transform:
    inputs: tuple[tuple[LotRef, int], ...]
    outputs: tuple[tuple[str, int], ...]
    loss: int = 0
    evidence: bytes = ZERO
    #: a handle per output lot (or none)
    creates: tuple[str, ...] = ()


@dataclass(frozen=True)
class Transfer:
    lot: LotRef
    to: str
    grams: int
    evidence: bytes = ZERO
    #: handle of the lot the recipient gets (the same lot when it is handed over whole)
    creates: str | None = None


@dataclass(frozen=True)
class Dispatch:
    lot: LotRef
    grams: int
    fate: Fate
    evidence: bytes = ZERO


@dataclass(frozen=True)
class Contribution:
    kind: ContributionKind
    amount: int
    evidence: bytes = ZERO


@dataclass(frozen=True)
class Redemption:
    reward_id: int


@dataclass(frozen=True)
class Fulfilment:
    """A reward partner hands over a redemption (the gateway checks its claim code first)."""

    redemption_id: int


@dataclass(frozen=True)
class Award:
    member: str
    amount: int
    reason: int


Record = Intake | Transform | Transfer | Dispatch | Contribution | Redemption | Fulfilment | Award

# ---- what the planner reads ---------------------------------------------------------------------


@dataclass(frozen=True)
class LotView:
    holder: str
    grams: int
    pilot: int


@dataclass(frozen=True)
class RewardView:
    pilot: int
    cost: int
    stock: int
    expiry: int


@dataclass(frozen=True)
class Encoders:
    """Calldata of each contract: ``encode(function, *args) -> Call`` (pure ABI encoding)."""

    materials: Callable[..., Call]
    contributions: Callable[..., Call]
    token: Callable[..., Call]
    catalogue: Callable[..., Call]


@dataclass(frozen=True)
class LedgerView:
    """The chain state a plan depends on, read before planning."""

    encoders: Encoders
    materials: Mapping[str, int]
    #: lots the records name (None: no such lot)
    lots: Mapping[int, LotView | None] = field(default_factory=dict)
    #: roles of (pilot, account) the records name
    roles: Mapping[tuple[int, str], Role] = field(default_factory=dict)
    balances: Mapping[str, int] = field(default_factory=dict)
    rewards: Mapping[int, RewardView | None] = field(default_factory=dict)
    budgets: Mapping[int, int] = field(default_factory=dict)
    next_lot: int = 0
    now: int = 0


@dataclass
class Plan:
    """The calls of a plan, in order, each with the record it comes from."""

    calls: list[tuple[str, Call]]
    #: the lot id each handle becomes
    lots: dict[str, int]


# ---- the planner --------------------------------------------------------------------------------


def lot_ids(records: Sequence[Record]) -> set[int]:
    """Lots on chain that `records` name: what the view must hold."""
    ids: set[int] = set()
    for r in records:
        if isinstance(r, Transform):
            ids |= {lot for lot, _ in r.inputs if isinstance(lot, int)}
        elif isinstance(r, Transfer | Dispatch) and isinstance(r.lot, int):
            ids.add(r.lot)
    return ids


def plan(
    actor: str,
    pilot: int,
    records: Sequence[Record],
    view: LedgerView,
    *,
    where: Callable[[int], str] = lambda i: f"records.{i}",
) -> Plan:
    """The contract calls that record `records` as `actor` in `pilot`, or WriteRejected.

    `where(i)` names record i in the reasons (``records.3``, ``event 3 (ObjectEvent)``).
    """
    ((_, made),) = plan_parts(pilot, [Part(actor, records, where)], view)
    return made


@dataclass(frozen=True)
class Part:
    """Records of one actor within a plan of several actors."""

    actor: str
    records: Sequence[Record]
    where: Callable[[int], str] = lambda i: f"records.{i}"


def plan_parts(pilot: int, parts: Sequence[Part], view: LedgerView) -> list[tuple[str, Plan]]:
    """One plan of several actors' records, in order: what one actor hands over, the next may
    use (EPCIS documents of several makers). The calls of each part, or one WriteRejected with
    the reasons of every part; the plan starts with ``expectNextLot`` when records use handles."""
    planner = _Planner(pilot, view)
    made = [(part.actor, planner.part(part, single=len(parts) == 1)) for part in parts]
    if planner.reasons:
        raise WriteRejected(planner.reasons)
    if any(_creates(r) for part in parts for r in part.records):
        guard = view.encoders.materials("expectNextLot", view.next_lot)
        made[0][1].calls.insert(0, ("records", guard))
    for _, part_plan in made:
        part_plan.lots = dict(planner.handles)
    return made


@dataclass
class _Planner:
    pilot: int
    view: LedgerView
    actor: str = ""
    reasons: list[tuple[str, str]] = field(default_factory=list)
    #: grams left of each lot the plan knows (read from the chain, or created by the plan)
    left: dict[int, int] = field(default_factory=dict)
    #: who holds each lot the plan knows, as the plan goes
    owner: dict[int, str] = field(default_factory=dict)
    #: lots an earlier record of the plan handed to another maker
    moved: set[int] = field(default_factory=set)
    handles: dict[str, int] = field(default_factory=dict)
    counter: int = -1
    #: points each actor redeems, and points awarded, so far in the plan
    spent: dict[str, int] = field(default_factory=dict)
    awarded: int = 0

    def fail(self, where: str, why: str) -> None:
        self.reasons.append((where, why))

    def part(self, part: Part, *, single: bool) -> Plan:
        if self.counter < 0:
            self.counter = self.view.next_lot
        self.actor = part.actor
        calls: list[tuple[str, Call]] = []
        intakes: list[tuple[str, Intake]] = []
        # Plain intakes travel as one intakeBatch call when nothing refers to their lots.
        batch = single and not any(_creates(r) for r in part.records)
        for i, record in enumerate(part.records):
            at = part.where(i)
            if isinstance(record, Intake) and batch:
                if self.material(record.material, f"{at}.material"):
                    intakes.append((at, record))
                continue
            call = self.record(at, record)
            if call is not None:
                calls.append((at, call))
        if intakes:
            calls.insert(0, ("records", self.intake_batch(intakes)))
        return Plan(calls, {})

    # ---- checks shared by the records ----

    def material(self, code: str, at: str) -> int:
        found = self.view.materials.get(code.strip())
        if found is None:
            known = ", ".join(sorted(self.view.materials))
            self.fail(at, f"unknown material code {code!r}: use one of {known}")
            return 0
        return found

    def lot(self, ref: LotRef, at: str) -> int | None:
        """The id of a lot the actor holds in the pilot, or None (with its reason)."""
        if isinstance(ref, str):
            if ref not in self.handles:
                self.fail(
                    at, f"lot {ref!r} is neither a lot of an earlier record nor on the ledger"
                )
                return None
            ref = self.handles[ref]
        if ref not in self.owner:
            found = self.view.lots.get(ref)
            if found is None:
                self.fail(at, f"lot {ref} does not exist")
                return None
            if found.pilot != self.pilot:
                self.fail(at, f"lot {ref} belongs to pilot {found.pilot}, not {self.pilot}")
                return None
            self.owner[ref], self.left[ref] = found.holder, found.grams
        holder = self.owner[ref]
        if holder != self.actor:
            if ref in self.moved:
                self.fail(at, f"lot {ref} was handed to another maker by an earlier record")
            else:
                self.fail(at, f"lot {ref} is held by {holder}, not by {self.actor}")
            return None
        return ref if self.left[ref] >= 0 else None  # overdrawn: reported once

    def draw(self, ref: LotRef, grams: int, at: str) -> int | None:
        lot = self.lot(ref, at)
        if lot is None:
            return None
        if grams > self.left[lot]:
            self.fail(at, f"lot {lot} has {self.left[lot]} g left, {grams} g were asked for")
            self.left[lot] = -1
            return None
        self.left[lot] -= grams
        return lot

    def create(self, handle: str | None, grams: int, at: str) -> int:
        lot = self.counter
        self.counter += 1
        self.left[lot] = grams
        self.owner[lot] = self.actor
        if handle is not None:
            if handle in self.handles:
                self.fail(at, f"lot {handle!r} is created twice")
            self.handles[handle] = lot
        return lot

    # ---- one record ----

    def intake_batch(self, intakes: Sequence[tuple[str, Intake]]) -> Call:
        rows = [
            (
                self.pilot,
                self.view.materials[r.material.strip()],
                int(r.source),
                r.grams,
                r.evidence,
            )
            for _, r in intakes
        ]
        return self.view.encoders.materials("intakeBatch", rows)

    def record(self, at: str, r: Record) -> Call | None:
        enc = self.view.encoders
        if isinstance(r, Intake):
            material = self.material(r.material, f"{at}.material")
            self.create(r.creates, r.grams, at)
            return (
                enc.materials("intake", self.pilot, material, int(r.source), r.grams, r.evidence)
                if material
                else None
            )
        if isinstance(r, Transform):
            return self.transform(at, r)
        if isinstance(r, Transfer):
            return self.transfer(at, r)
        if isinstance(r, Dispatch):
            lot = self.draw(r.lot, r.grams, f"{at}.lot_id")
            if lot is None:
                return None
            return enc.materials("dispatch", lot, r.grams, int(r.fate), r.evidence)
        if isinstance(r, Contribution):
            return enc.contributions(
                "recordContribution", self.pilot, int(r.kind), r.amount, r.evidence
            )
        if isinstance(r, Redemption):
            return self.redemption(at, r)
        if isinstance(r, Fulfilment):
            return enc.catalogue("fulfil", r.redemption_id)
        return self.award(at, r)

    def transform(self, at: str, r: Transform) -> Call | None:
        drawn: list[tuple[int, int]] = []
        ok = True
        for j, (ref, grams) in enumerate(r.inputs):
            lot = self.draw(ref, grams, f"{at}.inputs.{j}.lot_id")
            ok = ok and lot is not None
            if lot is not None:
                drawn.append((lot, grams))
        made = [
            (self.material(code, f"{at}.outputs.{j}.material"), grams)
            for j, (code, grams) in enumerate(r.outputs)
        ]
        consumed = sum(g for _, g in r.inputs)
        produced = sum(g for _, g in r.outputs)
        if produced + r.loss != consumed:
            self.fail(
                at,
                f"mass balance: outputs {produced} g + loss {r.loss} g must equal inputs "
                f"{consumed} g (differs by {consumed - produced - r.loss} g)",
            )
            ok = False
        if r.creates and len(r.creates) != len(r.outputs):
            self.fail(at, "give a handle for every output lot or for none")
            ok = False
        for j, (_, grams) in enumerate(made):
            self.create(r.creates[j] if r.creates else None, grams, at)
        if not ok or not all(m for m, _ in made):
            return None
        return self.view.encoders.materials(
            "transform",
            [lot for lot, _ in drawn],
            [g for _, g in drawn],
            made,
            r.loss,
            r.evidence,
        )

    def transfer(self, at: str, r: Transfer) -> Call | None:
        if r.to == self.actor:
            self.fail(f"{at}.to", "a lot cannot be handed to its own holder")
            return None
        roles = self.view.roles.get((self.pilot, r.to), Role(0))
        if not roles & Role.MAKER:
            self.fail(f"{at}.to", f"{r.to} is not a maker of pilot {self.pilot}")
            return None
        if roles & Role.SUSPENDED:
            self.fail(f"{at}.to", f"{r.to} is suspended in pilot {self.pilot}")
            return None
        lot = self.lot(r.lot, f"{at}.lot_id")
        if lot is None:
            return None
        whole = r.grams == self.left[lot]
        if self.draw(lot, r.grams, f"{at}.lot_id") is None:
            return None
        if whole:  # the lot itself moves: it keeps its id and what is left of it
            self.left[lot] = r.grams
            if r.creates is not None:
                self.handles[r.creates] = lot
            received = lot
        else:
            received = self.create(r.creates, r.grams, at)
        # The recipient holds it now: only its own later records may draw from it.
        self.owner[received] = r.to
        self.moved.add(received)
        return self.view.encoders.materials("transfer", lot, r.to, r.grams, r.evidence)

    def redemption(self, at: str, r: Redemption) -> Call | None:
        reward = self.view.rewards.get(r.reward_id)
        if reward is None or reward.pilot != self.pilot:
            self.fail(
                f"{at}.reward_id", f"no reward {r.reward_id} in pilot {self.pilot}'s catalogue"
            )
            return None
        if reward.stock == 0:
            self.fail(f"{at}.reward_id", f"reward {r.reward_id} is out of stock")
            return None
        if reward.expiry and self.view.now and reward.expiry < self.view.now:
            self.fail(f"{at}.reward_id", f"reward {r.reward_id} has expired")
            return None
        balance = self.view.balances.get(self.actor, 0) - self.spent.get(self.actor, 0)
        if balance < reward.cost:
            self.fail(
                f"{at}.reward_id",
                f"the reward costs {reward.cost} points; the balance is {balance}",
            )
            return None
        self.spent[self.actor] = self.spent.get(self.actor, 0) + reward.cost
        return self.view.encoders.catalogue("redeem", r.reward_id)

    def award(self, at: str, r: Award) -> Call | None:
        if r.amount <= 0:
            self.fail(f"{at}.amount", "an award is a positive number of points")
            return None
        budget = self.view.budgets.get(self.pilot)
        if budget is not None and r.amount > budget - self.awarded:
            left = budget - self.awarded
            self.fail(f"{at}.amount", f"the pilot's award budget has {left} left")
            return None
        self.awarded += r.amount
        return self.view.encoders.token("award", self.pilot, r.member, r.amount, r.reason)


def _creates(record: Record) -> bool:
    if isinstance(record, Intake | Transfer):
        return record.creates is not None or isinstance(getattr(record, "lot", 0), str)
    if isinstance(record, Transform):
        return bool(record.creates) or any(isinstance(lot, str) for lot, _ in record.inputs)
    if isinstance(record, Dispatch):
        return isinstance(record.lot, str)
    return False
