// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";

import {IPilotRegistry} from "./interfaces/IPilotRegistry.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title ChallengeBoard
/// @notice Needs matched with solutions: a pilot admin, facilitator or maker posts a challenge
///         (the brief's SHA-256, a material class, a budget and a deadline); makers submit
///         proposals of which only the document's SHA-256 goes on chain, with the proposer and
///         the block time, as evidence of priority. The challenge owner shortlists and selects,
///         splitting the budget over selected proposals, and records each milestone's completion.
/// @dev Documents stay with their owners (no personal data on chain); the budget is a figure in
///      euro cents that the programme pays off chain, so the contract holds no funds.
contract ChallengeBoard is ERC2771Context {
    enum ProposalState {
        None,
        Submitted,
        Shortlisted,
        Selected
    }

    struct Challenge {
        address owner;
        uint16 pilot;
        uint64 deadline;
        uint128 budget;
        uint128 awarded;
    }

    struct Proposal {
        uint256 challengeId;
        address proposer;
        ProposalState state;
        uint8 milestones;
        uint32 completed; // bit i set: milestone i is complete
    }

    /// @notice `account` holds none of the roles that may post a challenge in `pilot`.
    error ChallengeUnauthorized(address account, uint16 pilot);
    /// @notice No challenge has id `challengeId`.
    error ChallengeUnknown(uint256 challengeId);
    /// @notice No proposal has id `proposalId`.
    error ChallengeUnknownProposal(uint256 proposalId);
    /// @notice Only the challenge's owner may do this.
    error ChallengeNotOwner(uint256 challengeId, address account);
    /// @notice The deadline `deadline` is not after the current time `nowTs`.
    error ChallengeBadDeadline(uint64 deadline, uint256 nowTs);
    /// @notice The challenge closed for proposals at `deadline`.
    error ChallengeClosed(uint256 challengeId, uint64 deadline);
    /// @notice A document or brief hash of zero.
    error ChallengeEmptyHash();
    /// @notice The proposal is in state `state`, which does not allow this step.
    error ChallengeBadState(uint256 proposalId, ProposalState state);
    /// @notice Selecting with `asked` would exceed the challenge's `budget` (`awarded` so far).
    error ChallengeOverBudget(uint256 challengeId, uint128 budget, uint128 awarded, uint128 asked);
    /// @notice A selection needs between 1 and 32 milestones; `milestones` was given.
    error ChallengeBadMilestones(uint8 milestones);
    /// @notice Milestone `index` does not exist or is complete already.
    error ChallengeBadMilestone(uint256 proposalId, uint8 index);

    /// @notice A challenge was posted.
    event ChallengePosted(
        uint16 indexed pilot,
        uint256 indexed challengeId,
        address indexed owner,
        bytes32 brief,
        uint16 material,
        uint128 budget,
        uint64 deadline
    );
    /// @notice A proposal's document hash was recorded (`evidence`: the document's SHA-256).
    event ProposalSubmitted(
        uint256 indexed challengeId, uint256 indexed proposalId, address indexed proposer, bytes32 evidence
    );
    /// @notice The challenge owner shortlisted a proposal.
    event ProposalShortlisted(uint256 indexed challengeId, uint256 indexed proposalId);
    /// @notice The challenge owner selected a proposal with an award and a number of milestones.
    event ProposalSelected(uint256 indexed challengeId, uint256 indexed proposalId, uint128 award, uint8 milestones);
    /// @notice The challenge owner recorded that a milestone of a selected proposal is complete.
    event MilestoneCompleted(uint256 indexed challengeId, uint256 indexed proposalId, uint8 index, bytes32 evidence);

    IPilotRegistry private immutable _registry;
    uint256 private _challengeCount;
    uint256 private _proposalCount;
    mapping(uint256 => Challenge) private _challenges;
    mapping(uint256 => Proposal) private _proposals;

    constructor(IPilotRegistry registry_, address trustedForwarder_) ERC2771Context(trustedForwarder_) {
        _registry = registry_;
    }

    /// @notice Posts a challenge in `pilot`. Pilot admins, facilitators and active makers.
    /// @param brief SHA-256 of the challenge's text (need, material or product), kept off chain
    /// @param material the material class sought (0: none in particular)
    /// @param budget the budget in euro cents that selections may split (0: no open call)
    /// @dev Emits ChallengePosted.
    function postChallenge(uint16 pilot, bytes32 brief, uint16 material, uint128 budget, uint64 deadline)
        external
        returns (uint256 challengeId)
    {
        address owner = _msgSender();
        _registry.requireActivePilot(pilot);
        uint8 roles = _registry.rolesOf(pilot, owner);
        bool activeMaker = roles & Roles.MAKER != 0 && roles & Roles.SUSPENDED == 0;
        if (roles & (Roles.ADMIN | Roles.FACILITATOR) == 0 && !activeMaker) {
            revert ChallengeUnauthorized(owner, pilot);
        }
        if (brief == bytes32(0)) revert ChallengeEmptyHash();
        if (deadline <= block.timestamp) revert ChallengeBadDeadline(deadline, block.timestamp);
        challengeId = ++_challengeCount;
        _challenges[challengeId] = Challenge(owner, pilot, deadline, budget, 0);
        emit ChallengePosted(pilot, challengeId, owner, brief, material, budget, deadline);
    }

    /// @notice Records the SHA-256 of the calling maker's proposal document, before the deadline.
    ///         Active makers of the challenge's pilot.
    /// @dev Emits ProposalSubmitted; the block time is the proof of priority.
    function submitProposal(uint256 challengeId, bytes32 document) external returns (uint256 proposalId) {
        Challenge storage challenge = _challenge(challengeId);
        address proposer = _msgSender();
        _registry.requireRole(challenge.pilot, proposer, Roles.MAKER);
        if (document == bytes32(0)) revert ChallengeEmptyHash();
        if (block.timestamp > challenge.deadline) revert ChallengeClosed(challengeId, challenge.deadline);
        proposalId = ++_proposalCount;
        _proposals[proposalId] = Proposal(challengeId, proposer, ProposalState.Submitted, 0, 0);
        emit ProposalSubmitted(challengeId, proposalId, proposer, document);
    }

    /// @notice Shortlists a submitted proposal. The challenge owner only.
    /// @dev Emits ProposalShortlisted.
    function shortlist(uint256 proposalId) external {
        Proposal storage proposal = _ownedProposal(proposalId);
        if (proposal.state != ProposalState.Submitted) revert ChallengeBadState(proposalId, proposal.state);
        proposal.state = ProposalState.Shortlisted;
        emit ProposalShortlisted(proposal.challengeId, proposalId);
    }

    /// @notice Selects a submitted or shortlisted proposal with `award` of the budget, paid over
    ///         `milestones` milestones. The challenge owner only; awards never exceed the budget.
    /// @dev Emits ProposalSelected.
    function select(uint256 proposalId, uint128 award, uint8 milestones) external {
        Proposal storage proposal = _ownedProposal(proposalId);
        if (proposal.state != ProposalState.Submitted && proposal.state != ProposalState.Shortlisted) {
            revert ChallengeBadState(proposalId, proposal.state);
        }
        if (milestones == 0 || milestones > 32) revert ChallengeBadMilestones(milestones);
        Challenge storage challenge = _challenges[proposal.challengeId];
        if (award > challenge.budget - challenge.awarded) {
            revert ChallengeOverBudget(proposal.challengeId, challenge.budget, challenge.awarded, award);
        }
        // Cannot overflow: awarded + award <= budget, checked above.
        unchecked {
            challenge.awarded += award;
        }
        proposal.state = ProposalState.Selected;
        proposal.milestones = milestones;
        emit ProposalSelected(proposal.challengeId, proposalId, award, milestones);
    }

    /// @notice Records that milestone `index` of a selected proposal is complete. The challenge
    ///         owner only; each milestone once.
    /// @dev Emits MilestoneCompleted.
    function completeMilestone(uint256 proposalId, uint8 index, bytes32 evidence) external {
        Proposal storage proposal = _ownedProposal(proposalId);
        if (proposal.state != ProposalState.Selected) revert ChallengeBadState(proposalId, proposal.state);
        uint32 bit = uint32(1) << (index & 31);
        if (index >= proposal.milestones || proposal.completed & bit != 0) {
            revert ChallengeBadMilestone(proposalId, index);
        }
        proposal.completed |= bit;
        emit MilestoneCompleted(proposal.challengeId, proposalId, index, evidence);
    }

    /// @notice A challenge: owner, pilot, deadline, budget and the part of it awarded.
    function challenge(uint256 challengeId) external view returns (Challenge memory) {
        return _challenge(challengeId);
    }

    /// @notice A proposal: its challenge, proposer, state, milestones and completed milestones.
    function proposal(uint256 proposalId) external view returns (Proposal memory) {
        Proposal storage p = _proposals[proposalId];
        if (p.state == ProposalState.None) revert ChallengeUnknownProposal(proposalId);
        return p;
    }

    /// @notice Number of challenges posted.
    function challengeCount() external view returns (uint256) {
        return _challengeCount;
    }

    function _challenge(uint256 challengeId) private view returns (Challenge storage c) {
        c = _challenges[challengeId];
        if (c.owner == address(0)) revert ChallengeUnknown(challengeId);
    }

    function _ownedProposal(uint256 proposalId) private view returns (Proposal storage p) {
        p = _proposals[proposalId];
        if (p.state == ProposalState.None) revert ChallengeUnknownProposal(proposalId);
        address owner = _challenges[p.challengeId].owner;
        if (_msgSender() != owner) revert ChallengeNotOwner(p.challengeId, _msgSender());
    }
}
