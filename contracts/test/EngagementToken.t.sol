// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fixture} from "./utils/Fixture.sol";
import {IEngagementToken} from "../src/interfaces/IEngagementToken.sol";
import {IPilotRegistry} from "../src/interfaces/IPilotRegistry.sol";
import {Roles} from "../src/libraries/Roles.sol";

contract EngagementTokenTest is Fixture {
    event Transfer(address indexed from, address indexed to, uint256 value);

    function test_metadata_wholePoints() public view {
        assertEq(token.decimals(), 0, "decimals");
        assertEq(token.catalogue(), address(catalogue), "catalogue");
    }

    function test_award_mintsWithinBudget() public {
        vm.expectEmit();
        emit Transfer(address(0), member, 40);
        vm.expectEmit();
        emit IEngagementToken.PointsAwarded(LEUVEN, issuer, member, 40, 3, 999_960);
        vm.prank(issuer);
        token.award(LEUVEN, member, 40, 3);
        assertEq(token.balanceOf(member), 40, "balance");
        assertEq(token.totalSupply(), 40, "supply");
        assertEq(token.awardBudget(LEUVEN), 999_960, "budget left");
    }

    function testRevert_award_beyondBudget() public {
        vm.prank(leuvenAdmin);
        token.setAwardBudget(LEUVEN, 10);
        vm.prank(issuer);
        vm.expectRevert(abi.encodeWithSelector(IEngagementToken.TokenBudgetExceeded.selector, LEUVEN, 11, 10));
        token.award(LEUVEN, member, 11, 1);
        vm.prank(kaunasAdmin);
        registry.setPilotRole(KAUNAS, issuer, Roles.ISSUER, true);
        vm.prank(issuer);
        vm.expectRevert(abi.encodeWithSelector(IEngagementToken.TokenBudgetExceeded.selector, KAUNAS, 1, 0));
        token.award(KAUNAS, member, 1, 1);
    }

    function testRevert_award_wrongRoleZeroAmountZeroMember() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, alice, LEUVEN, Roles.ISSUER));
        token.award(LEUVEN, member, 1, 1);
        vm.startPrank(issuer);
        vm.expectRevert(IEngagementToken.TokenZeroAmount.selector);
        token.award(LEUVEN, member, 0, 1);
        vm.expectRevert(IEngagementToken.TokenZeroAddress.selector);
        token.award(LEUVEN, address(0), 1, 1);
        vm.stopPrank();
    }

    function testRevert_setAwardBudget_onlyPilotAdmin() public {
        vm.prank(kaunasAdmin);
        vm.expectRevert(
            abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, kaunasAdmin, LEUVEN, Roles.ADMIN)
        );
        token.setAwardBudget(LEUVEN, 5);
    }

    function testRevert_transfers_impossible() public {
        vm.prank(issuer);
        token.award(LEUVEN, member, 10, 1);
        vm.startPrank(member);
        vm.expectRevert(IEngagementToken.TokenNonTransferable.selector);
        token.transfer(stranger, 1);
        vm.expectRevert(IEngagementToken.TokenNonTransferable.selector);
        token.approve(stranger, 1);
        vm.expectRevert(IEngagementToken.TokenNonTransferable.selector);
        token.transferFrom(member, stranger, 1);
        vm.stopPrank();
        assertEq(token.balanceOf(member), 10, "unchanged");
    }

    function testRevert_burnFor_onlyCatalogue() public {
        vm.prank(member);
        vm.expectRevert(abi.encodeWithSelector(IEngagementToken.TokenOnlyCatalogue.selector, member));
        token.burnFor(LEUVEN, member, 1);
        vm.prank(address(catalogue));
        vm.expectRevert(IEngagementToken.TokenZeroAmount.selector);
        token.burnFor(LEUVEN, member, 0);
    }

    /// @notice The attack of issue 13: a pilot admin makes itself an issuer, awards itself points
    ///         and spends them on another pilot's reward. Its points stay in its own pilot.
    function testRevert_crossPilotRedemption() public {
        vm.warp(1_700_000_000);
        address kaunasPartner = address(0x9A28);
        vm.startPrank(kaunasAdmin);
        registry.setPilotRole(KAUNAS, kaunasPartner, Roles.PARTNER, true);
        uint256 kaunasReward = catalogue.listReward(KAUNAS, kaunasPartner, 50, 3, uint40(block.timestamp + 30 days));
        vm.stopPrank();
        vm.startPrank(leuvenAdmin);
        registry.setPilotRole(LEUVEN, leuvenAdmin, Roles.ISSUER, true);
        token.award(LEUVEN, leuvenAdmin, 150, 1);
        vm.expectRevert(
            abi.encodeWithSelector(IEngagementToken.TokenInsufficientPoints.selector, KAUNAS, leuvenAdmin, 0, 50)
        );
        catalogue.redeem(kaunasReward);
        vm.stopPrank();
        assertEq(token.balanceIn(LEUVEN, leuvenAdmin), 150, "points stay in Leuven");
        assertEq(token.balanceIn(KAUNAS, leuvenAdmin), 0, "none in Kaunas");
        (,,, uint32 stock,,) = catalogue.rewardOf(kaunasReward);
        assertEq(stock, 3, "Kaunas stock untouched");
    }

    /// @notice A pilot admin sets its budget, but only the operator's cap bounds what it awards in total.
    function testRevert_award_beyondOperatorCap() public {
        token.setAwardCap(KAUNAS, 100);
        vm.startPrank(kaunasAdmin);
        registry.setPilotRole(KAUNAS, issuer, Roles.ISSUER, true);
        token.setAwardBudget(KAUNAS, type(uint64).max);
        vm.stopPrank();
        assertEq(token.awardBudget(KAUNAS), 100, "what the cap leaves");
        vm.startPrank(issuer);
        token.award(KAUNAS, member, 60, 1);
        vm.expectRevert(abi.encodeWithSelector(IEngagementToken.TokenCapExceeded.selector, KAUNAS, 41, 40));
        token.award(KAUNAS, member, 41, 1);
        vm.stopPrank();
        token.setAwardCap(KAUNAS, 10); // lowered below what was awarded: nothing more
        vm.prank(issuer);
        vm.expectRevert(abi.encodeWithSelector(IEngagementToken.TokenCapExceeded.selector, KAUNAS, 1, 0));
        token.award(KAUNAS, member, 1, 1);
        (uint64 budget, uint64 cap, uint64 awarded, uint64 redeemed) = token.pointsOf(KAUNAS);
        assertEq(budget, type(uint64).max - 60, "budget");
        assertEq(cap, 10, "cap");
        assertEq(awarded, 60, "awarded");
        assertEq(redeemed, 0, "redeemed");
    }

    function testRevert_setAwardCap_onlyOperator() public {
        vm.prank(leuvenAdmin);
        vm.expectRevert(
            abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, leuvenAdmin, uint16(0), Roles.OPERATOR)
        );
        token.setAwardCap(LEUVEN, type(uint64).max);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryUnknownPilot.selector, uint16(9)));
        token.setAwardCap(9, 1);
    }

    function testFuzz_balanceIsSumOverPilots(uint64 a, uint64 b) public {
        a = uint64(bound(a, 1, 500_000));
        b = uint64(bound(b, 1, 500_000));
        vm.startPrank(kaunasAdmin);
        registry.setPilotRole(KAUNAS, issuer, Roles.ISSUER, true);
        token.setAwardBudget(KAUNAS, 1_000_000);
        vm.stopPrank();
        vm.startPrank(issuer);
        token.award(LEUVEN, member, a, 1);
        token.award(KAUNAS, member, b, 1);
        vm.stopPrank();
        assertEq(token.balanceIn(LEUVEN, member), a, "Leuven");
        assertEq(token.balanceIn(KAUNAS, member), b, "Kaunas");
        assertEq(token.balanceOf(member), uint256(a) + b, "ERC-20 balance is the sum");
    }

    function testRevert_setCatalogue_onceByOperator() public {
        vm.expectRevert(abi.encodeWithSelector(IEngagementToken.TokenCatalogueAlreadySet.selector, address(catalogue)));
        token.setCatalogue(stranger);
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, stranger, uint16(0), Roles.OPERATOR)
        );
        token.setCatalogue(stranger);
    }

    function testFuzz_award_supplyEqualsAwards(uint64 a, uint64 b) public {
        a = uint64(bound(a, 1, 500_000));
        b = uint64(bound(b, 1, 500_000));
        vm.startPrank(issuer);
        token.award(LEUVEN, member, a, 1);
        token.award(LEUVEN, stranger, b, 2);
        vm.stopPrank();
        assertEq(token.totalSupply(), uint256(a) + b, "supply");
        assertEq(token.awardBudget(LEUVEN), 1_000_000 - uint256(a) - b, "budget");
    }
}
