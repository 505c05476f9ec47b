// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";

import {IMaterialLedger} from "./interfaces/IMaterialLedger.sol";
import {IPilotRegistry} from "./interfaces/IPilotRegistry.sol";
import {Lot, LotLib} from "./libraries/LotLib.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title MaterialLedger
/// @notice Material lots of secondary raw materials and products: intake, transformation with
///         enforced mass balance, hand-over between makers, and end-of-life fate.
/// @dev Only active makers of a lot's pilot act, and only on lots they hold. Actions may be relayed
///      as EIP-712 signed requests through the trusted forwarder (ERC-2771), in which case they are
///      attributed to the signer. Recycled content follows the mass-balance chain-of-custody model
///      (ISO 22095): an output's share is the mass-weighted share of the consumed inputs, rounded
///      down, so a claim is never overstated.
contract MaterialLedger is IMaterialLedger, ERC2771Context, Multicall {
    uint16 private constant _FULL_RECYCLED_BP = 10_000;

    IPilotRegistry private immutable _registry;
    uint256 private _lotCount;
    mapping(uint256 lotId => Lot) private _lots;
    mapping(uint16 pilot => uint16 maxLossBp) private _maxLossBp;

    constructor(IPilotRegistry registry_, address trustedForwarder_) ERC2771Context(trustedForwarder_) {
        _registry = registry_;
    }

    /// @inheritdoc IMaterialLedger
    function intake(uint16 pilot, uint16 materialId, uint8 source, uint48 grams, bytes32 evidence)
        external
        returns (uint256 lotId)
    {
        address maker = _msgSender();
        uint16 materialCount = _registry.requireRole(pilot, maker, Roles.MAKER);
        lotId = ++_lotCount;
        _intake(lotId, maker, materialCount, pilot, materialId, source, grams, evidence);
    }

    /// @inheritdoc IMaterialLedger
    function intakeBatch(IntakeRecord[] calldata records) external returns (uint256 firstLotId) {
        uint256 n = records.length;
        if (n == 0) revert LedgerEmptyBatch();
        address maker = _msgSender();
        uint256 lotId = _lotCount;
        firstLotId = lotId + 1;
        uint16 checkedPilot;
        uint16 materialCount;
        for (uint256 i; i < n; ++i) {
            IntakeRecord calldata record = records[i];
            // The first record is always checked, so pilot 0 (never a real pilot) is refused by
            // the registry itself rather than by the material check that follows.
            if (i == 0 || record.pilot != checkedPilot) {
                materialCount = _registry.requireRole(record.pilot, maker, Roles.MAKER);
                checkedPilot = record.pilot;
            }
            _intake(
                ++lotId, maker, materialCount, record.pilot, record.materialId, record.source, record.grams, record.evidence
            );
        }
        _lotCount = lotId;
    }

    /// @inheritdoc IMaterialLedger
    function transform(
        uint256[] calldata inputLots,
        uint48[] calldata inputGrams,
        Output[] calldata outputs,
        uint48 loss,
        bytes32 evidence
    ) external returns (uint256 firstOutputLot) {
        if (inputLots.length == 0 || outputs.length == 0) revert LedgerEmptyTransform();
        if (inputGrams.length != inputLots.length) revert LedgerLengthMismatch(inputLots.length, inputGrams.length);
        address maker = _msgSender();
        uint16 pilot = _lots[inputLots[0]].pilot();
        if (pilot == 0) revert LedgerUnknownLot(inputLots[0]);
        uint16 materialCount = _registry.requireRole(pilot, maker, Roles.MAKER);
        (uint256 totalIn, uint16 recycledBp) = _consumeInputs(pilot, maker, inputLots, inputGrams);
        _checkOutputs(outputs, materialCount, loss, totalIn);
        uint256 maxLossBp = _maxLossBp[pilot];
        if (maxLossBp != 0 && uint256(loss) * 10_000 > totalIn * maxLossBp) {
            revert LedgerLossTooHigh(totalIn, loss, maxLossBp);
        }
        firstOutputLot = _createOutputs(maker, pilot, recycledBp, outputs);
        emit MaterialTransformed(pilot, maker, firstOutputLot, inputLots, inputGrams, outputs, loss, recycledBp, evidence);
    }

    /// @inheritdoc IMaterialLedger
    function setMaxLoss(uint16 pilot, uint16 maxLossBp) external {
        address admin = _msgSender();
        _registry.requireRole(pilot, admin, Roles.ADMIN);
        if (maxLossBp > 10_000) revert LedgerBadShare(maxLossBp);
        _maxLossBp[pilot] = maxLossBp;
        emit MaxLossSet(pilot, admin, maxLossBp);
    }

    /// @notice The largest process loss `pilot` accepts, in basis points of a transformation's
    ///         inputs (0: no bound).
    function maxLossOf(uint16 pilot) external view returns (uint16) {
        return _maxLossBp[pilot];
    }

    /// @inheritdoc IMaterialLedger
    function transfer(uint256 lotId, address to, uint48 grams, bytes32 evidence) external returns (uint256 receivedLot) {
        address from = _msgSender();
        Lot lot = _heldLot(lotId, from, grams);
        if (to == from) revert LedgerSelfTransfer(lotId);
        uint16 pilot = lot.pilot();
        _registry.requireRole(pilot, from, Roles.MAKER);
        _registry.requireRole(pilot, to, Roles.MAKER);
        if (grams == lot.grams()) {
            _lots[lotId] = lot.withHolder(to);
            receivedLot = lotId;
        } else {
            // Cannot underflow: _heldLot checked grams <= lot.grams().
            unchecked {
                _lots[lotId] = lot.withGrams(lot.grams() - grams);
            }
            receivedLot = ++_lotCount;
            _lots[receivedLot] = LotLib.pack(to, grams, pilot, lot.material(), lot.recycledBp());
        }
        emit LotTransferred(pilot, from, lotId, to, receivedLot, grams, evidence);
    }

    /// @inheritdoc IMaterialLedger
    function dispatch(uint256 lotId, uint48 grams, uint8 fate, bytes32 evidence) external {
        address maker = _msgSender();
        if (fate == uint8(Fate.None) || fate > uint8(type(Fate).max)) revert LedgerUnknownFate(fate);
        Lot lot = _heldLot(lotId, maker, grams);
        uint16 pilot = lot.pilot();
        _registry.requireRole(pilot, maker, Roles.MAKER);
        // Cannot underflow: _heldLot checked grams <= lot.grams().
        unchecked {
            _lots[lotId] = lot.withGrams(lot.grams() - grams);
        }
        emit MaterialDispatched(pilot, maker, lotId, grams, fate, evidence);
    }

    /// @inheritdoc IMaterialLedger
    function lotOf(uint256 lotId) external view returns (LotView memory) {
        Lot lot = _lots[lotId];
        if (!lot.exists()) revert LedgerUnknownLot(lotId);
        return LotView(lot.holder(), lot.grams(), lot.pilot(), lot.material(), lot.recycledBp());
    }

    /// @inheritdoc IMaterialLedger
    function lotCount() external view returns (uint256) {
        return _lotCount;
    }

    /// @inheritdoc IMaterialLedger
    function expectNextLot(uint256 lotId) external view {
        if (lotId != _lotCount + 1) revert LedgerUnexpectedLot(lotId, _lotCount + 1);
    }

    /// @notice The registry this ledger asks for roles.
    function registry() external view returns (IPilotRegistry) {
        return _registry;
    }

    // ----------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------

    function _intake(
        uint256 lotId,
        address maker,
        uint16 materialCount,
        uint16 pilot,
        uint16 materialId,
        uint8 source,
        uint48 grams,
        bytes32 evidence
    ) private {
        if (source == uint8(Source.None) || source > uint8(type(Source).max)) revert LedgerUnknownSource(source);
        _checkMaterial(materialId, materialCount);
        if (grams == 0) revert LedgerZeroAmount();
        uint16 recycledBp = source == uint8(Source.VirginPurchase) ? 0 : _FULL_RECYCLED_BP;
        _lots[lotId] = LotLib.pack(maker, grams, pilot, materialId, recycledBp);
        emit MaterialTakenIn(pilot, maker, lotId, materialId, source, grams, recycledBp, evidence);
    }

    /// @dev Draws every input from the maker's lots and returns the total and the mass-weighted
    ///      recycled content, rounded down.
    function _consumeInputs(uint16 pilot, address maker, uint256[] calldata inputLots, uint48[] calldata inputGrams)
        private
        returns (uint256 totalIn, uint16 recycledBp)
    {
        uint256 weighted;
        for (uint256 i; i < inputLots.length; ++i) {
            uint256 lotId = inputLots[i];
            uint48 grams = inputGrams[i];
            Lot lot = _heldLot(lotId, maker, grams);
            if (lot.pilot() != pilot) revert LedgerPilotMismatch(lotId, lot.pilot(), pilot);
            // Cannot underflow: _heldLot checked grams <= lot.grams().
            unchecked {
                _lots[lotId] = lot.withGrams(lot.grams() - grams);
            }
            totalIn += grams;
            weighted += uint256(grams) * lot.recycledBp();
        }
        // At most 10000 since every recycledBp is at most 10000; totalIn > 0 since grams > 0.
        // forge-lint: disable-next-line(unsafe-typecast)
        recycledBp = uint16(weighted / totalIn);
    }

    /// @dev Reverts unless every output is a known material of non-zero mass and the outputs
    ///      plus the loss equal the inputs.
    function _checkOutputs(Output[] calldata outputs, uint16 materialCount, uint48 loss, uint256 totalIn)
        private
        pure
    {
        uint256 totalOut;
        for (uint256 i; i < outputs.length; ++i) {
            _checkMaterial(outputs[i].materialId, materialCount);
            if (outputs[i].grams == 0) revert LedgerZeroAmount();
            totalOut += outputs[i].grams;
        }
        if (totalOut + loss != totalIn) revert LedgerMassImbalance(totalIn, totalOut, loss);
    }

    function _createOutputs(address maker, uint16 pilot, uint16 recycledBp, Output[] calldata outputs)
        private
        returns (uint256 firstOutputLot)
    {
        uint256 lotId = _lotCount;
        firstOutputLot = lotId + 1;
        for (uint256 i; i < outputs.length; ++i) {
            _lots[++lotId] = LotLib.pack(maker, outputs[i].grams, pilot, outputs[i].materialId, recycledBp);
        }
        _lotCount = lotId;
    }

    /// @dev The lot `lotId`, after checking that `caller` holds it and that `grams` can be drawn from it.
    function _heldLot(uint256 lotId, address caller, uint48 grams) private view returns (Lot lot) {
        lot = _lots[lotId];
        if (!lot.exists()) revert LedgerUnknownLot(lotId);
        if (lot.holder() != caller) revert LedgerNotHolder(lotId, lot.holder(), caller);
        if (grams == 0) revert LedgerZeroAmount();
        if (grams > lot.grams()) revert LedgerInsufficientLot(lotId, lot.grams(), grams);
    }

    function _checkMaterial(uint16 materialId, uint16 materialCount) private pure {
        if (materialId == 0 || materialId > materialCount) revert LedgerUnknownMaterial(materialId);
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
