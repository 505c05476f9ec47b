"""A short story per role on the in-process chain, and the batch paths on anvil."""

from __future__ import annotations

import time

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger import contract_errors as ce
from ledger.clients import IntakeSpec, Suite
from ledger.deploy import AWARD_CAP_YEARS
from ledger.vocabulary import ContributionKind, Fate, Role, Source
from pilots.model import Pilot

LEUVEN = 1


def _admin(suite: Suite) -> LocalAccount:
    return suite.chain.accounts[LEUVEN]


def _maker(suite: Suite, index: int = 8) -> LocalAccount:
    maker = suite.chain.accounts[index]
    suite.registry.set_pilot_role(_admin(suite), LEUVEN, maker.address, Role.MAKER)
    return maker


def test_maker_story(memory_suite: Suite) -> None:
    suite = memory_suite
    wood, joinery = suite.manifest.materials["17 02 01"], suite.manifest.materials["P-JOINERY"]
    alice, bob = _maker(suite, 8), _maker(suite, 9)

    taken = suite.materials.intake(
        alice, LEUVEN, wood, Source.MUNICIPAL_COLLECTION, 12_000, b"\x11" * 32
    )
    virgin = suite.materials.intake(alice, LEUVEN, wood, Source.VIRGIN_PURCHASE, 4_000)
    assert (taken.recycled_bp, virgin.recycled_bp) == (10_000, 0)

    made = suite.materials.transform(
        alice,
        [(taken.lot_id, 12_000), (virgin.lot_id, 4_000)],
        [(joinery, 11_000), (wood, 4_000)],
        1_000,
    )
    assert made.recycled_bp == 7_500
    chair, offcuts = made.output_lots
    assert suite.materials.lot(chair).grams == 11_000

    handed = suite.materials.transfer(alice, offcuts, bob.address, 1_500)
    assert suite.materials.lot(handed.received_lot).holder == bob.address
    suite.materials.dispatch(alice, chair, 11_000, Fate.IN_USE)
    assert suite.materials.lot(chair).grams == 0

    with pytest.raises(ce.MassImbalance) as info:
        suite.materials.transform(bob, [(handed.received_lot, 1_500)], [(joinery, 1_000)], 400)
    assert (info.value.inputs, info.value.outputs, info.value.loss) == (1_500, 1_000, 400)
    with pytest.raises(ce.LedgerNotHolder):
        suite.materials.dispatch(bob, offcuts, 1, Fate.RECYCLED)

    contribution = suite.materials.suite.contributions.record(
        alice, LEUVEN, ContributionKind.REPAIR, 90
    )
    assert contribution.contribution_id == 1


def test_relayed_maker_needs_no_ether(memory_suite: Suite) -> None:
    suite = memory_suite
    maker = Account.create()
    suite.registry.set_pilot_role(_admin(suite), LEUVEN, maker.address, Role.MAKER)
    assert suite.chain.w3.eth.get_balance(maker.address) == 0
    result = suite.materials.intake(
        maker, LEUVEN, suite.manifest.materials["17 01 07"], Source.DONATION, 900, relay=True
    )
    assert suite.materials.lot(result.lot_id).holder == maker.address
    with pytest.raises(ce.LedgerZeroAmount):
        suite.materials.intake(
            maker, LEUVEN, suite.manifest.materials["17 01 07"], Source.DONATION, 0, relay=True
        )
    assert suite.materials.lot_count() == 1


def test_municipality_story(memory_suite: Suite) -> None:
    suite = memory_suite
    admin, stranger = _admin(suite), suite.chain.accounts[9]
    suite.token.set_budget(admin, LEUVEN, 5_000)
    assert suite.token.budget(LEUVEN) == 5_000
    suite.registry.set_pilot_role(admin, LEUVEN, stranger.address, Role.PARTNER)
    reward = suite.catalogue.list_reward(
        admin, LEUVEN, stranger.address, 40, 3, int(time.time()) + 86_400
    )
    assert suite.catalogue.reward(reward.reward_id).stock == 3
    suite.registry.set_maker_active(admin, LEUVEN, _maker(suite).address, False)
    with pytest.raises(ce.RegistryUnauthorized):
        suite.token.set_budget(stranger, LEUVEN, 1)
    with pytest.raises(ce.RegistryUnauthorized):
        suite.registry.set_pilot_role(admin, 2, stranger.address, Role.MAKER)


def test_member_story(memory_suite: Suite) -> None:
    suite = memory_suite
    admin, issuer, partner = _admin(suite), suite.chain.accounts[8], suite.chain.accounts[9]
    member = Account.create()
    suite.registry.set_pilot_role(admin, LEUVEN, issuer.address, Role.ISSUER)
    suite.registry.set_pilot_role(admin, LEUVEN, partner.address, Role.PARTNER)
    suite.token.set_budget(admin, LEUVEN, 1_000)
    reward = suite.catalogue.list_reward(
        admin, LEUVEN, partner.address, 60, 5, int(time.time()) + 86_400
    )

    awarded = suite.token.award(issuer, LEUVEN, member.address, 100, reason=1)
    assert (awarded.amount, awarded.budget_left) == (100, 900)
    redemption = suite.catalogue.redeem(member, reward.reward_id, relay=True)
    assert redemption.cost == 60 and suite.token.balance_of(member.address) == 40
    assert suite.catalogue.redemption_status(redemption.redemption_id) == (True, False)
    suite.catalogue.fulfil(partner, redemption.redemption_id)
    assert suite.catalogue.redemption_status(redemption.redemption_id) == (True, True)
    with pytest.raises(ce.CatalogueAlreadyFulfilled):
        suite.catalogue.fulfil(partner, redemption.redemption_id)
    with pytest.raises(ce.TokenInsufficientPoints):
        suite.catalogue.redeem(member, reward.reward_id, relay=True)
    with pytest.raises(ce.TokenBudgetExceeded):
        suite.token.award(issuer, LEUVEN, member.address, 901, reason=1)


def test_points_earned_in_one_pilot_are_not_spent_in_another(
    memory_suite: Suite, pilots: list[Pilot]
) -> None:
    """The attack of issue 13: pilot 1's admin made itself an issuer, awarded itself 150 points
    and redeemed the whole stock of a pilot-2 partner's reward."""
    suite = memory_suite
    leuven_admin, other_admin = _admin(suite), suite.chain.accounts[2]
    partner = suite.chain.accounts[9]
    suite.registry.set_pilot_role(other_admin, 2, partner.address, Role.PARTNER)
    reward = suite.catalogue.list_reward(
        other_admin, 2, partner.address, 50, 3, int(time.time()) + 86_400
    )
    suite.registry.set_pilot_role(leuven_admin, LEUVEN, leuven_admin.address, Role.ISSUER)
    suite.token.set_budget(leuven_admin, LEUVEN, 150)
    suite.token.award(leuven_admin, LEUVEN, leuven_admin.address, 150, reason=1)
    budget_before = suite.token.budget(2)
    with pytest.raises(ce.TokenInsufficientPoints) as refused:
        suite.catalogue.redeem(leuven_admin, reward.reward_id)
    assert (refused.value.pilot, refused.value.balance, refused.value.needed) == (2, 0, 50)
    assert suite.catalogue.reward(reward.reward_id).stock == 3
    assert suite.token.budget(2) == budget_before
    assert suite.token.balance_in(LEUVEN, leuven_admin.address) == 150
    # A pilot admin sets budgets, but cannot award past the operator's cap.
    suite.token.set_budget(leuven_admin, LEUVEN, 2**64 - 1)
    leuven = next(p for p in pilots if p.id == LEUVEN)
    cap = leuven.earning.award_budget * AWARD_CAP_YEARS  # set by the operator at deployment
    assert suite.token.budget(LEUVEN) == cap - 150
    with pytest.raises(ce.TokenCapExceeded):
        suite.token.award(leuven_admin, LEUVEN, leuven_admin.address, cap - 150 + 1, reason=1)
    with pytest.raises(ce.RegistryUnauthorized):
        suite.token.set_cap(leuven_admin, LEUVEN, 2**64 - 1)  # only the operator raises it


def test_auditor_reads_the_trail(memory_suite: Suite) -> None:
    suite = memory_suite
    maker = _maker(suite)
    taken = suite.materials.intake(
        maker, LEUVEN, suite.manifest.materials["20 01 10"], Source.DONATION, 3_000, b"\xab" * 32
    )
    (event,) = taken.tx.named("MaterialTakenIn")
    assert event.args["evidence"] == "0x" + "ab" * 32
    assert event.args["maker"] == maker.address and event.args["pilot"] == LEUVEN
    receipt = suite.chain.w3.eth.get_transaction_receipt(taken.tx.tx_hash)  # type: ignore[arg-type]
    assert receipt["blockNumber"] == event.block_number


@pytest.mark.anvil
def test_batch_paths_on_anvil(anvil_suite: Suite) -> None:
    suite = anvil_suite
    maker = _maker(suite)
    wood = suite.manifest.materials["17 02 01"]
    records = [IntakeSpec(LEUVEN, wood, Source.MUNICIPAL_COLLECTION, 1_000 + i) for i in range(100)]
    batch = suite.materials.intake_batch(maker, records)
    assert batch.lot_ids == tuple(range(1, 101))
    assert suite.materials.lot(100).grams == 1_099

    bad = [*records[:3], IntakeSpec(LEUVEN, 999, Source.DONATION, 5)]
    with pytest.raises(ce.LedgerUnknownMaterial):
        suite.materials.intake_batch(maker, bad)
    assert suite.materials.lot_count() == 100

    member = Account.create()
    suite.registry.set_pilot_role(_admin(suite), LEUVEN, member.address, Role.MAKER)
    nonce = int(suite.tx.forwarder.functions.nonces(member.address).call())  # type: ignore[union-attr]
    calls = [
        suite.materials.call_data("intake", LEUVEN, wood, int(Source.DONATION), 10 + i, b"\0" * 32)
        for i in range(5)
    ]
    requests = [suite.tx.request_for(member, c, nonce=nonce + i) for i, c in enumerate(calls)]
    receipt = suite.tx.submit_relayed(requests)
    lots = [e.args["lotId"] for e in suite.result(receipt).named("MaterialTakenIn")]
    assert len(lots) == 5 and all(suite.materials.lot(x).holder == member.address for x in lots)

    poisoned = [
        suite.tx.request_for(member, c, nonce=nonce + 5 + i) for i, c in enumerate(calls[:2])
    ]
    poisoned.append(
        suite.tx.request_for(
            member,
            suite.materials.call_data("intake", LEUVEN, wood, 9, 1, b"\0" * 32),
            nonce=nonce + 7,
        )
    )
    with pytest.raises(ce.LedgerUnknownSource):
        suite.tx.submit_relayed(poisoned)
    assert suite.materials.lot_count() == 105


def test_fast_request_signature_equals_eip712_typed_data(memory_suite: Suite) -> None:
    from ledger.transact import FORWARD_REQUEST_TYPES

    tx = memory_suite.tx
    signer = memory_suite.chain.accounts[5]
    call = memory_suite.materials.call_data("lotCount")
    request = tx.sign_request(signer, call, gas=123_456, deadline=2_000_000_000, nonce=7)
    assert tx.forwarder is not None
    domain = {
        "name": "LoopLedger",
        "version": "1",
        "chainId": memory_suite.chain.w3.eth.chain_id,
        "verifyingContract": tx.forwarder.address,
    }
    message = {
        "from": signer.address,
        "to": request["to"],
        "value": 0,
        "gas": 123_456,
        "nonce": 7,
        "deadline": 2_000_000_000,
        "data": call.data,
    }
    expected = signer.sign_typed_data(domain, FORWARD_REQUEST_TYPES, message).signature
    assert request["signature"] == bytes(expected)
