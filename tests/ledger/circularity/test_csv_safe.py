"""CSV cells never run as spreadsheet formulas (issue 13): codes come from the chain."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from ledger.circularity.report import export


@pytest.mark.parametrize(
    "code",
    ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\tX"],
)
def test_formula_cells_are_neutralised(code: str) -> None:
    frame = pd.DataFrame(
        {"material": [code, "20 01 38"], "kg": [-1.5, 2.0], "x" + code: ["a", "b"]}
    )
    text = export(frame, None, "csv")
    assert text is not None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["material", "kg", "x" + code]
    assert rows[1] == ["'" + code, "-1.5", "a"]  # numbers stay numbers
    assert rows[2] == ["20 01 38", "2.0", "b"]


def test_formula_column_names_are_neutralised() -> None:
    text = export(pd.DataFrame({"=cmd|' /C calc'!A0": [1]}), None, "csv")
    assert text is not None
    assert next(csv.reader(io.StringIO(text, newline=""))) == ["'=cmd|' /C calc'!A0"]
