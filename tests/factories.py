"""Factories: consistent flow records without a chain, for model tests and benchmarks."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

import pandas as pd

from ledger.circularity.records import FlowRecords

MATERIALS = pd.DataFrame(
    {
        "material_id": [1, 2, 3, 4],
        "code": ["20 01 38", "15 01 02", "P-CHAIR", "P-SHEET"],
        "kind": [1, 1, 2, 2],
    }
)


class RecordBuilder:
    """Builds records the way the chain would accept them (holders, amounts, mass balance)."""

    def __init__(self, pilot: int = 1) -> None:
        self.pilot = pilot
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.lots: dict[int, dict[str, Any]] = {}
        self.next_lot = 1

    def _new_lot(self, holder: str, material: int, grams: int, bp: int) -> int:
        lot = self.next_lot
        self.next_lot += 1
        self.lots[lot] = {"holder": holder, "material": material, "grams": grams, "bp": bp}
        return lot

    def intake(self, ts: int, maker: str, material: int, grams: int, source: int = 2) -> int:
        bp = 0 if source == 5 else 10_000
        lot = self._new_lot(maker, material, grams, bp)
        self.rows["intakes"].append(
            {
                "ts": ts,
                "pilot_id": self.pilot,
                "maker": maker,
                "lot_id": lot,
                "material_id": material,
                "source": source,
                "grams": grams,
                "recycled_bp": bp,
            }
        )
        return lot

    def transform(
        self, ts: int, inputs: list[tuple[int, int]], outputs: list[tuple[int, int]], loss: int
    ) -> list[int]:
        maker = self.lots[inputs[0][0]]["holder"]
        total = sum(g for _, g in inputs)
        assert sum(g for _, g in outputs) + loss == total
        bp = sum(g * self.lots[lot]["bp"] for lot, g in inputs) // total
        for lot, grams in inputs:
            assert self.lots[lot]["holder"] == maker and self.lots[lot]["grams"] >= grams
            self.lots[lot]["grams"] -= grams
        first = self.next_lot
        created = [self._new_lot(maker, m, g, bp) for m, g in outputs]
        self.rows["transforms"].append(
            {
                "ts": ts,
                "pilot_id": self.pilot,
                "maker": maker,
                "transform_id": first,
                "input_grams": total,
                "output_grams": total - loss,
                "loss": loss,
            }
        )
        for lot, grams in inputs:
            self.rows["inputs"].append(
                {
                    "ts": ts,
                    "pilot_id": self.pilot,
                    "maker": maker,
                    "transform_id": first,
                    "lot_id": lot,
                    "grams": grams,
                }
            )
        for lot, (material, grams) in zip(created, outputs, strict=True):
            self.rows["outputs"].append(
                {
                    "ts": ts,
                    "pilot_id": self.pilot,
                    "maker": maker,
                    "transform_id": first,
                    "lot_id": lot,
                    "material_id": material,
                    "grams": grams,
                    "recycled_bp": bp,
                }
            )
        return created

    def transfer(self, ts: int, lot: int, to: str, grams: int) -> int:
        state = self.lots[lot]
        assert state["grams"] >= grams > 0
        sender = state["holder"]
        if grams == state["grams"]:
            state["holder"] = to
            received = lot
        else:
            state["grams"] -= grams
            received = self._new_lot(to, state["material"], grams, state["bp"])
        self.rows["transfers"].append(
            {
                "ts": ts,
                "pilot_id": self.pilot,
                "sender": sender,
                "recipient": to,
                "lot_id": lot,
                "received_lot": received,
                "grams": grams,
            }
        )
        return received

    def dispatch(self, ts: int, lot: int, grams: int, fate: int) -> None:
        state = self.lots[lot]
        assert state["grams"] >= grams > 0
        state["grams"] -= grams
        self.rows["dispatches"].append(
            {
                "ts": ts,
                "pilot_id": self.pilot,
                "maker": state["holder"],
                "lot_id": lot,
                "grams": grams,
                "fate": fate,
            }
        )

    def award(self, ts: int, member: str, amount: int) -> None:
        self.rows["awards"].append(
            {"ts": ts, "pilot_id": self.pilot, "member": member, "amount": amount}
        )

    def redeem(self, ts: int, member: str, cost: int) -> None:
        self.rows["redemptions"].append(
            {"ts": ts, "pilot_id": self.pilot, "member": member, "cost": cost}
        )

    def records(self) -> FlowRecords:
        frames = {name: pd.DataFrame(rows) for name, rows in self.rows.items()}
        return FlowRecords.from_frames(materials=MATERIALS, **frames)


def random_records(
    seed: int, actions: int, *, pilot: int = 1, makers: int = 4, start: int = 1_700_000_000
) -> RecordBuilder:
    """A random but valid history of `actions` steps."""
    rng = random.Random(seed)
    builder = RecordBuilder(pilot)
    people = [f"0x{pilot:02x}{i:038x}" for i in range(makers)]
    ts = start
    for _ in range(actions):
        ts += rng.randint(60, 3_600)
        live = [lot for lot, s in builder.lots.items() if s["grams"] > 1]
        roll = rng.random()
        if roll < 0.35 or not live:
            builder.intake(
                ts,
                rng.choice(people),
                rng.choice([1, 2]),
                rng.randint(100, 50_000),
                rng.randint(1, 5),
            )
        elif roll < 0.55:
            lot = rng.choice(live)
            grams = builder.lots[lot]["grams"]
            used = rng.randint(2, grams)
            loss = rng.randint(0, used // 5)
            product = rng.choice([3, 4])
            cut = rng.randint(0, used - loss - 1)
            outputs = [(product, used - loss - cut)] + (
                [(builder.lots[lot]["material"], cut)] if cut else []
            )
            builder.transform(ts, [(lot, used)], outputs, loss)
        elif roll < 0.75:
            lot = rng.choice(live)
            holder = builder.lots[lot]["holder"]
            to = rng.choice([p for p in people if p != holder])
            builder.transfer(ts, lot, to, rng.randint(1, builder.lots[lot]["grams"]))
        elif roll < 0.95:
            lot = rng.choice(live)
            builder.dispatch(ts, lot, rng.randint(1, builder.lots[lot]["grams"]), rng.randint(1, 7))
        else:
            member = f"0x{rng.randint(1, 30):040x}"
            builder.award(ts, member, rng.randint(1, 100))
            if rng.random() < 0.3:
                builder.redeem(ts, member, rng.randint(1, 50))
    return builder
