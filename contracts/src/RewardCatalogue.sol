// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";

import {IEngagementToken} from "./interfaces/IEngagementToken.sol";
import {IPilotRegistry} from "./interfaces/IPilotRegistry.sol";
import {IRewardCatalogue} from "./interfaces/IRewardCatalogue.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title RewardCatalogue
/// @notice Rewards per pilot (cost, stock, expiry, partner) and their redemption for points.
contract RewardCatalogue is IRewardCatalogue, ERC2771Context {
    /// @dev What `redeem` reads and writes fits one slot; the partner is only read on fulfilment.
    struct Reward {
        uint16 pilot;
        uint64 cost;
        uint32 stock;
        uint32 redeemed;
        uint40 expiry;
    }

    IPilotRegistry private immutable _registry;
    IEngagementToken private immutable _token;
    uint256 private _rewardCount;
    mapping(uint256 rewardId => Reward) private _rewards;
    mapping(uint256 rewardId => address partner) private _partners;
    mapping(uint256 word => uint256 bits) private _fulfilled;

    constructor(IPilotRegistry registry_, IEngagementToken token_, address trustedForwarder_)
        ERC2771Context(trustedForwarder_)
    {
        _registry = registry_;
        _token = token_;
    }

    /// @inheritdoc IRewardCatalogue
    function listReward(uint16 pilot, address partner, uint64 cost, uint32 stock, uint40 expiry)
        external
        returns (uint256 rewardId)
    {
        _registry.requireRole(pilot, _msgSender(), Roles.ADMIN);
        _registry.requireRole(pilot, partner, Roles.PARTNER);
        if (cost == 0) revert CatalogueZeroCost();
        if (expiry <= block.timestamp) revert CatalogueBadExpiry(expiry);
        rewardId = ++_rewardCount;
        _rewards[rewardId] = Reward(pilot, cost, stock, 0, expiry);
        _partners[rewardId] = partner;
        emit RewardListed(rewardId, pilot, partner, cost, stock, expiry);
    }

    /// @inheritdoc IRewardCatalogue
    function updateReward(uint256 rewardId, uint32 stock, uint40 expiry) external {
        Reward storage reward = _reward(rewardId);
        uint16 pilot = reward.pilot;
        _registry.requireRole(pilot, _msgSender(), Roles.ADMIN);
        if (expiry <= block.timestamp) revert CatalogueBadExpiry(expiry);
        reward.stock = stock;
        reward.expiry = expiry;
        emit RewardUpdated(rewardId, pilot, stock, expiry);
    }

    /// @inheritdoc IRewardCatalogue
    function redeem(uint256 rewardId) external returns (uint256 redemptionId) {
        Reward memory reward = _reward(rewardId);
        _registry.requireActivePilot(reward.pilot);
        if (reward.expiry <= block.timestamp) revert CatalogueExpired(rewardId, reward.expiry);
        if (reward.stock == 0) revert CatalogueOutOfStock(rewardId);
        address member = _msgSender();
        redemptionId = (rewardId << 32) | reward.redeemed;
        // Cannot underflow: stock > 0 was checked just above.
        unchecked {
            reward.stock -= 1;
        }
        // Checked: `updateReward` may raise the stock at any time, so the count of redemptions
        // can reach 2^32; wrapping would issue an earlier redemption's id again.
        reward.redeemed += 1;
        _rewards[rewardId] = reward;
        // Only points of the reward's own pilot pay for it.
        _token.burnFor(reward.pilot, member, reward.cost);
        emit RewardRedeemed(reward.pilot, member, redemptionId, rewardId, reward.cost);
    }

    /// @inheritdoc IRewardCatalogue
    function fulfil(uint256 redemptionId) external {
        uint256 rewardId = redemptionId >> 32;
        Reward memory reward = _rewards[rewardId];
        // The low 32 bits of a redemption id are its index; bit i of a bitmap word is 1 << i.
        // forge-lint: disable-next-line(unsafe-typecast,incorrect-shift)
        if (reward.pilot == 0 || uint32(redemptionId) >= reward.redeemed) revert CatalogueUnknownRedemption(redemptionId);
        address partner = _msgSender();
        if (partner != _partners[rewardId]) revert CatalogueNotPartner(rewardId, partner);
        _registry.requireRole(reward.pilot, partner, Roles.PARTNER);
        // The low 32 bits of a redemption id are its index; bit i of a bitmap word is 1 << i.
        // forge-lint: disable-next-line(unsafe-typecast,incorrect-shift)
        uint256 bit = 1 << (redemptionId & 0xff);
        uint256 word = redemptionId >> 8;
        uint256 bits = _fulfilled[word];
        if (bits & bit != 0) revert CatalogueAlreadyFulfilled(redemptionId);
        _fulfilled[word] = bits | bit;
        emit RedemptionFulfilled(reward.pilot, partner, redemptionId);
    }

    /// @notice The reward `rewardId`.
    function rewardOf(uint256 rewardId)
        external
        view
        returns (uint16 pilot, address partner, uint64 cost, uint32 stock, uint32 redeemed, uint40 expiry)
    {
        Reward memory reward = _reward(rewardId);
        return (reward.pilot, _partners[rewardId], reward.cost, reward.stock, reward.redeemed, reward.expiry);
    }

    /// @notice Whether `redemptionId` was issued, and whether its partner has fulfilled it.
    function redemptionStatus(uint256 redemptionId) external view returns (bool issued, bool fulfilled) {
        Reward memory reward = _rewards[redemptionId >> 32];
        // The low 32 bits of a redemption id are its index; bit i of a bitmap word is 1 << i.
        // forge-lint: disable-next-line(unsafe-typecast,incorrect-shift)
        issued = reward.pilot != 0 && uint32(redemptionId) < reward.redeemed;
        // The low 32 bits of a redemption id are its index; bit i of a bitmap word is 1 << i.
        // forge-lint: disable-next-line(unsafe-typecast,incorrect-shift)
        fulfilled = _fulfilled[redemptionId >> 8] & (1 << (redemptionId & 0xff)) != 0;
    }

    /// @notice Number of rewards listed (ids 1..rewardCount).
    function rewardCount() external view returns (uint256) {
        return _rewardCount;
    }

    function _reward(uint256 rewardId) private view returns (Reward storage reward) {
        reward = _rewards[rewardId];
        if (reward.pilot == 0) revert CatalogueUnknownReward(rewardId);
    }
}
