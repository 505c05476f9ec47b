// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fixture} from "./utils/Fixture.sol";
import {ChallengeBoardHandler} from "./handlers/ChallengeBoardHandler.sol";
import {ChallengeBoard} from "../src/ChallengeBoard.sol";
import {IPilotRegistry} from "../src/interfaces/IPilotRegistry.sol";
import {Roles} from "../src/libraries/Roles.sol";

contract ChallengeBoardTest is Fixture {
    ChallengeBoard internal board;
    ChallengeBoardHandler internal handler;
    address internal facilitator = address(0xFAC);
    bytes32 internal constant BRIEF = keccak256("brief");
    // A storage value: a constant sha256 would be a precompile call that consumes vm.prank.
    bytes32 internal DOC = sha256("proposal document");

    function setUp() public override {
        super.setUp();
        board = new ChallengeBoard(registry, address(forwarder));
        vm.prank(leuvenAdmin);
        registry.setPilotRole(LEUVEN, facilitator, Roles.FACILITATOR, true);
        handler = new ChallengeBoardHandler(board, facilitator, alice, bob);
        targetContract(address(handler));
    }

    function _post(uint128 budget) internal returns (uint256 id) {
        vm.prank(facilitator);
        id = board.postChallenge(LEUVEN, BRIEF, wood, budget, uint64(block.timestamp + 30 days));
    }

    function test_postSubmitSelectComplete() public {
        uint256 id = _post(10_000_00);
        vm.expectEmit();
        emit ChallengeBoard.ProposalSubmitted(id, 1, alice, DOC);
        vm.prank(alice);
        uint256 p = board.submitProposal(id, DOC);
        vm.startPrank(facilitator);
        board.shortlist(p);
        board.select(p, 6_000_00, 3);
        board.completeMilestone(p, 1, keccak256("report"));
        vm.stopPrank();
        ChallengeBoard.Proposal memory proposal = board.proposal(p);
        assertEq(uint8(proposal.state), uint8(ChallengeBoard.ProposalState.Selected), "state");
        assertEq(proposal.completed, 2, "milestone 1 done");
        assertEq(board.challenge(id).awarded, 6_000_00, "awarded");
    }

    function test_makersAndAdminsMayPost() public {
        vm.prank(alice);
        assertEq(board.postChallenge(LEUVEN, BRIEF, 0, 0, uint64(block.timestamp + 1)), 1, "maker");
        vm.prank(leuvenAdmin);
        assertEq(board.postChallenge(LEUVEN, BRIEF, 0, 0, uint64(block.timestamp + 1)), 2, "admin");
    }

    function testRevert_postChallenge() public {
        vm.prank(member);
        vm.expectRevert(abi.encodeWithSelector(ChallengeBoard.ChallengeUnauthorized.selector, member, LEUVEN));
        board.postChallenge(LEUVEN, BRIEF, 0, 0, uint64(block.timestamp + 1));
        vm.prank(carol); // a maker of Kaunas, not of Leuven
        vm.expectRevert(abi.encodeWithSelector(ChallengeBoard.ChallengeUnauthorized.selector, carol, LEUVEN));
        board.postChallenge(LEUVEN, BRIEF, 0, 0, uint64(block.timestamp + 1));
        vm.startPrank(facilitator);
        vm.expectRevert(ChallengeBoard.ChallengeEmptyHash.selector);
        board.postChallenge(LEUVEN, 0, 0, 0, uint64(block.timestamp + 1));
        vm.expectRevert(
            abi.encodeWithSelector(ChallengeBoard.ChallengeBadDeadline.selector, uint64(block.timestamp), block.timestamp)
        );
        board.postChallenge(LEUVEN, BRIEF, 0, 0, uint64(block.timestamp));
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryUnknownPilot.selector, uint16(9)));
        board.postChallenge(9, BRIEF, 0, 0, uint64(block.timestamp + 1));
        vm.stopPrank();
    }

    function testRevert_submitProposal() public {
        uint256 id = _post(0);
        vm.prank(member);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, member, LEUVEN, Roles.MAKER));
        board.submitProposal(id, DOC);
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(ChallengeBoard.ChallengeUnknown.selector, 7));
        board.submitProposal(7, DOC);
        vm.expectRevert(ChallengeBoard.ChallengeEmptyHash.selector);
        board.submitProposal(id, 0);
        uint64 deadline = board.challenge(id).deadline;
        vm.warp(uint256(deadline) + 1);
        vm.expectRevert(abi.encodeWithSelector(ChallengeBoard.ChallengeClosed.selector, id, deadline));
        board.submitProposal(id, DOC);
        vm.stopPrank();
    }

    function testRevert_ownerSteps() public {
        uint256 id = _post(100);
        vm.prank(alice);
        uint256 p = board.submitProposal(id, DOC);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(ChallengeBoard.ChallengeNotOwner.selector, id, bob));
        board.select(p, 1, 1);
        vm.startPrank(facilitator);
        vm.expectRevert(abi.encodeWithSelector(ChallengeBoard.ChallengeUnknownProposal.selector, 99));
        board.shortlist(99);
        vm.expectRevert(abi.encodeWithSelector(ChallengeBoard.ChallengeBadMilestones.selector, uint8(0)));
        board.select(p, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(ChallengeBoard.ChallengeOverBudget.selector, id, 100, 0, 101));
        board.select(p, 101, 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                ChallengeBoard.ChallengeBadState.selector, p, ChallengeBoard.ProposalState.Submitted
            )
        );
        board.completeMilestone(p, 0, 0);
        board.select(p, 100, 2);
        vm.expectRevert(
            abi.encodeWithSelector(ChallengeBoard.ChallengeBadState.selector, p, ChallengeBoard.ProposalState.Selected)
        );
        board.shortlist(p);
        board.completeMilestone(p, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(ChallengeBoard.ChallengeBadMilestone.selector, p, uint8(0)));
        board.completeMilestone(p, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(ChallengeBoard.ChallengeBadMilestone.selector, p, uint8(2)));
        board.completeMilestone(p, 2, 0);
        vm.stopPrank();
    }

    function testFuzz_awardsNeverExceedBudget(uint128 budget, uint128 a, uint128 b) public {
        uint256 id = _post(budget);
        vm.startPrank(alice);
        uint256 p1 = board.submitProposal(id, DOC);
        uint256 p2 = board.submitProposal(id, DOC);
        vm.stopPrank();
        vm.startPrank(facilitator);
        a = uint128(bound(a, 0, budget));
        board.select(p1, a, 1);
        if (b > budget - a) {
            vm.expectRevert(abi.encodeWithSelector(ChallengeBoard.ChallengeOverBudget.selector, id, budget, a, b));
            board.select(p2, b, 1);
        } else {
            board.select(p2, b, 1);
            assertEq(board.challenge(id).awarded, uint256(a) + b, "awarded");
        }
        vm.stopPrank();
    }

    function invariant_awardedWithinBudget() public view {
        uint256 count = board.challengeCount();
        for (uint256 id = 1; id <= count; ++id) {
            ChallengeBoard.Challenge memory c = board.challenge(id);
            assertLe(c.awarded, c.budget, "awarded <= budget");
            assertEq(c.awarded, handler.awardedOf(id), "awarded == sum of selections");
        }
    }
}
