// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Role bits of LoopLedger.
/// @notice Per-pilot roles live in the pilot's own slot of the registry; global roles live under
///         pilot 0, which is never a real pilot. A maker with SUSPENDED set keeps its history but
///         cannot act until the pilot admin lifts the suspension.
library Roles {
    // Per-pilot roles.
    uint8 internal constant ADMIN = 1;
    uint8 internal constant MAKER = 2;
    uint8 internal constant PARTNER = 4;
    uint8 internal constant ISSUER = 8;
    /// A programme's enabler: proposes and confirms exchange matches for the makers it serves.
    uint8 internal constant FACILITATOR = 64;
    uint8 internal constant SUSPENDED = 128;
    uint8 internal constant PILOT_ROLES = ADMIN | MAKER | PARTNER | ISSUER | FACILITATOR;

    // Global roles, held under pilot 0.
    uint16 internal constant GLOBAL = 0;
    uint8 internal constant OPERATOR = 1;
    uint8 internal constant AUDITOR = 2;
    uint8 internal constant GLOBAL_ROLES = OPERATOR | AUDITOR;
}
