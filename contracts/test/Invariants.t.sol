// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fixture} from "./utils/Fixture.sol";
import {LedgerHandler} from "./handlers/LedgerHandler.sol";
import {Roles} from "../src/libraries/Roles.sol";

/// @notice Invariants of the whole suite, driven through LedgerHandler.
contract InvariantsTest is Fixture {
    LedgerHandler internal handler;

    function setUp() public override {
        super.setUp();
        vm.warp(1_700_000_000);
        vm.prank(leuvenAdmin);
        uint256 rewardId = catalogue.listReward(LEUVEN, partner, 50, type(uint32).max, uint40(block.timestamp + 365 days));
        vm.startPrank(kaunasAdmin);
        registry.setPilotRole(KAUNAS, issuer, Roles.ISSUER, true);
        registry.setPilotRole(KAUNAS, partner, Roles.PARTNER, true);
        token.setAwardBudget(KAUNAS, 1_000_000);
        uint256 kaunasReward = catalogue.listReward(KAUNAS, partner, 30, type(uint32).max, uint40(block.timestamp + 365 days));
        vm.stopPrank();
        handler = new LedgerHandler(
            registry,
            ledger,
            contributions,
            token,
            catalogue,
            [LEUVEN, KAUNAS],
            [rewardId, kaunasReward],
            [alice, bob],
            issuer,
            stranger
        );
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](8);
        selectors[0] = LedgerHandler.intake.selector;
        selectors[1] = LedgerHandler.transform.selector;
        selectors[2] = LedgerHandler.transfer.selector;
        selectors[3] = LedgerHandler.dispatch.selector;
        selectors[4] = LedgerHandler.award.selector;
        selectors[5] = LedgerHandler.redeem.selector;
        selectors[6] = LedgerHandler.strangerActs.selector;
        selectors[7] = LedgerHandler.unbalancedTransform.selector;
        targetSelector(FuzzSelector(address(handler), selectors));
    }

    /// @notice Per material: grams taken in or produced == grams held + dispatched + consumed; and in
    ///         total: grams held + lost + dispatched == grams taken in.
    function invariant_massIsConserved() public view {
        uint256[4] memory held;
        uint256 count = ledger.lotCount();
        for (uint256 id = 1; id <= count; ++id) {
            held[ledger.lotOf(id).materialId] += ledger.lotOf(id).grams;
        }
        uint256 totalHeld;
        uint256 totalIntake;
        uint256 totalDispatched;
        for (uint16 m = 1; m <= handler.MATERIALS(); ++m) {
            assertEq(
                handler.intakeGrams(m) + handler.producedGrams(m),
                held[m] + handler.dispatchedGrams(m) + handler.consumedGrams(m),
                "per-material balance"
            );
            totalHeld += held[m];
            totalIntake += handler.intakeGrams(m);
            totalDispatched += handler.dispatchedGrams(m);
        }
        assertEq(totalHeld + handler.lossGrams() + totalDispatched, totalIntake, "held + loss + dispatched == intake");
    }

    /// @notice Points in circulation are exactly those awarded minus those redeemed.
    function invariant_supplyIsAwardedMinusRedeemed() public view {
        assertEq(token.totalSupply(), handler.awarded() - handler.redeemed(), "supply");
    }

    /// @notice Per pilot: points in circulation == awarded - redeemed in that pilot, held by its
    ///         members; a member's ERC-20 balance is the sum of its points over the pilots.
    function invariant_pointsStayInTheirPilot() public view {
        uint16[2] memory pilots = [LEUVEN, KAUNAS];
        for (uint256 p; p < 2; ++p) {
            (,, uint64 awarded, uint64 redeemed) = token.pointsOf(pilots[p]);
            assertEq(awarded, handler.awardedIn(pilots[p]), "awarded per pilot");
            assertEq(redeemed, handler.redeemedIn(pilots[p]), "redeemed per pilot");
            uint256 held;
            for (uint256 m; m < 3; ++m) {
                held += token.balanceIn(pilots[p], handler.memberAt(m));
            }
            assertEq(held, uint256(awarded) - redeemed, "supply per pilot == awarded - redeemed");
        }
        for (uint256 m; m < 3; ++m) {
            address member = handler.memberAt(m);
            assertEq(
                token.balanceOf(member),
                token.balanceIn(LEUVEN, member) + token.balanceIn(KAUNAS, member),
                "balance is the sum over pilots"
            );
        }
        assertEq(handler.crossPilotSuccesses(), 0, "a reward was paid with another pilot's points");
    }

    /// @notice A transformation that does not balance (outputs + loss != inputs) is never accepted.
    function invariant_unbalancedTransformationIsAlwaysRefused() public view {
        assertEq(handler.unbalancedAccepted(), 0, "an unbalanced transformation was accepted");
    }

    /// @notice An account without a role never changes state.
    function invariant_roleLessAccountNeverActs() public view {
        assertEq(handler.strangerSuccesses(), 0, "a role-less call succeeded");
        assertEq(registry.rolesOf(LEUVEN, handler.stranger()), 0, "stranger gained a role");
        assertTrue(!registry.paused(), "stranger paused the system");
        assertEq(uint256(Roles.OPERATOR) & registry.rolesOf(0, handler.stranger()), 0, "stranger became operator");
    }
}
