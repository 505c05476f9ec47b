// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fixture} from "./utils/Fixture.sol";
import {IMaterialLedger} from "../src/interfaces/IMaterialLedger.sol";
import {IPilotRegistry} from "../src/interfaces/IPilotRegistry.sol";
import {Roles} from "../src/libraries/Roles.sol";

contract MaterialLedgerTest is Fixture {
    bytes32 internal constant EVIDENCE = keccak256("weigh ticket");
    uint8 internal constant LANDFILLED = uint8(IMaterialLedger.Fate.Landfilled);

    // ---- intake -------------------------------------------------------------------------------

    function test_intake_createsSecondaryLot() public {
        vm.expectEmit();
        emit IMaterialLedger.MaterialTakenIn(LEUVEN, alice, 1, wood, COLLECTION, 12_500, 10_000, EVIDENCE);
        uint256 lotId = _intake(alice, wood, COLLECTION, 12_500);
        IMaterialLedger.LotView memory lot = ledger.lotOf(lotId);
        assertEq(lotId, 1, "first lot id");
        assertEq(lot.holder, alice, "holder");
        assertEq(lot.grams, 12_500, "grams");
        assertEq(lot.pilot, LEUVEN, "pilot");
        assertEq(lot.materialId, wood, "material");
        assertEq(lot.recycledBp, 10_000, "secondary intake is fully recycled");
        assertEq(ledger.lotCount(), 1, "lot count");
    }

    function test_intake_virginHasNoRecycledContent() public {
        uint256 lotId = _intake(alice, plastic, VIRGIN, 4_000);
        assertEq(ledger.lotOf(lotId).recycledBp, 0, "virgin intake");
    }

    function testRevert_intake_zeroAmount() public {
        vm.expectRevert(IMaterialLedger.LedgerZeroAmount.selector);
        _intake(alice, wood, COLLECTION, 0);
    }

    function testRevert_intake_unknownMaterial() public {
        vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerUnknownMaterial.selector, uint16(0)));
        _intake(alice, 0, COLLECTION, 10);
        vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerUnknownMaterial.selector, uint16(4)));
        _intake(alice, 4, COLLECTION, 10);
    }

    function testRevert_intake_unknownSource() public {
        vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerUnknownSource.selector, uint8(0)));
        _intake(alice, wood, 0, 10);
        vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerUnknownSource.selector, uint8(6)));
        _intake(alice, wood, 6, 10);
    }

    function testRevert_intake_unknownPilot() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryUnknownPilot.selector, uint16(9)));
        ledger.intake(9, wood, COLLECTION, 10, EVIDENCE);
    }

    function testRevert_intake_notMaker() public {
        vm.expectRevert(
            abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, stranger, LEUVEN, Roles.MAKER)
        );
        _intake(stranger, wood, COLLECTION, 10);
    }

    function testRevert_intake_inactiveMaker() public {
        vm.prank(leuvenAdmin);
        registry.setMakerActive(LEUVEN, alice, false);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryMakerInactive.selector, LEUVEN, alice));
        _intake(alice, wood, COLLECTION, 10);
        vm.prank(leuvenAdmin);
        registry.setMakerActive(LEUVEN, alice, true);
        _intake(alice, wood, COLLECTION, 10);
    }

    function testRevert_intake_paused() public {
        registry.setPaused(true);
        vm.expectRevert(IPilotRegistry.RegistryPaused.selector);
        _intake(alice, wood, COLLECTION, 10);
    }

    function test_intakeBatch_consecutiveLots() public {
        IMaterialLedger.IntakeRecord[] memory records = new IMaterialLedger.IntakeRecord[](3);
        records[0] = IMaterialLedger.IntakeRecord(LEUVEN, wood, COLLECTION, 100, EVIDENCE);
        records[1] = IMaterialLedger.IntakeRecord(LEUVEN, plastic, VIRGIN, 200, EVIDENCE);
        records[2] = IMaterialLedger.IntakeRecord(LEUVEN, wood, COLLECTION, 300, EVIDENCE);
        vm.prank(alice);
        uint256 first = ledger.intakeBatch(records);
        assertEq(first, 1, "first lot");
        assertEq(ledger.lotCount(), 3, "lot count");
        assertEq(ledger.lotOf(2).grams, 200, "second lot grams");
        assertEq(ledger.lotOf(2).recycledBp, 0, "second lot is virgin");
        assertEq(ledger.lotOf(3).holder, alice, "holder");
    }

    function testRevert_intakeBatch_oneBadRecordRevertsAll() public {
        IMaterialLedger.IntakeRecord[] memory records = new IMaterialLedger.IntakeRecord[](2);
        records[0] = IMaterialLedger.IntakeRecord(LEUVEN, wood, COLLECTION, 100, EVIDENCE);
        records[1] = IMaterialLedger.IntakeRecord(LEUVEN, wood, COLLECTION, 0, EVIDENCE);
        vm.prank(alice);
        vm.expectRevert(IMaterialLedger.LedgerZeroAmount.selector);
        ledger.intakeBatch(records);
        assertEq(ledger.lotCount(), 0, "nothing recorded");
    }

    function testRevert_intakeBatch_empty() public {
        vm.prank(alice);
        vm.expectRevert(IMaterialLedger.LedgerEmptyBatch.selector);
        ledger.intakeBatch(new IMaterialLedger.IntakeRecord[](0));
    }

    /// @notice Pilot 0 is refused by the registry, not only by the material check.
    function testRevert_intakeBatch_pilotZero() public {
        IMaterialLedger.IntakeRecord[] memory records = new IMaterialLedger.IntakeRecord[](1);
        records[0] = IMaterialLedger.IntakeRecord(0, wood, COLLECTION, 100, EVIDENCE);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryUnknownPilot.selector, uint16(0)));
        ledger.intakeBatch(records);
    }

    function testRevert_intakeBatch_otherPilotChecked() public {
        IMaterialLedger.IntakeRecord[] memory records = new IMaterialLedger.IntakeRecord[](2);
        records[0] = IMaterialLedger.IntakeRecord(LEUVEN, wood, COLLECTION, 100, EVIDENCE);
        records[1] = IMaterialLedger.IntakeRecord(KAUNAS, wood, COLLECTION, 100, EVIDENCE);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, alice, KAUNAS, Roles.MAKER));
        ledger.intakeBatch(records);
    }

    // ---- transform ----------------------------------------------------------------------------

    function test_transform_balancedWithWeightedRecycledContent() public {
        uint256 virgin = _intake(alice, plastic, VIRGIN, 3_000);
        uint256 recycled = _intake(alice, wood, COLLECTION, 1_000);
        vm.prank(alice);
        uint256 first = ledger.transform(
            _pair(virgin, recycled), _pair48(3_000, 1_000), _outputs(chair, 3_500, wood, 300), 200, EVIDENCE
        );
        assertEq(first, 3, "first output lot");
        assertEq(ledger.lotOf(virgin).grams, 0, "input drained");
        assertEq(ledger.lotOf(3).grams, 3_500, "product");
        assertEq(ledger.lotOf(4).grams, 300, "residue");
        assertEq(ledger.lotOf(3).recycledBp, 2_500, "mass-weighted recycled content");
        assertEq(ledger.lotOf(4).recycledBp, 2_500, "residue carries the same share");
        assertEq(ledger.lotOf(3).materialId, chair, "product material");
    }

    function test_transform_roundsRecycledContentDown() public {
        uint256 recycled = _intake(alice, wood, COLLECTION, 1);
        uint256 virgin = _intake(alice, wood, VIRGIN, 2);
        vm.prank(alice);
        uint256 first = ledger.transform(
            _pair(recycled, virgin), _pair48(1, 2), _outputs(chair, 1, chair, 1), 1, EVIDENCE
        );
        // 1 g at 10000 bp and 2 g at 0 bp: 3333.33... bp, recorded as 3333 (never overstated).
        assertEq(ledger.lotOf(first).recycledBp, 3_333, "rounded down");
    }

    function test_transform_partialInputsAndEvent() public {
        uint256 a = _intake(alice, wood, COLLECTION, 10_000);
        uint256 b = _intake(alice, wood, COLLECTION, 5_000);
        IMaterialLedger.Output[] memory outputs = _outputs(chair, 6_000, wood, 1_000);
        vm.expectEmit();
        emit IMaterialLedger.MaterialTransformed(
            LEUVEN, alice, 3, _pair(a, b), _pair48(4_000, 3_500), outputs, 500, 10_000, EVIDENCE
        );
        vm.prank(alice);
        ledger.transform(_pair(a, b), _pair48(4_000, 3_500), outputs, 500, EVIDENCE);
        assertEq(ledger.lotOf(a).grams, 6_000, "rest of a");
        assertEq(ledger.lotOf(b).grams, 1_500, "rest of b");
    }

    function testRevert_transform_massImbalance() public {
        uint256 a = _intake(alice, wood, COLLECTION, 1_000);
        uint256 b = _intake(alice, wood, COLLECTION, 1_000);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerMassImbalance.selector, 2_000, 1_900, 50));
        ledger.transform(_pair(a, b), _pair48(1_000, 1_000), _outputs(chair, 1_500, wood, 400), 50, EVIDENCE);
    }

    function testRevert_transform_lossAbovePilotBound() public {
        uint256 a = _intake(alice, wood, COLLECTION, 1_000);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, alice, LEUVEN, Roles.ADMIN));
        ledger.setMaxLoss(LEUVEN, 100);
        vm.startPrank(leuvenAdmin);
        vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerBadShare.selector, 10_001));
        ledger.setMaxLoss(LEUVEN, 10_001);
        ledger.setMaxLoss(LEUVEN, 1_000); // at most 10 % of the inputs may be lost
        vm.stopPrank();
        assertEq(ledger.maxLossOf(LEUVEN), 1_000, "bound");
        IMaterialLedger.Output[] memory outputs = new IMaterialLedger.Output[](1);
        outputs[0] = IMaterialLedger.Output(chair, 899);
        uint256[] memory inputs = new uint256[](1);
        inputs[0] = a;
        uint48[] memory grams = new uint48[](1);
        grams[0] = 1_000;
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerLossTooHigh.selector, 1_000, 101, 1_000));
        ledger.transform(inputs, grams, outputs, 101, EVIDENCE);
        outputs[0] = IMaterialLedger.Output(chair, 900);
        vm.prank(alice);
        ledger.transform(inputs, grams, outputs, 100, EVIDENCE);
        assertEq(ledger.lotOf(a).grams, 0, "consumed within the bound");
    }

    function testRevert_transform_empty() public {
        uint256 a = _intake(alice, wood, COLLECTION, 1_000);
        vm.startPrank(alice);
        vm.expectRevert(IMaterialLedger.LedgerEmptyTransform.selector);
        ledger.transform(new uint256[](0), new uint48[](0), _outputs(chair, 1, chair, 1), 0, EVIDENCE);
        uint256[] memory inputs = new uint256[](1);
        inputs[0] = a;
        uint48[] memory grams = new uint48[](1);
        grams[0] = 1_000;
        vm.expectRevert(IMaterialLedger.LedgerEmptyTransform.selector);
        ledger.transform(inputs, grams, new IMaterialLedger.Output[](0), 1_000, EVIDENCE);
        vm.stopPrank();
    }

    function testRevert_transform_lengthMismatch() public {
        uint256 a = _intake(alice, wood, COLLECTION, 1_000);
        uint48[] memory grams = new uint48[](1);
        grams[0] = 1_000;
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerLengthMismatch.selector, 2, 1));
        ledger.transform(_pair(a, a), grams, _outputs(chair, 500, chair, 500), 0, EVIDENCE);
    }

    function testRevert_transform_notHolder() public {
        uint256 a = _intake(alice, wood, COLLECTION, 1_000);
        uint256 b = _intake(bob, wood, COLLECTION, 1_000);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerNotHolder.selector, b, bob, alice));
        ledger.transform(_pair(a, b), _pair48(1_000, 1_000), _outputs(chair, 1_000, chair, 1_000), 0, EVIDENCE);
    }

    function testRevert_transform_overdraw() public {
        uint256 a = _intake(alice, wood, COLLECTION, 1_000);
        uint256 b = _intake(alice, wood, COLLECTION, 1_000);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerInsufficientLot.selector, b, 1_000, 1_001));
        ledger.transform(_pair(a, b), _pair48(1_000, 1_001), _outputs(chair, 1_000, chair, 1_001), 0, EVIDENCE);
    }

    function testRevert_transform_sameLotTwiceCannotOverdraw() public {
        uint256 a = _intake(alice, wood, COLLECTION, 1_000);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerInsufficientLot.selector, a, 400, 700));
        ledger.transform(_pair(a, a), _pair48(600, 700), _outputs(chair, 650, chair, 650), 0, EVIDENCE);
    }

    function testRevert_transform_pilotMismatch() public {
        vm.prank(kaunasAdmin);
        registry.setPilotRole(KAUNAS, alice, Roles.MAKER, true);
        uint256 a = _intake(alice, wood, COLLECTION, 1_000);
        vm.prank(alice);
        uint256 k = ledger.intake(KAUNAS, wood, COLLECTION, 1_000, EVIDENCE);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerPilotMismatch.selector, k, KAUNAS, LEUVEN));
        ledger.transform(_pair(a, k), _pair48(1_000, 1_000), _outputs(chair, 1_000, chair, 1_000), 0, EVIDENCE);
    }

    function testRevert_transform_unknownLot() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerUnknownLot.selector, 77));
        ledger.transform(_pair(77, 78), _pair48(1, 1), _outputs(chair, 1, chair, 1), 0, EVIDENCE);
    }

    function testRevert_transform_zeroOutputAndUnknownOutputMaterial() public {
        uint256 a = _intake(alice, wood, COLLECTION, 1_000);
        uint256 b = _intake(alice, wood, COLLECTION, 1_000);
        vm.startPrank(alice);
        vm.expectRevert(IMaterialLedger.LedgerZeroAmount.selector);
        ledger.transform(_pair(a, b), _pair48(1_000, 1_000), _outputs(chair, 2_000, chair, 0), 0, EVIDENCE);
        vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerUnknownMaterial.selector, uint16(99)));
        ledger.transform(_pair(a, b), _pair48(1_000, 1_000), _outputs(chair, 1_000, 99, 1_000), 0, EVIDENCE);
        vm.stopPrank();
    }

    function testFuzz_transform_enforcesMassBalance(uint48 a, uint48 b, uint48 out1, uint48 out2, uint48 loss)
        public
    {
        a = uint48(bound(a, 1, 1e12));
        b = uint48(bound(b, 1, 1e12));
        out1 = uint48(bound(out1, 1, 2e12));
        out2 = uint48(bound(out2, 1, 2e12));
        loss = uint48(bound(loss, 0, 2e12));
        uint256 lotA = _intake(alice, wood, COLLECTION, a);
        uint256 lotB = _intake(alice, plastic, VIRGIN, b);
        uint256 inputs = uint256(a) + b;
        uint256 outputs = uint256(out1) + out2;
        vm.prank(alice);
        if (outputs + loss != inputs) {
            vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerMassImbalance.selector, inputs, outputs, loss));
        }
        ledger.transform(_pair(lotA, lotB), _pair48(a, b), _outputs(chair, out1, wood, out2), loss, EVIDENCE);
    }

    function testFuzz_transform_balancedAlwaysPasses(uint48 a, uint48 b, uint48 cut, uint48 loss) public {
        a = uint48(bound(a, 2, 1e12));
        b = uint48(bound(b, 1, 1e12));
        uint256 total = uint256(a) + b;
        loss = uint48(bound(loss, 0, total - 2));
        cut = uint48(bound(cut, 1, total - loss - 1));
        uint256 lotA = _intake(alice, wood, COLLECTION, a);
        uint256 lotB = _intake(alice, plastic, VIRGIN, b);
        vm.prank(alice);
        uint256 first = ledger.transform(
            _pair(lotA, lotB), _pair48(a, b), _outputs(chair, cut, wood, uint48(total - loss - cut)), loss, EVIDENCE
        );
        assertEq(ledger.lotOf(first).grams + ledger.lotOf(first + 1).grams + loss, total, "mass conserved");
    }

    function testFuzz_transform_recycledContentIsFlooredMassWeightedMean(uint48 a, uint48 b) public {
        a = uint48(bound(a, 1, 1e13));
        b = uint48(bound(b, 1, 1e13));
        uint256 lotA = _intake(alice, wood, COLLECTION, a);
        uint256 lotB = _intake(alice, wood, VIRGIN, b);
        uint256 total = uint256(a) + b;
        vm.prank(alice);
        uint256[] memory inputs = _pair(lotA, lotB);
        uint256 first = ledger.transform(inputs, _pair48(a, b), _outputs(chair, uint48(total - 1), wood, 1), 0, EVIDENCE);
        uint256 expected = (uint256(a) * 10_000) / total;
        assertEq(ledger.lotOf(first).recycledBp, expected, "floor of the mass-weighted mean");
        assertLe(ledger.lotOf(first).recycledBp * total, uint256(a) * 10_000, "never overstated");
    }

    // ---- transfer -----------------------------------------------------------------------------

    function test_transfer_wholeLotKeepsItsId() public {
        uint256 a = _intake(alice, wood, COLLECTION, 1_000);
        vm.expectEmit();
        emit IMaterialLedger.LotTransferred(LEUVEN, alice, a, bob, a, 1_000, EVIDENCE);
        vm.prank(alice);
        uint256 received = ledger.transfer(a, bob, 1_000, EVIDENCE);
        assertEq(received, a, "same lot");
        assertEq(ledger.lotOf(a).holder, bob, "new holder");
        assertEq(ledger.lotCount(), 1, "no new lot");
    }

    function test_transfer_partCreatesChildLot() public {
        uint256 a = _intake(alice, plastic, VIRGIN, 1_000);
        vm.prank(alice);
        uint256 received = ledger.transfer(a, bob, 300, EVIDENCE);
        assertEq(received, 2, "new lot");
        assertEq(ledger.lotOf(a).grams, 700, "rest stays");
        assertEq(ledger.lotOf(received).grams, 300, "part moved");
        assertEq(ledger.lotOf(received).holder, bob, "recipient");
        assertEq(ledger.lotOf(received).materialId, plastic, "material kept");
        assertEq(ledger.lotOf(received).recycledBp, 0, "recycled content kept");
    }

    function test_transfer_partOfRecycledLotKeepsItsRecycledContent() public {
        uint256 secondary = _intake(alice, wood, COLLECTION, 1_000);
        uint256 virgin = _intake(alice, wood, VIRGIN, 3_000);
        vm.prank(alice);
        uint256 mixed = ledger.transform(_pair(secondary, virgin), _pair48(1_000, 3_000), _outputs(chair, 3_900, wood, 100), 0, EVIDENCE);
        assertEq(ledger.lotOf(mixed).recycledBp, 2_500, "a quarter secondary");
        vm.prank(alice);
        uint256 part = ledger.transfer(mixed, bob, 1_000, EVIDENCE);
        assertEq(ledger.lotOf(part).recycledBp, 2_500, "the split part keeps the share");
        assertEq(ledger.lotOf(mixed).recycledBp, 2_500, "the rest keeps the share");
        uint256 whole = _intake(alice, wood, COLLECTION, 500);
        vm.prank(alice);
        uint256 half = ledger.transfer(whole, bob, 250, EVIDENCE);
        assertEq(ledger.lotOf(half).recycledBp, 10_000, "a part of a fully secondary lot");
    }

    function testRevert_transfer_toSelf() public {
        uint256 a = _intake(alice, wood, COLLECTION, 1_000);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerSelfTransfer.selector, a));
        ledger.transfer(a, alice, 10, EVIDENCE);
    }

    function testRevert_transfer_toNonMakerOrOtherPilot() public {
        uint256 a = _intake(alice, wood, COLLECTION, 1_000);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IPilotRegistry.RegistryUnauthorized.selector, carol, LEUVEN, Roles.MAKER));
        ledger.transfer(a, carol, 10, EVIDENCE);
    }

    function testRevert_transfer_overdrawAndZero() public {
        uint256 a = _intake(alice, wood, COLLECTION, 1_000);
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerInsufficientLot.selector, a, 1_000, 1_001));
        ledger.transfer(a, bob, 1_001, EVIDENCE);
        vm.expectRevert(IMaterialLedger.LedgerZeroAmount.selector);
        ledger.transfer(a, bob, 0, EVIDENCE);
        vm.stopPrank();
    }

    // ---- dispatch -----------------------------------------------------------------------------

    function test_dispatch_drawsFromLot() public {
        uint256 a = _intake(alice, wood, COLLECTION, 1_000);
        vm.expectEmit();
        emit IMaterialLedger.MaterialDispatched(LEUVEN, alice, a, 400, LANDFILLED, EVIDENCE);
        vm.prank(alice);
        ledger.dispatch(a, 400, LANDFILLED, EVIDENCE);
        assertEq(ledger.lotOf(a).grams, 600, "rest");
    }

    function testRevert_dispatch_unknownFate() public {
        uint256 a = _intake(alice, wood, COLLECTION, 1_000);
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerUnknownFate.selector, uint8(0)));
        ledger.dispatch(a, 1, 0, EVIDENCE);
        vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerUnknownFate.selector, uint8(8)));
        ledger.dispatch(a, 1, 8, EVIDENCE);
        vm.stopPrank();
    }

    function testRevert_dispatch_notHolderAndOverdraw() public {
        uint256 a = _intake(alice, wood, COLLECTION, 1_000);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerNotHolder.selector, a, alice, bob));
        ledger.dispatch(a, 1, LANDFILLED, EVIDENCE);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerInsufficientLot.selector, a, 1_000, 2_000));
        ledger.dispatch(a, 2_000, LANDFILLED, EVIDENCE);
    }

    function testRevert_lotOf_unknown() public {
        vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerUnknownLot.selector, 5));
        ledger.lotOf(5);
    }

    // ---- batching through multicall ------------------------------------------------------------

    function test_multicall_mixesActionsForOneMaker() public {
        uint256 a = _intake(alice, wood, COLLECTION, 1_000);
        bytes[] memory calls = new bytes[](2);
        calls[0] = abi.encodeCall(ledger.transfer, (a, bob, 100, EVIDENCE));
        calls[1] = abi.encodeCall(ledger.dispatch, (a, 900, LANDFILLED, EVIDENCE));
        vm.prank(alice);
        ledger.multicall(calls);
        assertEq(ledger.lotOf(a).grams, 0, "drained");
        assertEq(ledger.lotOf(2).holder, bob, "part handed over");
    }

    function test_expectNextLot_guardsABatchThatRefersToItsOwnLots() public {
        _intake(alice, wood, COLLECTION, 1_000);
        ledger.expectNextLot(2); // passes: lot 2 comes next
        bytes[] memory calls = new bytes[](2);
        calls[0] = abi.encodeCall(ledger.expectNextLot, (2));
        calls[1] = abi.encodeCall(ledger.intake, (LEUVEN, wood, COLLECTION, 500, EVIDENCE));
        vm.prank(bob);
        ledger.intake(LEUVEN, wood, COLLECTION, 700, EVIDENCE); // another transaction lands first
        vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerUnexpectedLot.selector, 2, 3));
        vm.prank(alice);
        ledger.multicall(calls);
        assertEq(ledger.lotCount(), 2, "nothing of the batch was recorded");
    }
}
