// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";

import {IPilotRegistry} from "./interfaces/IPilotRegistry.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title ContributionLedger
/// @notice Makers' contributions to their pilot's community: workshops held (amount: participants),
///         repair work (minutes), mentoring (minutes) and products donated (items).
contract ContributionLedger is ERC2771Context {
    enum Kind {
        None,
        Workshop,
        Repair,
        Mentoring,
        ProductsDonated
    }

    /// @notice `kind` is not one of Kind's values.
    error ContributionUnknownKind(uint8 kind);
    /// @notice A contribution of zero.
    error ContributionZeroAmount();

    /// @notice A maker's contribution was recorded.
    event ContributionRecorded(
        uint16 indexed pilot, address indexed maker, uint256 indexed contributionId, uint8 kind, uint32 amount, bytes32 evidence
    );

    IPilotRegistry private immutable _registry;
    uint256 private _contributionCount;

    constructor(IPilotRegistry registry_, address trustedForwarder_) ERC2771Context(trustedForwarder_) {
        _registry = registry_;
    }

    /// @notice Records a contribution of the calling maker in `pilot`. Active makers only.
    /// @dev Emits ContributionRecorded; the record lives in the event, the contract keeps the count.
    function recordContribution(uint16 pilot, uint8 kind, uint32 amount, bytes32 evidence)
        external
        returns (uint256 contributionId)
    {
        address maker = _msgSender();
        _registry.requireRole(pilot, maker, Roles.MAKER);
        if (kind == uint8(Kind.None) || kind > uint8(type(Kind).max)) revert ContributionUnknownKind(kind);
        if (amount == 0) revert ContributionZeroAmount();
        contributionId = ++_contributionCount;
        emit ContributionRecorded(pilot, maker, contributionId, kind, amount, evidence);
    }

    /// @notice Number of contributions recorded.
    function contributionCount() external view returns (uint256) {
        return _contributionCount;
    }
}
