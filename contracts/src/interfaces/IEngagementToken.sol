// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Engagement points of LoopLedger.
/// @notice Whole points (decimals 0), ERC-20 readable, not transferable between members. Award
///         issuers of a pilot award them within the budget the pilot admin sets; the reward
///         catalogue burns them when a member redeems a reward.
interface IEngagementToken {
    /// @notice Points cannot move between members; they are only awarded and redeemed.
    error TokenNonTransferable();
    /// @notice An award of `requested` points exceeds the `remaining` budget of `pilot`.
    error TokenBudgetExceeded(uint16 pilot, uint256 requested, uint256 remaining);
    /// @notice An award or burn of zero points.
    error TokenZeroAmount();
    /// @notice Points cannot be awarded to the zero address.
    error TokenZeroAddress();
    /// @notice Only the reward catalogue may burn points; `caller` is not it.
    error TokenOnlyCatalogue(address caller);
    /// @notice The reward catalogue is set once; it is set already.
    error TokenCatalogueAlreadySet(address catalogue);

    /// @notice `member` received `amount` points in `pilot` for `reason`.
    event PointsAwarded(
        uint16 indexed pilot, address indexed issuer, address indexed member, uint256 amount, uint16 reason, uint256 budgetLeft
    );
    /// @notice The pilot admin set the points `pilot` may still award.
    event AwardBudgetSet(uint16 indexed pilot, address indexed admin, uint256 budget);
    /// @notice The reward catalogue that may burn points was set.
    event CatalogueSet(address indexed catalogue);

    /// @notice Sets how many points the award issuers of `pilot` may still award. Pilot admin only.
    function setAwardBudget(uint16 pilot, uint64 budget) external;

    /// @notice Awards `amount` points to `member` for `reason`. Award issuers of `pilot` only,
    ///         within the pilot's budget. Emits PointsAwarded and Transfer(0, member, amount).
    function award(uint16 pilot, address member, uint64 amount, uint16 reason) external;

    /// @notice Burns `amount` of `member`'s points. Reward catalogue only. Emits Transfer(member, 0, amount).
    function burnFor(address member, uint256 amount) external;

    /// @notice Points `pilot` may still award.
    function awardBudget(uint16 pilot) external view returns (uint256);
}
