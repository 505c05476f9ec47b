// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";

import {IEngagementToken} from "./interfaces/IEngagementToken.sol";
import {IPilotRegistry} from "./interfaces/IPilotRegistry.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title EngagementToken
/// @notice Engagement points that community members earn for circular activities (drop-offs,
///         workshops, repair cafés, volunteering) and redeem for rewards. Every balance change
///         passes through `_update`, which admits mints and burns only. Points belong to the
///         pilot that awarded them (`_pilotBalances`); the ERC-20 balance is their sum.
contract EngagementToken is IEngagementToken, ERC20, ERC2771Context {
    /// @dev What `award` reads and writes for a pilot fits one slot.
    struct PilotPoints {
        uint64 budget;
        uint64 cap;
        uint64 awarded;
        uint64 redeemed;
    }

    IPilotRegistry private immutable _registry;
    address private _catalogue;
    mapping(uint16 pilot => PilotPoints) private _points;
    mapping(uint16 pilot => mapping(address member => uint256 balance)) private _pilotBalances;

    constructor(IPilotRegistry registry_, address trustedForwarder_)
        ERC20("LoopLedger Engagement Points", "LOOP")
        ERC2771Context(trustedForwarder_)
    {
        _registry = registry_;
    }

    /// @notice Sets the reward catalogue, once. Operator only. Emits CatalogueSet.
    function setCatalogue(address catalogue_) external {
        if (_registry.rolesOf(Roles.GLOBAL, _msgSender()) & Roles.OPERATOR == 0) {
            revert IPilotRegistry.RegistryUnauthorized(_msgSender(), Roles.GLOBAL, Roles.OPERATOR);
        }
        if (_catalogue != address(0)) revert TokenCatalogueAlreadySet(_catalogue);
        if (catalogue_ == address(0)) revert TokenZeroAddress();
        _catalogue = catalogue_;
        emit CatalogueSet(catalogue_);
    }

    /// @inheritdoc IEngagementToken
    function setAwardBudget(uint16 pilot, uint64 budget) external {
        address admin = _msgSender();
        _registry.requireRole(pilot, admin, Roles.ADMIN);
        _points[pilot].budget = budget;
        emit AwardBudgetSet(pilot, admin, budget);
    }

    /// @inheritdoc IEngagementToken
    function setAwardCap(uint16 pilot, uint64 cap) external {
        address operator = _msgSender();
        if (_registry.rolesOf(Roles.GLOBAL, operator) & Roles.OPERATOR == 0) {
            revert IPilotRegistry.RegistryUnauthorized(operator, Roles.GLOBAL, Roles.OPERATOR);
        }
        _registry.requireActivePilot(pilot);
        _points[pilot].cap = cap;
        emit AwardCapSet(pilot, operator, cap);
    }

    /// @inheritdoc IEngagementToken
    function award(uint16 pilot, address member, uint64 amount, uint16 reason) external {
        address issuer = _msgSender();
        _registry.requireRole(pilot, issuer, Roles.ISSUER);
        if (amount == 0) revert TokenZeroAmount();
        if (member == address(0)) revert TokenZeroAddress();
        PilotPoints memory points = _points[pilot];
        if (amount > points.budget) revert TokenBudgetExceeded(pilot, amount, points.budget);
        // The cap may have been lowered below what was awarded: then nothing is left.
        uint64 capLeft = points.cap > points.awarded ? points.cap - points.awarded : 0;
        if (amount > capLeft) revert TokenCapExceeded(pilot, amount, capLeft);
        // Cannot underflow or overflow: amount <= budget and awarded + amount <= cap (a uint64)
        // were checked just above.
        unchecked {
            points.budget -= amount;
            points.awarded += amount;
        }
        _points[pilot] = points;
        _mint(member, amount);
        // Cannot overflow: the pilot's balances sum to at most its `awarded`, a uint64.
        unchecked {
            _pilotBalances[pilot][member] += amount;
        }
        emit PointsAwarded(pilot, issuer, member, amount, reason, points.budget);
    }

    /// @inheritdoc IEngagementToken
    function burnFor(uint16 pilot, address member, uint256 amount) external {
        if (msg.sender != _catalogue) revert TokenOnlyCatalogue(msg.sender);
        if (amount == 0) revert TokenZeroAmount();
        uint256 balance = _pilotBalances[pilot][member];
        if (balance < amount) revert TokenInsufficientPoints(pilot, member, balance, amount);
        // Cannot underflow: amount <= balance, and the pilot's redeemed points never pass its
        // awarded ones (a uint64), since every burnt point was awarded in this pilot.
        unchecked {
            _pilotBalances[pilot][member] = balance - amount;
            _points[pilot].redeemed += uint64(amount);
        }
        _burn(member, amount);
    }

    /// @inheritdoc IEngagementToken
    function awardBudget(uint16 pilot) external view returns (uint256) {
        PilotPoints memory points = _points[pilot];
        uint64 capLeft = points.cap > points.awarded ? points.cap - points.awarded : 0;
        return points.budget < capLeft ? points.budget : capLeft;
    }

    /// @inheritdoc IEngagementToken
    function balanceIn(uint16 pilot, address member) external view returns (uint256) {
        return _pilotBalances[pilot][member];
    }

    /// @inheritdoc IEngagementToken
    function pointsOf(uint16 pilot) external view returns (uint64 budget, uint64 cap, uint64 awarded, uint64 redeemed) {
        PilotPoints memory points = _points[pilot];
        return (points.budget, points.cap, points.awarded, points.redeemed);
    }

    /// @notice The reward catalogue that may burn points.
    function catalogue() external view returns (address) {
        return _catalogue;
    }

    /// @notice Points are whole numbers.
    function decimals() public pure override returns (uint8) {
        return 0;
    }

    /// @notice Always reverts: points cannot be transferred.
    function transfer(address, uint256) public pure override returns (bool) {
        revert TokenNonTransferable();
    }

    /// @notice Always reverts: points cannot be transferred.
    function transferFrom(address, address, uint256) public pure override returns (bool) {
        revert TokenNonTransferable();
    }

    /// @notice Always reverts: points cannot be transferred, so there is nothing to approve.
    function approve(address, uint256) public pure override returns (bool) {
        revert TokenNonTransferable();
    }

    /// @dev The one place where balances change: only mints (from 0) and burns (to 0) pass.
    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) revert TokenNonTransferable();
        super._update(from, to, value);
    }

    function _msgSender() internal view override(Context, ERC2771Context) returns (address) {
        return ERC2771Context._msgSender();
    }

    function _msgData() internal view override(Context, ERC2771Context) returns (bytes calldata) {
        return ERC2771Context._msgData();
    }

    function _contextSuffixLength() internal view override(Context, ERC2771Context) returns (uint256) {
        return ERC2771Context._contextSuffixLength();
    }
}
