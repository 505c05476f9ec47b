// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fixture} from "./utils/Fixture.sol";
import {IEngagementToken} from "../src/interfaces/IEngagementToken.sol";
import {IRewardCatalogue} from "../src/interfaces/IRewardCatalogue.sol";
import {IPilotRegistry} from "../src/interfaces/IPilotRegistry.sol";
import {Roles} from "../src/libraries/Roles.sol";


contract RewardCatalogueTest is Fixture {
    uint40 internal expiry;
    uint256 internal rewardId;

    function setUp() public override {
        super.setUp();
        vm.warp(1_700_000_000);
        expiry = uint40(block.timestamp + 30 days);
        vm.prank(leuvenAdmin);
        rewardId = catalogue.listReward(LEUVEN, partner, 25, 2, expiry);
        vm.prank(issuer);
        token.award(LEUVEN, member, 100, 1);
    }

    function test_listReward() public view {
        (uint16 pilot, address p, uint64 cost, uint32 stock, uint32 redeemed, uint40 exp) = catalogue.rewardOf(rewardId);
        assertEq(pilot, LEUVEN, "pilot");
        assertEq(p, partner, "partner");
        assertEq(cost, 25, "cost");
        assertEq(stock, 2, "stock");
        assertEq(redeemed, 0, "redeemed");
        assertEq(exp, expiry, "expiry");
        assertEq(catalogue.rewardCount(), 1, "count");
    }

    function testRevert_listReward() public {
        vm.startPrank(leuvenAdmin);
        vm.expectRevert(IRewardCatalogue.CatalogueZeroCost.selector);
        catalogue.listReward(LEUVEN, partner, 0, 1, expiry);
        vm.expectRevert(abi.encodeWithSelector(IRewardCatalogue.CatalogueBadExpiry.selector, block.timestamp));
        catalogue.listReward(LEUVEN, partner, 1, 1, uint40(block.timestamp));
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, alice, LEUVEN, Roles.PARTNER));
        catalogue.listReward(LEUVEN, alice, 1, 1, expiry);
        vm.stopPrank();
        vm.prank(kaunasAdmin);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, kaunasAdmin, LEUVEN, Roles.ADMIN));
        catalogue.listReward(LEUVEN, partner, 1, 1, expiry);
    }

    function test_redeem_burnsAndIssuesUniqueIds() public {
        uint256 first = rewardId << 32;
        vm.expectEmit();
        emit IRewardCatalogue.RewardRedeemed(LEUVEN, member, first, rewardId, 25);
        vm.prank(member);
        uint256 r1 = catalogue.redeem(rewardId);
        vm.prank(member);
        uint256 r2 = catalogue.redeem(rewardId);
        assertEq(r1, first, "first redemption id");
        assertEq(r2, first + 1, "second redemption id");
        assertEq(token.balanceOf(member), 50, "burned");
        assertEq(token.totalSupply(), 50, "supply");
        (bool issued, bool fulfilled) = catalogue.redemptionStatus(r2);
        assertTrue(issued && !fulfilled, "issued, not fulfilled");
        (issued,) = catalogue.redemptionStatus(r2 + 1);
        assertTrue(!issued, "not issued yet");
    }

    function testRevert_redeem_beyondStock() public {
        vm.startPrank(member);
        catalogue.redeem(rewardId);
        catalogue.redeem(rewardId);
        vm.expectRevert(abi.encodeWithSelector(IRewardCatalogue.CatalogueOutOfStock.selector, rewardId));
        catalogue.redeem(rewardId);
        vm.stopPrank();
    }

    function testRevert_redeem_afterExpiry() public {
        vm.warp(expiry);
        vm.prank(member);
        vm.expectRevert(abi.encodeWithSelector(IRewardCatalogue.CatalogueExpired.selector, rewardId, expiry));
        catalogue.redeem(rewardId);
    }

    function testRevert_redeem_insufficientPointsUnknownRewardPaused() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IEngagementToken.TokenInsufficientPoints.selector, LEUVEN, stranger, 0, 25));
        catalogue.redeem(rewardId);
        vm.expectRevert(abi.encodeWithSelector(IRewardCatalogue.CatalogueUnknownReward.selector, 9));
        catalogue.redeem(9);
        registry.setPaused(true);
        vm.prank(member);
        vm.expectRevert(IPilotRegistry.RegistryPaused.selector);
        catalogue.redeem(rewardId);
    }

    function test_updateReward_restocksAndExtends() public {
        vm.prank(leuvenAdmin);
        catalogue.updateReward(rewardId, 10, expiry + 1 days);
        (,,, uint32 stock,, uint40 exp) = catalogue.rewardOf(rewardId);
        assertEq(stock, 10, "stock");
        assertEq(exp, expiry + 1 days, "expiry");
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, stranger, LEUVEN, Roles.ADMIN));
        catalogue.updateReward(rewardId, 1, expiry);
        vm.prank(leuvenAdmin);
        vm.expectRevert(abi.encodeWithSelector(IRewardCatalogue.CatalogueBadExpiry.selector, 5));
        catalogue.updateReward(rewardId, 1, 5);
    }

    function test_fulfil_onceByPartner() public {
        vm.prank(member);
        uint256 r = catalogue.redeem(rewardId);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IRewardCatalogue.CatalogueNotPartner.selector, rewardId, stranger));
        catalogue.fulfil(r);
        vm.prank(partner);
        catalogue.fulfil(r);
        (, bool fulfilled) = catalogue.redemptionStatus(r);
        assertTrue(fulfilled, "fulfilled");
        vm.prank(partner);
        vm.expectRevert(abi.encodeWithSelector(IRewardCatalogue.CatalogueAlreadyFulfilled.selector, r));
        catalogue.fulfil(r);
        vm.prank(partner);
        vm.expectRevert(abi.encodeWithSelector(IRewardCatalogue.CatalogueUnknownRedemption.selector, r + 1));
        catalogue.fulfil(r + 1);
    }
}
