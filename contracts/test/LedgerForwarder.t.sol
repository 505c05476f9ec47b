// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fixture} from "./utils/Fixture.sol";
import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";
import {LedgerForwarder} from "../src/LedgerForwarder.sol";
import {IMaterialLedger} from "../src/interfaces/IMaterialLedger.sol";

contract LedgerForwarderTest is Fixture {
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant REQUEST_TYPEHASH = keccak256(
        "ForwardRequest(address from,address to,uint256 value,uint256 gas,uint256 nonce,uint48 deadline,bytes data)"
    );
    address internal relayer = address(0x2E1A7);

    function _request(ERC2771Forwarder fwd, address to, bytes memory data, uint48 deadline)
        internal
        view
        returns (ERC2771Forwarder.ForwardRequestData memory request)
    {
        bytes32 domain = keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("LoopLedger"), keccak256("1"), block.chainid, address(fwd))
        );
        bytes32 structHash = keccak256(
            abi.encode(REQUEST_TYPEHASH, alice, to, 0, 300_000, fwd.nonces(alice), deadline, keccak256(data))
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ALICE_KEY, keccak256(abi.encodePacked("\x19\x01", domain, structHash)));
        request = ERC2771Forwarder.ForwardRequestData({
            from: alice,
            to: to,
            value: 0,
            gas: 300_000,
            deadline: deadline,
            data: data,
            signature: abi.encodePacked(r, s, v)
        });
    }

    function _intakeCall() internal view returns (bytes memory) {
        return abi.encodeCall(ledger.intake, (LEUVEN, wood, COLLECTION, 2_000, keccak256("relayed")));
    }

    function test_relayedIntake_attributedToSigner() public {
        ERC2771Forwarder.ForwardRequestData memory request =
            _request(forwarder, address(ledger), _intakeCall(), uint48(block.timestamp + 1 hours));
        vm.prank(relayer);
        forwarder.execute(request);
        assertEq(ledger.lotOf(1).holder, alice, "signer holds the lot, not the relayer");
        assertEq(forwarder.nonces(alice), 1, "nonce used");
    }

    function testRevert_relayed_replay() public {
        ERC2771Forwarder.ForwardRequestData memory request =
            _request(forwarder, address(ledger), _intakeCall(), uint48(block.timestamp + 1 hours));
        vm.prank(relayer);
        forwarder.execute(request);
        vm.prank(relayer);
        vm.expectRevert();
        forwarder.execute(request);
        assertEq(ledger.lotCount(), 1, "recorded once");
    }

    function testRevert_relayed_otherChain() public {
        ERC2771Forwarder.ForwardRequestData memory request =
            _request(forwarder, address(ledger), _intakeCall(), uint48(block.timestamp + 1 hours));
        vm.chainId(block.chainid + 1);
        vm.prank(relayer);
        vm.expectRevert();
        forwarder.execute(request);
        assertEq(ledger.lotCount(), 0, "nothing recorded");
    }

    function testRevert_relayed_otherContractOrForwarder() public {
        ERC2771Forwarder.ForwardRequestData memory request =
            _request(forwarder, address(ledger), _intakeCall(), uint48(block.timestamp + 1 hours));
        request.to = address(contributions);
        vm.prank(relayer);
        vm.expectRevert();
        forwarder.execute(request);
        request.to = address(ledger);
        LedgerForwarder other = new LedgerForwarder();
        vm.prank(relayer);
        vm.expectRevert();
        other.execute(request);
        assertEq(ledger.lotCount(), 0, "nothing recorded");
    }

    function testRevert_relayed_afterDeadline() public {
        vm.warp(1_700_000_000);
        uint48 deadline = uint48(block.timestamp + 60);
        ERC2771Forwarder.ForwardRequestData memory request =
            _request(forwarder, address(ledger), _intakeCall(), deadline);
        vm.warp(deadline + 1);
        vm.prank(relayer);
        vm.expectRevert(abi.encodeWithSelector(ERC2771Forwarder.ERC2771ForwarderExpiredRequest.selector, deadline));
        forwarder.execute(request);
    }

    function test_relayedRedeem_burnsSignersPoints() public {
        vm.warp(1_700_000_000);
        vm.prank(leuvenAdmin);
        uint256 rewardId = catalogue.listReward(LEUVEN, partner, 30, 5, uint40(block.timestamp + 1 days));
        vm.prank(issuer);
        token.award(LEUVEN, alice, 50, 1);
        ERC2771Forwarder.ForwardRequestData memory request = _request(
            forwarder, address(catalogue), abi.encodeCall(catalogue.redeem, (rewardId)), uint48(block.timestamp + 60)
        );
        vm.prank(relayer);
        forwarder.execute(request);
        assertEq(token.balanceOf(alice), 20, "signer paid");
    }

    function test_relayedTransform_attributedToSigner() public {
        vm.prank(alice);
        ledger.intake(LEUVEN, wood, COLLECTION, 1_000, 0);
        uint256[] memory inputs = new uint256[](1);
        inputs[0] = 1;
        uint48[] memory grams = new uint48[](1);
        grams[0] = 1_000;
        IMaterialLedger.Output[] memory outputs = new IMaterialLedger.Output[](1);
        outputs[0] = IMaterialLedger.Output(chair, 900);
        bytes memory data = abi.encodeCall(ledger.transform, (inputs, grams, outputs, 100, bytes32(0)));
        ERC2771Forwarder.ForwardRequestData memory request =
            _request(forwarder, address(ledger), data, uint48(block.timestamp + 60));
        vm.prank(relayer);
        forwarder.execute(request);
        assertEq(ledger.lotOf(2).holder, alice, "output held by signer");
    }

    function test_relayedFailure_bubblesTargetError() public {
        bytes memory data = abi.encodeCall(ledger.intake, (LEUVEN, wood, COLLECTION, 0, bytes32(0)));
        ERC2771Forwarder.ForwardRequestData memory request =
            _request(forwarder, address(ledger), data, uint48(block.timestamp + 60));
        vm.prank(relayer);
        vm.expectRevert(IMaterialLedger.LedgerZeroAmount.selector);
        forwarder.execute(request);
        assertEq(forwarder.nonces(alice), 0, "nonce not used by a failed request");
    }

    function test_executeAll_allOrNothing() public {
        ERC2771Forwarder.ForwardRequestData[] memory requests = new ERC2771Forwarder.ForwardRequestData[](2);
        requests[0] = _request(forwarder, address(ledger), _intakeCall(), uint48(block.timestamp + 60));
        // The second request is signed with the next nonce but asks for an impossible intake.
        vm.prank(alice);
        ledger.intake(LEUVEN, wood, COLLECTION, 1, 0); // keeps lot ids predictable
        bytes memory bad = abi.encodeCall(ledger.intake, (LEUVEN, 999, COLLECTION, 5, bytes32(0)));
        requests[1] = _requestWithNonce(bad, 1);
        vm.prank(relayer);
        vm.expectRevert(abi.encodeWithSelector(IMaterialLedger.LedgerUnknownMaterial.selector, uint16(999)));
        forwarder.executeAll(requests);
        assertEq(ledger.lotCount(), 1, "nothing of the batch recorded");

        requests[1] = _requestWithNonce(_intakeCall(), 1);
        vm.prank(relayer);
        forwarder.executeAll(requests);
        assertEq(ledger.lotCount(), 3, "whole batch recorded");
        assertEq(ledger.lotOf(3).holder, alice, "attributed to the signer");
    }

    /// @notice A leaked signed request cannot be run (or its nonce burnt) through the base's
    ///         `executeBatch`, which skips failures and refunds to a caller-chosen address.
    function testRevert_executeBatch_disabled() public {
        ERC2771Forwarder.ForwardRequestData[] memory requests = new ERC2771Forwarder.ForwardRequestData[](1);
        requests[0] = _request(forwarder, address(ledger), _intakeCall(), uint48(block.timestamp + 60));
        vm.prank(relayer);
        vm.expectRevert(LedgerForwarder.LedgerForwarderBatchDisabled.selector);
        forwarder.executeBatch(requests, payable(relayer));
        assertEq(forwarder.nonces(alice), 0, "nonce not used");
        assertEq(ledger.lotCount(), 0, "nothing recorded");
    }

    function _requestWithNonce(bytes memory data, uint256 nonce)
        internal
        view
        returns (ERC2771Forwarder.ForwardRequestData memory request)
    {
        uint48 deadline = uint48(block.timestamp + 60);
        bytes32 domain = keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("LoopLedger"), keccak256("1"), block.chainid, address(forwarder))
        );
        bytes32 structHash =
            keccak256(abi.encode(REQUEST_TYPEHASH, alice, address(ledger), 0, 300_000, nonce, deadline, keccak256(data)));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ALICE_KEY, keccak256(abi.encodePacked("\x19\x01", domain, structHash)));
        request = ERC2771Forwarder.ForwardRequestData(alice, address(ledger), 0, 300_000, deadline, data, abi.encodePacked(r, s, v));
    }
}
