"""Gas per ledger operation on anvil: one JSON line per operation (whole-transaction gas,
21,000 base included), with the goal beside it.

    python scripts/bench_gas.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.clients import IntakeSpec, Suite
from ledger.runtime import scratch_suite
from ledger.vocabulary import ContributionKind, EventKind, Fate, Role, Source

GOALS = {
    "intake": 90_000,
    "transfer_part": 95_000,
    "transform_2x2": 220_000,
    "dispatch": 65_000,
    "contribution": None,
    "award": 65_000,
    "award_first": None,
    "redeem": 75_000,
    "relayed_intake": None,
    "intake_batch100_per_record": 40_000,
    "check_in": 75_000,
    "check_in_first": None,
    "hold_drop_off": None,
    "release_hold": None,
    "challenge_post": None,
    "proposal_submit": None,
}


def report(op: str, gas: int) -> None:
    goal = GOALS.get(op)
    line: dict[str, object] = {"op": op, "gas": gas}
    if goal is not None:
        line["goal"] = goal
        line["met"] = gas <= goal
    print(json.dumps(line), flush=True)


def main() -> None:
    with scratch_suite() as suite:
        chain, manifest = suite.chain, suite.manifest
        admin, alice, bob, issuer, partner = (chain.accounts[i] for i in (1, 8, 9, 10, 11))
        for account, role in (
            (alice, Role.MAKER),
            (bob, Role.MAKER),
            (issuer, Role.ISSUER),
            (partner, Role.PARTNER),
        ):
            suite.registry.set_pilot_role(admin, 1, account.address, role)
        wood, joinery = manifest.materials["17 02 01"], manifest.materials["P-JOINERY"]
        evidence = bytes(range(32))

        a = suite.materials.intake(alice, 1, wood, Source.MUNICIPAL_COLLECTION, 50_000, evidence)
        report("intake", a.tx.gas_used)
        b = suite.materials.intake(alice, 1, wood, Source.VIRGIN_PURCHASE, 20_000, evidence)
        part = suite.materials.transfer(alice, a.lot_id, bob.address, 5_000, evidence)
        report("transfer_part", part.tx.gas_used)
        made = suite.materials.transform(
            alice,
            [(a.lot_id, 30_000), (b.lot_id, 10_000)],
            [(joinery, 32_000), (wood, 6_000)],
            2_000,
            evidence,
        )
        report("transform_2x2", made.tx.gas_used)
        report(
            "dispatch",
            suite.materials.dispatch(
                alice, made.output_lots[0], 32_000, Fate.IN_USE, evidence
            ).gas_used,
        )
        report(
            "contribution",
            suite.contributions.record(
                alice, 1, ContributionKind.WORKSHOP, 12, evidence
            ).tx.gas_used,
        )
        member = Account.create()
        # The member pays its own gas here so the figure is the plain redeem, not a relayed one.
        chain.w3.eth.send_transaction(
            {"from": chain.operator.address, "to": member.address, "value": 10**18}
        )
        suite.token.set_budget(admin, 1, 1_000_000)
        report("award_first", suite.token.award(issuer, 1, member.address, 300, 1).tx.gas_used)
        report("award", suite.token.award(issuer, 1, member.address, 300, 1).tx.gas_used)
        reward = suite.catalogue.list_reward(
            admin, 1, partner.address, 100, 50, int(time.time()) + 86_400
        )
        suite.catalogue.redeem(member, reward.reward_id)  # warm the member's first redemption
        report("redeem", suite.catalogue.redeem(member, reward.reward_id).tx.gas_used)
        relayed = suite.materials.intake(
            alice, 1, wood, Source.DONATION, 1_000, evidence, relay=True
        )
        report("relayed_intake", relayed.tx.gas_used)
        records = [
            IntakeSpec(1, wood, Source.MUNICIPAL_COLLECTION, 1_000 + i, evidence)
            for i in range(100)
        ]
        batch = suite.materials.intake_batch(alice, records)
        report("intake_batch100_per_record", batch.tx.gas_used // 100)
        deadline = int(time.time()) + 30 * 86_400
        posted = suite.challenges.post(bob, 1, evidence, wood, 1_000_000, deadline)
        report("challenge_post", posted.gas_used)
        challenge_id = int(posted.named("ChallengePosted")[0].args["challengeId"])
        report("proposal_submit", suite.challenges.submit(alice, challenge_id, evidence).gas_used)
        community(suite, admin, issuer)


def community(suite: Suite, admin: LocalAccount, issuer: LocalAccount) -> None:
    """Check-in as members meet it: `check_in_first` is a member's first event (new attendance
    word, first points); `check_in` a returning member who holds points already."""
    chain = suite.chain
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    first = suite.community.create_event(
        issuer, 1, EventKind.REPAIR_CAFE, now - 60, now + 7_200, 20, issuer.address
    )
    second = suite.community.create_event(
        issuer, 1, EventKind.WORKSHOP, now - 60, now + 7_200, 30, issuer.address
    )
    member = Account.create()
    chain.w3.eth.send_transaction(
        {"from": chain.operator.address, "to": member.address, "value": 10**18}
    )
    for op, event in (("check_in_first", first), ("check_in", second)):
        token = suite.community.sign_check_in(issuer, event.event_id, now + 600)
        report(op, suite.community.check_in(member, token).tx.gas_used)
    suite.community.set_hold_period(admin, 1, 0)
    held = suite.community.hold_drop_off(issuer, 1, member.address, 40, bytes(32))
    report("hold_drop_off", held.tx.gas_used)
    report("release_hold", suite.community.release(issuer, held.hold_id).gas_used)


if __name__ == "__main__":
    main()
