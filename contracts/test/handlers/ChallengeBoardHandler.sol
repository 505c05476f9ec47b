// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Test} from "../utils/Test.sol";
import {ChallengeBoard} from "../../src/ChallengeBoard.sol";

/// @notice Drives the challenge board through posting, submitting and selecting, and keeps the
///         sum of the awards per challenge that the invariant compares with the contract's.
contract ChallengeBoardHandler is Test {
    ChallengeBoard internal board;
    address internal owner;
    address[2] internal makers;
    uint256[] internal proposals;
    mapping(uint256 => uint256) public awardedOf;

    constructor(ChallengeBoard board_, address owner_, address maker1, address maker2) {
        board = board_;
        owner = owner_;
        makers = [maker1, maker2];
    }

    function post(uint128 budget) external {
        vm.prank(owner);
        board.postChallenge(1, keccak256("brief"), 0, budget, uint64(block.timestamp + 1 days));
    }

    function submit(uint256 challengeSeed, uint256 makerSeed, bytes32 document) external {
        uint256 count = board.challengeCount();
        if (count == 0 || document == bytes32(0)) return;
        vm.prank(makers[makerSeed % 2]);
        proposals.push(board.submitProposal(challengeSeed % count + 1, document));
    }

    function select(uint256 proposalSeed, uint128 award, uint8 milestones) external {
        if (proposals.length == 0) return;
        uint256 proposalId = proposals[proposalSeed % proposals.length];
        ChallengeBoard.Proposal memory p = board.proposal(proposalId);
        ChallengeBoard.Challenge memory c = board.challenge(p.challengeId);
        if (p.state == ChallengeBoard.ProposalState.Selected) return;
        award = uint128(bound(award, 0, c.budget - c.awarded));
        milestones = uint8(bound(milestones, 1, 32));
        vm.prank(owner);
        board.select(proposalId, award, milestones);
        awardedOf[p.challengeId] += award;
    }
}
