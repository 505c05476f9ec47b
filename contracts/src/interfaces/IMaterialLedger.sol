// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Material ledger of LoopLedger: intake, transformation, hand-over and fate of material lots.
/// @notice Quantities are grams; recycled content is in basis points (0..10000).
interface IMaterialLedger {
    /// @notice Where material taken in comes from. Virgin purchase is primary material.
    enum Source {
        None,
        MunicipalCollection,
        Donation,
        IndustrialSurplus,
        ProductReturn,
        VirginPurchase
    }

    /// @notice Where material leaving the system goes.
    enum Fate {
        None,
        InUse,
        Reused,
        Repaired,
        Recycled,
        Composted,
        Incinerated,
        Landfilled
    }

    /// @notice One intake in a batch.
    struct IntakeRecord {
        uint16 pilot;
        uint16 materialId;
        uint8 source; // a Source value, checked by the ledger
        uint48 grams;
        bytes32 evidence;
    }

    /// @notice One output of a transformation.
    struct Output {
        uint16 materialId;
        uint48 grams;
    }

    /// @notice A lot as the ledger holds it.
    struct LotView {
        address holder;
        uint48 grams;
        uint16 pilot;
        uint16 materialId;
        uint16 recycledBp;
    }

    /// @notice Inputs of a transformation do not equal its outputs plus its declared loss.
    error LedgerMassImbalance(uint256 inputs, uint256 outputs, uint256 loss);
    /// @notice An amount of zero grams was given.
    error LedgerZeroAmount();
    /// @notice `lotId` was never created.
    error LedgerUnknownLot(uint256 lotId);
    /// @notice `caller` acts on `lotId`, which `holder` holds.
    error LedgerNotHolder(uint256 lotId, address holder, address caller);
    /// @notice `requested` grams exceed the `available` grams of `lotId`.
    error LedgerInsufficientLot(uint256 lotId, uint256 available, uint256 requested);
    /// @notice `lotId` belongs to `lotPilot`, not to `pilot`.
    error LedgerPilotMismatch(uint256 lotId, uint16 lotPilot, uint16 pilot);
    /// @notice `materialId` is not a registered material class.
    error LedgerUnknownMaterial(uint16 materialId);
    /// @notice `source` is not one of Source's values.
    error LedgerUnknownSource(uint8 source);
    /// @notice `fate` is not one of Fate's values.
    error LedgerUnknownFate(uint8 fate);
    /// @notice A transformation needs at least one input and one output.
    error LedgerEmptyTransform();
    /// @notice Two arrays that go together differ in length.
    error LedgerLengthMismatch(uint256 expected, uint256 actual);
    /// @notice The next lot would be `actual`, not the `expected` id a batch was built for.
    error LedgerUnexpectedLot(uint256 expected, uint256 actual);
    /// @notice A lot cannot be handed to its own holder.
    error LedgerSelfTransfer(uint256 lotId);
    /// @notice A batch holds no records.
    error LedgerEmptyBatch();
    /// @notice A process loss of `loss` grams out of `inputs` passes the pilot's bound of `maxLossBp`.
    error LedgerLossTooHigh(uint256 inputs, uint256 loss, uint256 maxLossBp);
    /// @notice `bp` is not a share in basis points (0..10000).
    error LedgerBadShare(uint256 bp);

    /// @notice Material entered the system as a new lot.
    event MaterialTakenIn(
        uint16 indexed pilot,
        address indexed maker,
        uint256 indexed lotId,
        uint16 materialId,
        uint8 source,
        uint48 grams,
        uint16 recycledBp,
        bytes32 evidence
    );

    /// @notice Inputs were consumed into new output lots `firstOutputLot`, `firstOutputLot + 1`, ...
    event MaterialTransformed(
        uint16 indexed pilot,
        address indexed maker,
        uint256 indexed firstOutputLot,
        uint256[] inputLots,
        uint48[] inputGrams,
        Output[] outputs,
        uint48 loss,
        uint16 recycledBp,
        bytes32 evidence
    );

    /// @notice `grams` of `lotId` were handed to `to`, who now holds them as `receivedLot`
    ///         (`receivedLot == lotId` when the whole lot changed hands).
    event LotTransferred(
        uint16 indexed pilot,
        address indexed from,
        uint256 indexed lotId,
        address to,
        uint256 receivedLot,
        uint48 grams,
        bytes32 evidence
    );

    /// @notice `grams` of `lotId` left the system with `fate`.
    event MaterialDispatched(
        uint16 indexed pilot, address indexed maker, uint256 indexed lotId, uint48 grams, uint8 fate, bytes32 evidence
    );
    /// @notice The pilot admin bounded the process loss of `pilot`'s transformations (0: no bound).
    event MaxLossSet(uint16 indexed pilot, address indexed admin, uint16 maxLossBp);

    /// @notice Takes material into `pilot` as a new lot held by the caller. Active makers only.
    /// @return lotId the new lot
    function intake(uint16 pilot, uint16 materialId, uint8 source, uint48 grams, bytes32 evidence)
        external
        returns (uint256 lotId);

    /// @notice Records many intakes of the caller in one transaction; lot ids are consecutive.
    /// @return firstLotId the lot of the first record
    function intakeBatch(IntakeRecord[] calldata records) external returns (uint256 firstLotId);

    /// @notice Consumes input lots of the caller into new output lots with mass balance enforced.
    /// @return firstOutputLot the lot of the first output; the others follow it
    function transform(
        uint256[] calldata inputLots,
        uint48[] calldata inputGrams,
        Output[] calldata outputs,
        uint48 loss,
        bytes32 evidence
    ) external returns (uint256 firstOutputLot);

    /// @notice Bounds the process loss of `pilot`'s transformations to `maxLossBp` basis points of
    ///         their inputs (0: no bound). Pilot admin only. Emits MaxLossSet.
    function setMaxLoss(uint16 pilot, uint16 maxLossBp) external;

    /// @notice Hands `grams` of the caller's lot to another active maker of the same pilot.
    /// @return receivedLot the lot the recipient now holds
    function transfer(uint256 lotId, address to, uint48 grams, bytes32 evidence) external returns (uint256 receivedLot);

    /// @notice Records that `grams` of the caller's lot left the system with `fate`.
    function dispatch(uint256 lotId, uint48 grams, uint8 fate, bytes32 evidence) external;

    /// @notice The lot `lotId`.
    function lotOf(uint256 lotId) external view returns (LotView memory);

    /// @notice Number of lots created (ids 1..lotCount).
    function lotCount() external view returns (uint256);

    /// @notice Reverts unless the next lot created will be `lotId`. Put first in a `multicall`
    ///         whose later calls refer to lots its earlier calls create, so that the batch
    ///         cannot act on other lots should another transaction land first.
    function expectNextLot(uint256 lotId) external view;
}
