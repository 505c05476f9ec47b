// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Reward catalogue of LoopLedger.
/// @notice Each pilot lists rewards offered by its reward partners; members redeem points for them.
///         A redemption id is `(rewardId << 32) | n` for the reward's n-th redemption, so it is
///         unique and its reward can be read from it.
interface IRewardCatalogue {
    /// @notice `rewardId` was never listed.
    error CatalogueUnknownReward(uint256 rewardId);
    /// @notice `rewardId` has no stock left.
    error CatalogueOutOfStock(uint256 rewardId);
    /// @notice `rewardId` expired at `expiry` (unix seconds).
    error CatalogueExpired(uint256 rewardId, uint256 expiry);
    /// @notice A reward must cost at least one point.
    error CatalogueZeroCost();
    /// @notice `expiry` is not in the future.
    error CatalogueBadExpiry(uint256 expiry);
    /// @notice `redemptionId` was never issued.
    error CatalogueUnknownRedemption(uint256 redemptionId);
    /// @notice `redemptionId` was fulfilled already.
    error CatalogueAlreadyFulfilled(uint256 redemptionId);
    /// @notice `account` is not a reward partner of the reward's pilot.
    error CatalogueNotPartner(uint256 rewardId, address account);

    /// @notice A reward was listed.
    event RewardListed(
        uint256 indexed rewardId, uint16 indexed pilot, address indexed partner, uint64 cost, uint32 stock, uint40 expiry
    );
    /// @notice The stock or expiry of a reward changed.
    event RewardUpdated(uint256 indexed rewardId, uint16 indexed pilot, uint32 stock, uint40 expiry);
    /// @notice `member` redeemed `cost` points for `rewardId`; the partner verifies `redemptionId`.
    event RewardRedeemed(
        uint16 indexed pilot, address indexed member, uint256 indexed redemptionId, uint256 rewardId, uint64 cost
    );
    /// @notice The reward partner handed over the reward of `redemptionId`.
    event RedemptionFulfilled(uint16 indexed pilot, address indexed partner, uint256 indexed redemptionId);

    /// @notice Lists a reward of `partner` in `pilot`. Pilot admin only.
    function listReward(uint16 pilot, address partner, uint64 cost, uint32 stock, uint40 expiry)
        external
        returns (uint256 rewardId);

    /// @notice Sets the stock and expiry of a reward. Admin of the reward's pilot only.
    function updateReward(uint256 rewardId, uint32 stock, uint40 expiry) external;

    /// @notice Burns the reward's cost from the caller's points and issues a redemption id.
    function redeem(uint256 rewardId) external returns (uint256 redemptionId);

    /// @notice Marks a redemption as handed over. The reward's partner only; once.
    function fulfil(uint256 redemptionId) external;
}
