"""A seeded, deterministic demo scenario: about a year of plausible activity per pilot.

``plan_pilot`` is pure: from a pilot's configuration, a seed and a scale it returns the actions
in time order, referring to lots by plan-local handles. ``pilots.seed`` executes a plan on chain
through the real clients.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.vocabulary import ContributionKind, EventKind, Fate, Source
from pilots.model import Pilot

__all__ = ["Action", "plan_community", "plan_declarations", "plan_pilot"]

DAY = 86_400
SOURCES = {s.name.lower(): s for s in Source}
FATES = {f.name.lower(): f for f in Fate}


@dataclass(frozen=True)
class Action:
    """One ledger action of the plan. Lots are plan-local handles ("h12"), not chain ids."""

    ts: int
    pilot: int
    kind: str  # intake, transform, transfer, dispatch, contribution, award, redeem
    actor: int  # maker index, or member index for award/redeem
    args: dict[str, Any] = field(default_factory=dict)
    creates: tuple[str, ...] = ()


def _weighted(rng: random.Random, weights: Mapping[str, float]) -> str:
    names = sorted(weights)
    return rng.choices(names, [weights[n] for n in names])[0]


def plan_pilot(
    pilot: Pilot, *, seed: int, start_ts: int, months: int = 12, scale: float = 1.0
) -> list[Action]:
    """The pilot's actions over `months` months from `start_ts`, identical for the same seed."""
    rng = random.Random(f"{seed}:{pilot.code}")
    makers = pilot.scenario.makers
    lots: dict[str, dict[str, Any]] = {}  # handle -> {maker, ewc/product, grams}
    actions: list[Action] = []
    counter = 0

    def handle() -> str:
        nonlocal counter
        counter += 1
        return f"{pilot.code}-{counter}"

    month_seconds = 30 * DAY
    stream_weights = {s.ewc: s.monthly_kg for s in pilot.streams}
    streams = {s.ewc: s for s in pilot.streams}
    for month in range(months):
        base = start_ts + month * month_seconds
        times = sorted(base + rng.randrange(month_seconds - DAY) for _ in range(4096))
        clock = iter(times)
        count = max(1, round(pilot.scenario.intakes_per_month * scale * rng.uniform(0.7, 1.3)))
        for _ in range(count):
            stream = streams[_weighted(rng, stream_weights)]
            source = _weighted(rng, {str(k): v for k, v in stream.sources.items()})
            if rng.random() < pilot.scenario.virgin_share:
                source = "virgin_purchase"
            grams = int(rng.uniform(*stream.lot_kg) * 1000)
            maker = rng.randrange(makers)
            h = handle()
            lots[h] = {"maker": maker, "code": stream.ewc, "grams": grams}
            actions.append(
                Action(
                    next(clock),
                    pilot.id,
                    "intake",
                    maker,
                    {"code": stream.ewc, "source": int(SOURCES[source]), "grams": grams},
                    (h,),
                )
            )
            if source == "municipal_collection" and rng.random() < 0.5:
                actions.append(
                    Action(
                        next(clock),
                        pilot.id,
                        "award",
                        rng.randrange(pilot.scenario.members),
                        {
                            "amount": max(1, pilot.earning.drop_off_per_kg * grams // 1000),
                            "reason": 1,
                        },
                    )
                )
        # Hand-overs between makers.
        for h in sorted(lots):
            state = lots[h]
            if int(state["grams"]) > 1_000 and rng.random() < pilot.scenario.exchange_share / 2:
                to = (int(state["maker"]) + 1 + rng.randrange(makers - 1)) % makers
                part = int(state["grams"]) // 2
                new = handle()
                state["grams"] = int(state["grams"]) - part
                lots[new] = {"maker": to, "code": state["code"], "grams": part}
                actions.append(
                    Action(
                        next(clock),
                        pilot.id,
                        "transfer",
                        int(state["maker"]),
                        {"lot": h, "to": to, "grams": part},
                        (new,),
                    )
                )
        # Transformations: each process takes a maker's lots of its inputs.
        for process in pilot.processes:
            for maker in range(makers):
                mine = [
                    h
                    for h, s in sorted(lots.items())
                    if s["maker"] == maker
                    and s["code"] in process.inputs
                    and int(s["grams"]) >= 1_000
                ]
                if not mine or rng.random() < 0.4:
                    continue
                taken = mine[: rng.randint(1, min(2, len(mine)))]
                inputs = [(h, int(lots[h]["grams"])) for h in taken]
                total = sum(g for _, g in inputs)
                product_grams = int(total * process.product_yield)
                residue_grams = int(total * process.residue_share)
                loss = total - product_grams - residue_grams
                outputs = [(process.product, product_grams)] + (
                    [(process.residue, residue_grams)] if residue_grams and process.residue else []
                )
                created = tuple(handle() for _ in outputs)
                for h, _ in inputs:
                    lots[h]["grams"] = 0
                for h, (code, grams) in zip(created, outputs, strict=True):
                    lots[h] = {
                        "maker": maker,
                        "code": code,
                        "grams": grams,
                        "fates": process.product_fates
                        if code == process.product
                        else process.residue_fates,
                    }
                actions.append(
                    Action(
                        next(clock),
                        pilot.id,
                        "transform",
                        maker,
                        {"inputs": inputs, "outputs": outputs, "loss": loss},
                        created,
                    )
                )
        # Dispatch of products and residues (some stay in stock).
        for h, state in sorted(lots.items()):
            fates = state.get("fates")
            if fates and int(state["grams"]) > 0 and rng.random() < 0.8:
                fate = _weighted(rng, fates)
                actions.append(
                    Action(
                        next(clock),
                        pilot.id,
                        "dispatch",
                        int(state["maker"]),
                        {"lot": h, "grams": int(state["grams"]), "fate": int(FATES[fate])},
                    )
                )
                state["grams"] = 0
        # Contributions and engagement.
        for _ in range(rng.randint(1, 3)):
            kind = rng.choice(list(ContributionKind))
            amount = (
                rng.randint(5, 40) if kind is ContributionKind.WORKSHOP else rng.randint(30, 480)
            )
            actions.append(
                Action(
                    next(clock),
                    pilot.id,
                    "contribution",
                    rng.randrange(makers),
                    {"kind": int(kind), "amount": amount},
                )
            )
            points = (
                pilot.earning.workshop
                if kind is ContributionKind.WORKSHOP
                else pilot.earning.repair_cafe
            )
            for _ in range(rng.randint(2, 6)):
                actions.append(
                    Action(
                        next(clock),
                        pilot.id,
                        "award",
                        rng.randrange(pilot.scenario.members),
                        {"amount": points, "reason": 2 + int(kind)},
                    )
                )
        for _ in range(rng.randint(0, 3)):
            actions.append(
                Action(
                    next(clock),
                    pilot.id,
                    "redeem",
                    rng.randrange(pilot.scenario.members),
                    {"reward": rng.randrange(len(pilot.rewards))},
                )
            )
        lots = {h: s for h, s in lots.items() if int(s["grams"]) > 0}
    actions += plan_community(pilot, seed=seed, start_ts=start_ts, months=months, scale=scale)
    actions.sort(key=lambda a: a.ts)
    return actions


#: Drop-off points are held this long in the demo, so that staff can void a doubtful one.
HOLD_SECONDS = 3 * DAY
SKILLS = ("WELDING", "SEWING", "WOODWORK", "3D-PRINTING", "REPAIR")
VOID_REASONS = ("DUPLICATE_TICKET", "WEIGHT_MISMATCH", "NOT_ELIGIBLE")


def plan_community(
    pilot: Pilot, *, seed: int, start_ts: int, months: int = 12, scale: float = 1.0
) -> list[Action]:
    """Events with check-ins, trainings with credentials, and held drop-off points (a few of
    them voided by staff) of the pilot; its own random stream, so the material plan is unchanged."""
    rng = random.Random(f"{seed}:{pilot.code}:community")
    members = pilot.scenario.members
    month_seconds = 30 * DAY
    actions = [Action(start_ts, pilot.id, "hold_period", 0, {"seconds": HOLD_SECONDS})]
    kinds = [EventKind.WORKSHOP, EventKind.REPAIR_CAFE, EventKind.TRAINING, EventKind.MAKER_FAIRE]
    points = {
        EventKind.WORKSHOP: pilot.earning.workshop,
        EventKind.REPAIR_CAFE: pilot.earning.repair_cafe,
        EventKind.TRAINING: pilot.earning.workshop,
        EventKind.MAKER_FAIRE: pilot.earning.volunteering_hour,
    }
    for month in range(months):
        base = start_ts + month * month_seconds + DAY
        for n in range(rng.randint(1, 2)):
            kind = kinds[(month * 2 + n) % len(kinds)]
            opens = base + rng.randrange(month_seconds - 5 * DAY)
            closes = opens + 3 * 3600
            event = f"{pilot.code}-event-{month}-{n}"
            actions.append(
                Action(
                    opens - 3600,
                    pilot.id,
                    "event",
                    0,
                    {
                        "kind": int(kind),
                        "opens": opens,
                        "closes": closes,
                        "points": max(1, points[kind]),
                    },
                    (event,),
                )
            )
            size = max(2, round(rng.randint(4, 14) * max(scale, 0.3)))
            attendees = rng.sample(range(members), min(members, size))
            for member in attendees:
                at = opens + rng.randrange(60, 2 * 3600)
                actions.append(Action(at, pilot.id, "check_in", member, {"event": event}))
            if kind is EventKind.TRAINING:
                skill = SKILLS[month % len(SKILLS)]
                for member in attendees[: max(1, len(attendees) // 2)]:
                    actions.append(
                        Action(
                            closes + 600,
                            pilot.id,
                            "credential",
                            member,
                            {"event": event, "skill": skill, "level": rng.randint(1, 3)},
                        )
                    )
        for n in range(2):
            at = base + rng.randrange(month_seconds - 5 * DAY)
            hold = f"{pilot.code}-hold-{month}-{n}"
            member = rng.randrange(members)
            grams = rng.randint(5, 60) * 1000
            pts = max(1, pilot.earning.drop_off_per_kg * grams // 1000)
            actions.append(Action(at, pilot.id, "hold", member, {"points": pts}, (hold,)))
            if n == 0 and month % 3 == 1:
                actions.append(
                    Action(
                        at + DAY,
                        pilot.id,
                        "void",
                        0,
                        {"hold": hold, "reason": rng.choice(VOID_REASONS)},
                    )
                )
            else:
                actions.append(
                    Action(at + HOLD_SECONDS + 3600, pilot.id, "release", 0, {"hold": hold})
                )
    return actions


def plan_declarations(pilot: Pilot, *, seed: int) -> list[tuple[int, tuple[str, ...]]]:
    """(member index, declared target groups) of the members who consent to declare (about
    four in ten); off chain."""
    rng = random.Random(f"{seed}:{pilot.code}:declarations")
    groups = pilot.impact.target_groups
    out = []
    for member in range(pilot.scenario.members):
        if rng.random() < 0.4:
            chosen = tuple(g for g in groups if rng.random() < 0.5) or (rng.choice(groups),)
            out.append((member, chosen))
    return out
