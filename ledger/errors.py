"""Exceptions of LoopLedger: one root, with subclasses that say what went wrong and what to do.

Contract reverts are decoded by selector into :class:`ContractRevert` subclasses named after the
Solidity custom error (see :mod:`ledger.contract_errors`).
"""

from __future__ import annotations

__all__ = [
    "ChainError",
    "ChainIdMismatch",
    "ChainUnreachable",
    "ConfigError",
    "DeploymentError",
    "LedgerError",
    "NotDeployed",
    "PortInUse",
    "StaleManifest",
    "StateLost",
    "ToolchainError",
    "TransactionFailed",
]


class LedgerError(Exception):
    """Root of every error LoopLedger raises on purpose. Its message is meant for the user."""


class ConfigError(LedgerError):
    """A setting or an input file is invalid."""


class ToolchainError(LedgerError):
    """The Solidity toolchain is missing or broken (node, npm packages, the solc bridge)."""


class ChainError(LedgerError):
    """The chain cannot be used."""


class ChainUnreachable(ChainError):
    """The JSON-RPC endpoint does not answer. Worth retrying."""


class ChainIdMismatch(ChainError):
    """The endpoint answers with another chain id than the one expected."""


class PortInUse(ChainError):
    """A port LoopLedger wants to listen on is taken."""


class StateLost(ChainError):
    """The local chain's state file cannot be read; it was set aside with what depended on it."""


class DeploymentError(LedgerError):
    """The contract suite cannot be deployed or found."""


class StaleManifest(DeploymentError):
    """The deployment manifest describes another chain, a reset chain, or other contracts."""


class NotDeployed(DeploymentError):
    """No deployment manifest exists yet."""


class TransactionFailed(LedgerError):
    """A transaction was mined but reverted, or could not be sent."""
