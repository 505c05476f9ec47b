"""Sending transactions: directly from a local key, or as an EIP-712 signed request relayed
through the ERC-2771 forwarder (the chain then attributes the action to the signer).

Every call is simulated first, so a revert surfaces as the contract's custom error, decoded into
a named Python exception, and nothing is sent.
"""

from __future__ import annotations

import ast
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from eth_abi import encode
from eth_account.signers.local import LocalAccount
from eth_tester.exceptions import TransactionFailed as TesterTransactionFailed
from eth_typing import Hash32, HexStr
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError, TimeExhausted, Web3RPCError
from web3.types import TxParams, TxReceipt

from ledger.contract_errors import decode_revert
from ledger.errors import LedgerError, TransactionFailed

__all__ = ["Call", "Receipt", "Transactor"]

#: How a node reports a revert: web3's exception for JSON-RPC nodes, eth-tester's in process.
REVERTS = (ContractLogicError, TesterTransactionFailed)

#: Gas a relayed call may use; the forwarder checks that the relayer supplied it.
RELAYED_CALL_GAS = 2_000_000

#: ERC2771Forwarder.ForwardRequestData, in ABI order.
REQUEST_FIELDS = ("from", "to", "value", "gas", "deadline", "data", "signature")
REQUEST_TYPE = "(address,address,uint256,uint256,uint48,bytes,bytes)"
EXECUTE = function_signature_to_4byte_selector(f"execute({REQUEST_TYPE})")
EXECUTE_ALL = function_signature_to_4byte_selector(f"executeAll({REQUEST_TYPE}[])")

FORWARD_REQUEST_TYPES = {
    "ForwardRequest": [
        {"name": "from", "type": "address"},
        {"name": "to", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "gas", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint48"},
        {"name": "data", "type": "bytes"},
    ]
}


FORWARD_REQUEST_TYPEHASH = keccak(
    text="ForwardRequest(address from,address to,uint256 value,uint256 gas,uint256 nonce,"
    "uint48 deadline,bytes data)"
)
EIP712_DOMAIN_TYPEHASH = keccak(
    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)


@dataclass(frozen=True)
class Call:
    """A contract call: target address and ABI-encoded calldata."""

    to: str
    data: bytes


@dataclass(frozen=True)
class Receipt:
    """A mined, successful transaction and its raw logs."""

    tx_hash: str
    block_number: int
    block_hash: str
    gas_used: int
    logs: Sequence[Any] = field(repr=False)


def _revert_data(exc: Exception) -> bytes | None:
    if isinstance(exc, TesterTransactionFailed):
        # eth-tester reports a revert as the text "execution reverted: b'...'".
        text = str(exc).removeprefix("execution reverted: ")
        try:
            value = ast.literal_eval(text) if text.startswith(("b'", 'b"')) else None
        except (ValueError, SyntaxError):
            value = None
        return value if isinstance(value, bytes) and len(value) >= 4 else None
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        return bytes.fromhex(data[2:])
    if isinstance(data, bytes) and len(data) >= 4:
        return data
    return None


def _as_ledger_error(exc: Exception) -> LedgerError:
    data = _revert_data(exc)
    if data is None:
        return TransactionFailed(f"the contract reverted: {exc}")
    return decode_revert(data)


class Transactor:
    """Signs and sends transactions for local accounts, keeping nonces in process."""

    def __init__(
        self,
        w3: Web3,
        *,
        forwarder: Any | None = None,
        relayer: LocalAccount | None = None,
        receipt_timeout: float = 120.0,
    ) -> None:
        self.w3 = w3
        self.forwarder = forwarder
        self.relayer = relayer
        self.receipt_timeout = receipt_timeout
        self._nonces: dict[str, int] = {}
        self._lock = threading.Lock()
        self._chain_id = int(w3.eth.chain_id)
        self._domain: bytes | None = None

    # ---- direct -------------------------------------------------------------------------------

    def simulate(self, sender: str, call: Call) -> bytes:
        """eth_call as `sender`; raises the decoded custom error on revert."""
        try:
            result = self.w3.eth.call({"from": sender, "to": call.to, "data": call.data})
        except REVERTS as exc:
            raise _as_ledger_error(exc) from None
        return bytes(result)

    def send(self, account: LocalAccount, call: Call, *, gas: int | None = None) -> str:
        """Validate (estimate gas), sign and send; returns the transaction hash without waiting."""
        tx: dict[str, Any] = {
            "from": account.address,
            "to": to_checksum_address(call.to),
            "data": call.data,
        }
        return self._submit(account, tx, gas)

    def _submit(
        self, account: LocalAccount, tx: dict[str, Any], gas: int | None, *, margin: int = 10_000
    ) -> str:
        """Estimate (a revert raises the decoded error), sign with the next nonce and send."""
        if gas is None:
            try:
                gas = int(self.w3.eth.estimate_gas(cast(TxParams, tx)) * 1.2) + margin
            except REVERTS as exc:
                raise _as_ledger_error(exc) from None
        with self._lock:
            nonce = self._nonces.get(account.address)
            if nonce is None:
                nonce = int(self.w3.eth.get_transaction_count(account.address, "pending"))
            tx.update(
                {
                    "gas": gas,
                    "nonce": nonce,
                    "chainId": self._chain_id,
                    "maxFeePerGas": self._max_fee(),
                    "maxPriorityFeePerGas": 1_000_000_000,
                }
            )
            try:
                tx_hash = self.w3.eth.send_raw_transaction(
                    account.sign_transaction(tx).raw_transaction
                )
            except Web3RPCError as exc:
                if "nonce" not in str(exc).lower():
                    self._nonces.pop(account.address, None)
                    raise TransactionFailed(f"the node refused the transaction: {exc}") from exc
                # Another program sent from this account: take the node's nonce and try once more.
                tx["nonce"] = int(self.w3.eth.get_transaction_count(account.address, "pending"))
                tx_hash = self.w3.eth.send_raw_transaction(
                    account.sign_transaction(tx).raw_transaction
                )
            self._nonces[account.address] = int(tx["nonce"]) + 1
        return "0x" + bytes(tx_hash).hex()

    def wait(self, tx_hash: str) -> Receipt:
        """Wait for the receipt; a reverted transaction raises TransactionFailed."""
        try:
            receipt: TxReceipt = self.w3.eth.wait_for_transaction_receipt(
                HexStr(tx_hash), timeout=self.receipt_timeout, poll_latency=0.02
            )
        except TimeExhausted as exc:
            raise TransactionFailed(
                f"transaction {tx_hash} was not mined within {self.receipt_timeout} s"
            ) from exc
        if receipt["status"] != 1:
            raise TransactionFailed(
                f"transaction {tx_hash} reverted on chain (block {receipt['blockNumber']})"
            )
        return Receipt(
            tx_hash=tx_hash,
            block_number=int(receipt["blockNumber"]),
            block_hash="0x" + bytes(receipt["blockHash"]).hex(),
            gas_used=int(receipt["gasUsed"]),
            logs=list(receipt["logs"]),
        )

    def deploy(self, account: LocalAccount, creation_code: bytes) -> tuple[str, Receipt]:
        """Deploy a contract; returns its address and the receipt."""
        tx: dict[str, Any] = {"from": account.address, "data": creation_code}
        receipt = self.wait(self._submit(account, tx, None, margin=50_000))
        raw = self.w3.eth.get_transaction_receipt(HexStr(receipt.tx_hash))
        address = raw["contractAddress"]
        if address is None:
            raise TransactionFailed(f"transaction {receipt.tx_hash} created no contract")
        return to_checksum_address(address), receipt

    def transact(self, account: LocalAccount, call: Call) -> Receipt:
        """Send from `account` and wait for success."""
        return self.wait(self.send(account, call))

    # ---- relayed ------------------------------------------------------------------------------

    def sign_request(
        self, signer: LocalAccount, call: Call, *, gas: int, deadline: int, nonce: int
    ) -> dict[str, Any]:
        """An ERC-2771 ForwardRequestData signed by `signer` (EIP-712).

        The EIP-712 digest is hashed here directly (domain separator cached) and signed with
        ``unsafe_sign_hash``: the same signature as ``sign_typed_data`` (a test compares them),
        at a fraction of its cost, which matters when the gateway signs every request.
        """
        to = to_checksum_address(call.to)
        digest = self.request_digest(signer.address, to, gas, nonce, deadline, call.data)
        signed = signer.unsafe_sign_hash(Hash32(digest))
        return {
            "from": signer.address,
            "to": to,
            "value": 0,
            "gas": gas,
            "deadline": deadline,
            "data": call.data,
            "signature": bytes(signed.signature),
        }

    def request_digest(
        self, sender: str, to: str, gas: int, nonce: int, deadline: int, data: bytes
    ) -> bytes:
        """The EIP-712 digest a forward request's signature covers (value is always 0)."""
        if self.forwarder is None:
            raise LedgerError("no forwarder is configured for relayed requests")
        struct = keccak(
            FORWARD_REQUEST_TYPEHASH
            + encode(
                ["address", "address", "uint256", "uint256", "uint256", "uint48", "bytes32"],
                [sender, to, 0, gas, nonce, deadline, keccak(data)],
            )
        )
        return keccak(b"\x19\x01" + self._domain_separator() + struct)

    def _domain_separator(self) -> bytes:
        if self._domain is None:
            assert self.forwarder is not None
            self._domain = keccak(
                encode(
                    ["bytes32", "bytes32", "bytes32", "uint256", "address"],
                    [
                        EIP712_DOMAIN_TYPEHASH,
                        keccak(text="LoopLedger"),
                        keccak(text="1"),
                        self._chain_id,
                        to_checksum_address(self.forwarder.address),
                    ],
                )
            )
        return self._domain

    def relay(self, signer: LocalAccount, call: Call, *, ttl: int = 3600) -> Receipt:
        """Sign `call` as `signer` and have the relayer execute it through the forwarder."""
        return self.submit_relayed([self.request_for(signer, call, ttl=ttl)])

    def request_for(
        self, signer: LocalAccount, call: Call, *, ttl: int = 3600, nonce: int | None = None
    ) -> dict[str, Any]:
        """A signed forward request for `call` (the signer's next nonce unless given)."""
        if self.forwarder is None:
            raise LedgerError("no forwarder is configured for relayed requests")
        if nonce is None:
            nonce = int(self.forwarder.functions.nonces(signer.address).call())
        return self.sign_request(
            signer, call, gas=RELAYED_CALL_GAS, deadline=int(time.time()) + ttl, nonce=nonce
        )

    def submit_relayed(
        self, requests: Sequence[dict[str, Any]], *, gas: int | None = None
    ) -> Receipt:
        """Execute signed requests through the forwarder in one transaction, all or nothing.

        The forwarder reverts with the failing call's own error, which the gas estimate surfaces
        as a named exception before anything is sent.
        """
        if self.forwarder is None or self.relayer is None:
            raise LedgerError("relaying needs a forwarder and a relayer account")
        rows = [tuple(r[k] for k in REQUEST_FIELDS) for r in requests]
        if len(rows) == 1:
            data = EXECUTE + encode([REQUEST_TYPE], rows)
        else:
            data = EXECUTE_ALL + encode([REQUEST_TYPE + "[]"], [rows])
        return self.wait(self.send(self.relayer, Call(self.forwarder.address, data), gas=gas))

    def _max_fee(self) -> int:
        base = self.w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0
        return int(base) * 2 + 2_000_000_000
