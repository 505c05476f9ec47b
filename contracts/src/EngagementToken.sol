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
///         passes through `_update`, which admits mints and burns only.
contract EngagementToken is IEngagementToken, ERC20, ERC2771Context {
    IPilotRegistry private immutable _registry;
    address private _catalogue;
    mapping(uint16 pilot => uint256 budget) private _budgets;

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
        _budgets[pilot] = budget;
        emit AwardBudgetSet(pilot, admin, budget);
    }

    /// @inheritdoc IEngagementToken
    function award(uint16 pilot, address member, uint64 amount, uint16 reason) external {
        address issuer = _msgSender();
        _registry.requireRole(pilot, issuer, Roles.ISSUER);
        if (amount == 0) revert TokenZeroAmount();
        if (member == address(0)) revert TokenZeroAddress();
        uint256 budget = _budgets[pilot];
        if (amount > budget) revert TokenBudgetExceeded(pilot, amount, budget);
        // Cannot underflow: amount <= budget was checked just above.
        unchecked {
            budget -= amount;
        }
        _budgets[pilot] = budget;
        _mint(member, amount);
        emit PointsAwarded(pilot, issuer, member, amount, reason, budget);
    }

    /// @inheritdoc IEngagementToken
    function burnFor(address member, uint256 amount) external {
        if (msg.sender != _catalogue) revert TokenOnlyCatalogue(msg.sender);
        if (amount == 0) revert TokenZeroAmount();
        _burn(member, amount);
    }

    /// @inheritdoc IEngagementToken
    function awardBudget(uint16 pilot) external view returns (uint256) {
        return _budgets[pilot];
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
