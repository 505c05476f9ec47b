// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fixture} from "./utils/Fixture.sol";
import {ContributionLedger} from "../src/ContributionLedger.sol";
import {IPilotRegistry} from "../src/interfaces/IPilotRegistry.sol";
import {Roles} from "../src/libraries/Roles.sol";

contract ContributionLedgerTest is Fixture {
    function test_recordContribution() public {
        vm.expectEmit();
        emit ContributionLedger.ContributionRecorded(LEUVEN, alice, 1, 2, 90, keccak256("photo"));
        vm.prank(alice);
        uint256 id = contributions.recordContribution(LEUVEN, 2, 90, keccak256("photo"));
        assertEq(id, 1, "id");
        assertEq(contributions.contributionCount(), 1, "count");
    }

    function testRevert_recordContribution() public {
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(ContributionLedger.ContributionUnknownKind.selector, uint8(0)));
        contributions.recordContribution(LEUVEN, 0, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(ContributionLedger.ContributionUnknownKind.selector, uint8(5)));
        contributions.recordContribution(LEUVEN, 5, 1, 0);
        vm.expectRevert(ContributionLedger.ContributionZeroAmount.selector);
        contributions.recordContribution(LEUVEN, 1, 0, 0);
        vm.stopPrank();
        vm.prank(member);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, member, LEUVEN, Roles.MAKER));
        contributions.recordContribution(LEUVEN, 1, 1, 0);
    }
}
