"""Every custom error of the contracts has a Python exception with the same fields."""

from __future__ import annotations

from eth_abi import encode
from eth_utils import keccak

from ledger import contract_errors
from ledger.build import DEPLOYABLE, Artifact
from ledger.events import abi_type


def test_every_abi_error_is_mapped(artifacts: dict[str, Artifact]) -> None:
    for name in DEPLOYABLE:
        for item in artifacts[name].abi:
            if item["type"] != "error":
                continue
            signature = f"{item['name']}({','.join(abi_type(i) for i in item['inputs'])})"
            cls = contract_errors.ERRORS.get(keccak(text=signature)[:4])
            assert cls is not None, f"{signature} has no Python exception"
            assert cls.signature == signature
            assert len(cls.fields) == len(item["inputs"])


def test_decode_carries_fields() -> None:
    data = keccak(text="LedgerMassImbalance(uint256,uint256,uint256)")[:4] + encode(
        ["uint256"] * 3, [10, 7, 2]
    )
    error = contract_errors.decode_revert(data)
    assert isinstance(error, contract_errors.MassImbalance)
    assert (error.inputs, error.outputs, error.loss) == (10, 7, 2)
    unknown = contract_errors.decode_revert(b"\x01\x02\x03\x04")
    assert isinstance(unknown, contract_errors.UnknownRevert)
