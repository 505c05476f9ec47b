"""Matchmaking: one listing's ranked matches among a pilot's 10,000 open listings.

Prints one JSON line: {"listings": N, "p95_ms": x, "p50_ms": y, "goal_p95_ms": 50}. The listings
are synthetic (seeded): Leuven's streams and processes, sites within 30 km of the city centre.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

from ledger.exchange.ranking import ListingView, compatibility_table, rank
from pilots.model import load_pilots

GOAL_P95_MS = 50.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listings", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    pilot = next(p for p in load_pilots() if p.code == "LEU")
    table = compatibility_table((p.inputs, p.product) for p in pilot.processes)
    codes = [s.ewc for s in pilot.streams] + [p.product for p in pilot.processes]
    rng = random.Random(14)
    now = 1_800_000_000
    listings = [
        ListingView(
            id=i,
            pilot=pilot.id,
            account=f"0x{rng.randrange(400):040x}",
            side=rng.choice(("available", "wanted")),
            material=rng.choice(codes),
            grams=rng.randrange(1_000, 500_000),
            lat=pilot.coordinates.lat + rng.uniform(-0.27, 0.27),
            lon=pilot.coordinates.lon + rng.uniform(-0.42, 0.42),
            created_at=now - rng.randrange(90 * 86_400),
            expires_at=now + rng.randrange(1, 90 * 86_400),
            reach_km=rng.choice((None, 10.0, 25.0, 60.0)),
        )
        for i in range(1, args.listings + 1)
    ]
    times = []
    for subject in rng.sample(listings, args.queries):
        start = time.perf_counter()
        rank(subject, listings, now=now, compatible=table)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p95 = times[int(0.95 * (len(times) - 1))]
    print(
        json.dumps(
            {
                "listings": len(listings),
                "p95_ms": round(p95, 3),
                "p50_ms": round(statistics.median(times), 3),
                "goal_p95_ms": GOAL_P95_MS,
            }
        )
    )


if __name__ == "__main__":
    main()
