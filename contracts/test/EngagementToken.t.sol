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
        token.burnFor(member, 1);
        vm.prank(address(catalogue));
        vm.expectRevert(IEngagementToken.TokenZeroAmount.selector);
        token.burnFor(member, 0);
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
