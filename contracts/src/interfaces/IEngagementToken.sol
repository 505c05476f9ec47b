// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Engagement points of LoopLedger.
/// @notice Whole points (decimals 0), ERC-20 readable, not transferable between members. Points
///         belong to the pilot that awarded them: a member's `balanceOf` is the sum over pilots,
///         and a reward of one pilot is paid only with points of that pilot. Award issuers of a
///         pilot award within the budget its admin sets and under the cap the operator sets.
interface IEngagementToken {
    /// @notice Points cannot move between members; they are only awarded and redeemed.
    error TokenNonTransferable();
    /// @notice An award of `requested` points exceeds the `remaining` budget of `pilot`.
    error TokenBudgetExceeded(uint16 pilot, uint256 requested, uint256 remaining);
    /// @notice An award of `requested` points would pass the operator's cap: `pilot` may award
    ///         only `remaining` more points in total.
    error TokenCapExceeded(uint16 pilot, uint256 requested, uint256 remaining);
    /// @notice `member` holds `balance` points of `pilot`, fewer than the `needed` ones.
    error TokenInsufficientPoints(uint16 pilot, address member, uint256 balance, uint256 needed);
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
    /// @notice The operator set the most points `pilot` may award in total (over its whole life).
    event AwardCapSet(uint16 indexed pilot, address indexed operator, uint256 cap);
    /// @notice The reward catalogue that may burn points was set.
    event CatalogueSet(address indexed catalogue);

    /// @notice Sets how many points the award issuers of `pilot` may still award, within the
    ///         operator's cap. Pilot admin only. Emits AwardBudgetSet.
    function setAwardBudget(uint16 pilot, uint64 budget) external;

    /// @notice Sets the most points `pilot` may award in total. Operator only. Emits AwardCapSet.
    function setAwardCap(uint16 pilot, uint64 cap) external;

    /// @notice Awards `amount` points of `pilot` to `member` for `reason`. Award issuers of
    ///         `pilot` only, within the pilot's budget and cap. Emits PointsAwarded and
    ///         Transfer(0, member, amount).
    function award(uint16 pilot, address member, uint64 amount, uint16 reason) external;

    /// @notice Burns `amount` of `member`'s points of `pilot`. Reward catalogue only.
    ///         Emits Transfer(member, 0, amount).
    function burnFor(uint16 pilot, address member, uint256 amount) external;

    /// @notice Points `pilot` may still award (the smaller of its budget and what its cap leaves).
    function awardBudget(uint16 pilot) external view returns (uint256);

    /// @notice The points of `pilot` that `member` holds.
    function balanceIn(uint16 pilot, address member) external view returns (uint256);

    /// @notice Budget, cap, points awarded and points redeemed of `pilot`; its points in
    ///         circulation are `awarded - redeemed`.
    function pointsOf(uint16 pilot)
        external
        view
        returns (uint64 budget, uint64 cap, uint64 awarded, uint64 redeemed);
}
