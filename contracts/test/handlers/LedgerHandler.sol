// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Test} from "../utils/Test.sol";
import {ContributionLedger} from "../../src/ContributionLedger.sol";
import {EngagementToken} from "../../src/EngagementToken.sol";
import {MaterialLedger} from "../../src/MaterialLedger.sol";
import {PilotRegistry} from "../../src/PilotRegistry.sol";
import {RewardCatalogue} from "../../src/RewardCatalogue.sol";
import {IMaterialLedger} from "../../src/interfaces/IMaterialLedger.sol";
import {Roles} from "../../src/libraries/Roles.sol";

/// @notice Drives the suite through meaningful actions only and keeps ghost totals that the
///         invariants compare with the contracts' state.
contract LedgerHandler is Test {
    MaterialLedger internal immutable ledger;
    EngagementToken internal immutable token;
    RewardCatalogue internal immutable catalogue;
    PilotRegistry internal immutable registry;
    ContributionLedger internal immutable contributions;
    uint16 internal immutable pilot;
    uint256 internal immutable rewardId;
    /// @dev A second pilot with its own reward: points must never cross between the two.
    uint16 public immutable otherPilot;
    uint256 internal immutable otherRewardId;
    address[2] internal makers;
    address internal immutable issuer;
    address[3] internal members;
    address public immutable stranger;
    uint16 public constant MATERIALS = 3;

    mapping(uint16 material => uint256) public intakeGrams;
    mapping(uint16 material => uint256) public producedGrams;
    mapping(uint16 material => uint256) public consumedGrams;
    mapping(uint16 material => uint256) public dispatchedGrams;
    uint256 public lossGrams;
    uint256 public awarded;
    uint256 public redeemed;
    mapping(uint16 pilot => uint256) public awardedIn;
    mapping(uint16 pilot => uint256) public redeemedIn;
    uint256 public crossPilotSuccesses;
    uint256 public strangerSuccesses;
    uint256 public unbalancedTries;
    uint256 public unbalancedAccepted;
    uint256 public calls;

    constructor(
        PilotRegistry registry_,
        MaterialLedger ledger_,
        ContributionLedger contributions_,
        EngagementToken token_,
        RewardCatalogue catalogue_,
        uint16[2] memory pilots_,
        uint256[2] memory rewardIds_,
        address[2] memory makers_,
        address issuer_,
        address stranger_
    ) {
        registry = registry_;
        ledger = ledger_;
        contributions = contributions_;
        token = token_;
        catalogue = catalogue_;
        pilot = pilots_[0];
        rewardId = rewardIds_[0];
        otherPilot = pilots_[1];
        otherRewardId = rewardIds_[1];
        makers = makers_;
        issuer = issuer_;
        stranger = stranger_;
        members = [address(0x3E31), address(0x3E32), address(0x3E33)];
    }

    function intake(uint256 makerSeed, uint256 materialSeed, uint256 virgin, uint256 grams) external {
        address maker = makers[makerSeed % 2];
        uint16 material = uint16(bound(materialSeed, 1, MATERIALS));
        grams = bound(grams, 1, 1e9);
        uint8 source = virgin % 4 == 0 ? 5 : uint8(bound(virgin, 1, 4));
        vm.prank(maker);
        ledger.intake(pilot, material, source, uint48(grams), bytes32(grams));
        intakeGrams[material] += grams;
        ++calls;
    }

    function transform(uint256 lotSeed, uint256 share, uint256 lossShare, uint256 materialSeed) external {
        (uint256 lotId, IMaterialLedger.LotView memory lot) = _someLot(lotSeed);
        if (lot.grams < 2) return;
        uint256 used = bound(share, 2, lot.grams);
        uint256 loss = bound(lossShare, 0, used - 1);
        uint16 outMaterial = uint16(bound(materialSeed, 1, MATERIALS));
        uint256[] memory inputs = new uint256[](1);
        inputs[0] = lotId;
        uint48[] memory grams = new uint48[](1);
        grams[0] = uint48(used);
        IMaterialLedger.Output[] memory outputs = new IMaterialLedger.Output[](1);
        outputs[0] = IMaterialLedger.Output(outMaterial, uint48(used - loss));
        vm.prank(lot.holder);
        ledger.transform(inputs, grams, outputs, uint48(loss), 0);
        consumedGrams[lot.materialId] += used;
        producedGrams[outMaterial] += used - loss;
        lossGrams += loss;
        ++calls;
    }

    function transfer(uint256 lotSeed, uint256 share) external {
        (uint256 lotId, IMaterialLedger.LotView memory lot) = _someLot(lotSeed);
        if (lot.grams == 0) return;
        uint256 grams = bound(share, 1, lot.grams);
        address to = lot.holder == makers[0] ? makers[1] : makers[0];
        vm.prank(lot.holder);
        ledger.transfer(lotId, to, uint48(grams), 0);
        ++calls;
    }

    function dispatch(uint256 lotSeed, uint256 share, uint256 fateSeed) external {
        (uint256 lotId, IMaterialLedger.LotView memory lot) = _someLot(lotSeed);
        if (lot.grams == 0) return;
        uint256 grams = bound(share, 1, lot.grams);
        vm.prank(lot.holder);
        ledger.dispatch(lotId, uint48(grams), uint8(bound(fateSeed, 1, 7)), 0);
        dispatchedGrams[lot.materialId] += grams;
        ++calls;
    }

    function award(uint256 memberSeed, uint256 amount, bool other) external {
        uint16 where = other ? otherPilot : pilot;
        amount = bound(amount, 1, 1_000);
        if (amount > token.awardBudget(where)) return;
        vm.prank(issuer);
        token.award(where, members[memberSeed % 3], uint64(amount), 1);
        awarded += amount;
        awardedIn[where] += amount;
        ++calls;
    }

    /// @dev Redeems when the member holds enough points of the reward's pilot; otherwise tries
    ///      anyway (with points of the other pilot perhaps) and counts a success as a breach.
    function redeem(uint256 memberSeed, bool other) external {
        address member = members[memberSeed % 3];
        uint256 id = other ? otherRewardId : rewardId;
        (uint16 where,, uint64 cost, uint32 stock,,) = catalogue.rewardOf(id);
        if (stock == 0) return;
        vm.prank(member);
        if (token.balanceIn(where, member) < cost) {
            try catalogue.redeem(id) {
                ++crossPilotSuccesses;
            } catch {}
            return;
        }
        catalogue.redeem(id);
        redeemed += cost;
        redeemedIn[where] += cost;
        ++calls;
    }

    function memberAt(uint256 i) external view returns (address) {
        return members[i];
    }

    /// @dev The holder tries a transformation whose outputs plus loss differ from its inputs (by
    ///      `offset` grams, up or down); the ledger must revert, whatever the amounts.
    function unbalancedTransform(uint256 lotSeed, uint256 share, uint256 lossShare, uint256 offset, bool more)
        external
    {
        (uint256 lotId, IMaterialLedger.LotView memory lot) = _someLot(lotSeed);
        if (lot.grams < 3) return;
        uint256 used = bound(share, 3, lot.grams);
        uint256 loss = bound(lossShare, 0, used - 2);
        uint256 out = used - loss;
        uint256 delta = bound(offset, 1, more ? 1e9 : out - 1);
        uint256[] memory inputs = new uint256[](1);
        inputs[0] = lotId;
        uint48[] memory grams = new uint48[](1);
        grams[0] = uint48(used);
        IMaterialLedger.Output[] memory outputs = new IMaterialLedger.Output[](1);
        outputs[0] = IMaterialLedger.Output(lot.materialId, uint48(more ? out + delta : out - delta));
        ++unbalancedTries;
        vm.prank(lot.holder);
        (bool ok,) = address(ledger).call(abi.encodeCall(ledger.transform, (inputs, grams, outputs, uint48(loss), 0)));
        if (ok) ++unbalancedAccepted;
    }

    /// @dev A role-less account tries every privileged action; none may succeed.
    function strangerActs(uint256 lotSeed, uint256 which) external {
        (uint256 lotId,) = _someLot(lotSeed);
        uint256[] memory inputs = new uint256[](1);
        inputs[0] = lotId;
        uint48[] memory grams = new uint48[](1);
        grams[0] = 1;
        IMaterialLedger.Output[] memory outputs = new IMaterialLedger.Output[](1);
        outputs[0] = IMaterialLedger.Output(1, 1);
        bytes memory data;
        address target = address(ledger);
        uint256 kind = which % 10;
        if (kind == 0) data = abi.encodeCall(ledger.intake, (pilot, 1, 1, 1, 0));
        else if (kind == 1) data = abi.encodeCall(ledger.transform, (inputs, grams, outputs, 0, 0));
        else if (kind == 2) data = abi.encodeCall(ledger.transfer, (lotId, makers[0], 1, 0));
        else if (kind == 3) data = abi.encodeCall(ledger.dispatch, (lotId, 1, 1, 0));
        else if (kind == 4) (target, data) = (address(token), abi.encodeCall(token.award, (pilot, stranger, 1, 1)));
        else if (kind == 5) (target, data) = (address(token), abi.encodeCall(token.setAwardBudget, (pilot, 1e9)));
        else if (kind == 6) {
            (target, data) = (address(catalogue), abi.encodeCall(catalogue.listReward, (pilot, stranger, 1, 1, 2e9)));
        } else if (kind == 7) {
            (target, data) = (address(registry), abi.encodeCall(registry.setPilotRole, (pilot, stranger, Roles.MAKER, true)));
        } else if (kind == 8) {
            (target, data) = (address(contributions), abi.encodeCall(contributions.recordContribution, (pilot, 1, 1, 0)));
        } else {
            (target, data) = (address(registry), abi.encodeCall(registry.setPaused, (true)));
        }
        vm.prank(stranger);
        (bool ok,) = target.call(data);
        if (ok) ++strangerSuccesses;
    }

    function _someLot(uint256 seed) internal view returns (uint256 lotId, IMaterialLedger.LotView memory lot) {
        uint256 count = ledger.lotCount();
        if (count == 0) return (0, lot);
        lotId = bound(seed, 1, count);
        lot = ledger.lotOf(lotId);
    }
}
