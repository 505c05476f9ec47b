"""Reporting periods: months, quarters, years or any date range, as [start, end) unix seconds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

__all__ = ["Period"]


def _ts(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


@dataclass(frozen=True, order=True)
class Period:
    start: int
    end: int
    label: str

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        nxt = date(year + month // 12, month % 12 + 1, 1)
        return cls(_ts(date(year, month, 1)), _ts(nxt), f"{year}-{month:02d}")

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        first = 3 * (quarter - 1) + 1
        nxt = date(year + (first + 2) // 12, (first + 2) % 12 + 1, 1)
        return cls(_ts(date(year, first, 1)), _ts(nxt), f"{year}-Q{quarter}")

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(_ts(date(year, 1, 1)), _ts(date(year + 1, 1, 1)), f"{year}")

    @classmethod
    def between(cls, first: date, last: date) -> Period:
        """From `first` to `last`, both days included."""
        return cls(
            _ts(first), _ts(last + timedelta(days=1)), f"{first.isoformat()}..{last.isoformat()}"
        )

    @classmethod
    def everything(cls) -> Period:
        return cls(0, 2**62, "all")

    @classmethod
    def parse(cls, text: str) -> Period:
        """'2026', '2026-Q2', '2026-03', '2026-01-01..2026-06-30' or 'all'."""
        text = text.strip()
        if text == "all":
            return cls.everything()
        if m := re.fullmatch(r"(\d{4})", text):
            return cls.year(int(m[1]))
        if m := re.fullmatch(r"(\d{4})-Q([1-4])", text):
            return cls.quarter(int(m[1]), int(m[2]))
        if m := re.fullmatch(r"(\d{4})-(\d{2})", text):
            if not 1 <= int(m[2]) <= 12:
                raise ValueError(f"month out of range in {text!r}")
            return cls.month(int(m[1]), int(m[2]))
        if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", text):
            first, last = date.fromisoformat(m[1]), date.fromisoformat(m[2])
            if last < first:
                raise ValueError(f"the range {text!r} ends before it starts")
            return cls.between(first, last)
        raise ValueError(
            f"unknown period {text!r}: use 2026, 2026-Q2, 2026-03, 2026-01-01..2026-06-30 or all"
        )

    def months(self) -> list[Period]:
        """The calendar months this period touches."""
        day = datetime.fromtimestamp(max(self.start, 0), UTC).date().replace(day=1)
        out: list[Period] = []
        while _ts(day) < self.end and len(out) < 1200:
            out.append(Period.month(day.year, day.month))
            day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        return out
