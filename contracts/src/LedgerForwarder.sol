// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

/// @title LedgerForwarder
/// @notice Relays EIP-712 signed requests of makers and members (ERC-2771). The EIP-712 domain
///         ("LoopLedger", "1", chain id, this address) and the per-signer nonce stop a request
///         from being replayed on another chain, through another forwarder, or twice; the
///         request's deadline bounds its life.
/// @dev Unlike OpenZeppelin's base, a failing relayed call reverts with the target's own revert
///      data (so a client sees `LedgerMassImbalance(...)`, not `FailedCall()`), and `executeAll`
///      records a batch of requests entirely or not at all. The base's `executeBatch` is
///      disabled: it skips failing requests (burning their nonces) and refunds their value to an
///      address of the caller's choice, a path the gateway never takes; a leaked signed request
///      can then only run through `execute` or `executeAll`, which record it whole or revert.
contract LedgerForwarder is ERC2771Forwarder {
    /// @notice `executeBatch` is disabled; use `executeAll` (all or nothing) or `execute`.
    error LedgerForwarderBatchDisabled();

    constructor() ERC2771Forwarder("LoopLedger") {}

    /// @notice Always reverts: use `executeAll` or `execute`.
    function executeBatch(ForwardRequestData[] calldata, address payable) public payable override {
        revert LedgerForwarderBatchDisabled();
    }

    /// @notice Executes one signed request; reverts with the target's error if the call fails.
    /// @dev Emits ExecutedForwardRequest.
    function execute(ForwardRequestData calldata request) public payable override {
        if (msg.value != request.value) revert ERC2771ForwarderMismatchedValue(request.value, msg.value);
        _executeOrRevert(request);
    }

    /// @notice Executes signed requests in order, all or nothing: any invalid request or failing
    ///         call reverts the whole batch with that request's error. Anyone may relay.
    /// @dev Emits ExecutedForwardRequest per request.
    function executeAll(ForwardRequestData[] calldata requests) external payable {
        uint256 total;
        for (uint256 i; i < requests.length; ++i) {
            total += requests[i].value;
            _executeOrRevert(requests[i]);
        }
        if (total != msg.value) revert ERC2771ForwarderMismatchedValue(total, msg.value);
    }

    function _executeOrRevert(ForwardRequestData calldata request) private {
        (bool trusted, bool active, bool signerMatch, address signer) = _validate(request);
        if (!trusted) revert ERC2771UntrustfulTarget(request.to, address(this));
        if (!active) revert ERC2771ForwarderExpiredRequest(request.deadline);
        if (!signerMatch) revert ERC2771ForwarderInvalidSigner(signer, request.from);
        // The nonce is used before the call so that a re-entering call cannot replay it.
        uint256 nonce = _useNonce(signer);
        uint256 requestedGas = request.gas;
        (bool success, bytes memory reason) =
            request.to.call{gas: requestedGas, value: request.value}(abi.encodePacked(request.data, request.from));
        // As in OpenZeppelin's base: if the relayer gave the call less gas than the signer asked
        // for (EIP-150 keeps 1/64 back), fail hard so the relayer cannot grief the signer.
        if (gasleft() < requestedGas / 63) {
            assembly ("memory-safe") {
                invalid()
            }
        }
        emit ExecutedForwardRequest(signer, nonce, success);
        if (!success) {
            assembly ("memory-safe") {
                revert(add(reason, 0x20), mload(reason))
            }
        }
    }
}
