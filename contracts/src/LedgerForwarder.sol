// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

/// @title LedgerForwarder
/// @notice Relays EIP-712 signed requests of makers and members (ERC-2771). The EIP-712 domain
///         ("LoopLedger", "1", chain id, this address) and the per-signer nonce stop a request
///         from being replayed on another chain, through another forwarder, or twice; the
///         request's deadline bounds its life.
contract LedgerForwarder is ERC2771Forwarder {
    constructor() ERC2771Forwarder("LoopLedger") {}
}
