"""Pilot configuration: one TOML file per pilot city, validated by these models.

A malformed file is rejected with the file, the field and the reason (:func:`load_pilot`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ledger.errors import ConfigError

__all__ = [
    "PILOT_DIR",
    "Impact",
    "Kpi",
    "MaterialStream",
    "Pilot",
    "Process",
    "Reward",
    "load_pilot",
    "load_pilots",
]

PILOT_DIR = Path(__file__).resolve().parent

Source = Literal[
    "municipal_collection", "donation", "industrial_surplus", "product_return", "virgin_purchase"
]
Fate = Literal["in_use", "reused", "repaired", "recycled", "composted", "incinerated", "landfilled"]
EwcCode = Annotated[
    str, Field(pattern=r"^\d\d \d\d \d\d$", description="European Waste Catalogue code")
]
ProductCode = Annotated[
    str, Field(pattern=r"^P-[A-Z0-9-]{1,14}$", description="free product code, at most 16 bytes")
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Coordinates(_Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class MaterialStream(_Strict):
    """A secondary (or virgin) material the pilot's makers take in."""

    ewc: EwcCode
    name: str
    sources: dict[Source, float] = Field(description="share of intakes per source, summing to 1")
    lot_kg: tuple[float, float] = Field(description="typical lot size range in kilograms")
    monthly_kg: float = Field(gt=0, description="typical monthly intake of the whole pilot, kg")
    source_note: str = Field(
        min_length=5, description="public report this stream comes from, or 'illustrative'"
    )

    @field_validator("sources")
    @classmethod
    def _shares_sum_to_one(cls, value: dict[str, float]) -> dict[str, float]:
        if not value or abs(sum(value.values()) - 1.0) > 1e-6 or min(value.values()) < 0:
            raise ValueError("source shares must be non-negative and sum to 1")
        return value

    @field_validator("lot_kg")
    @classmethod
    def _range(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 < value[0] <= value[1]:
            raise ValueError("lot_kg must be [min, max] with 0 < min <= max")
        return value


class Process(_Strict):
    """A maker process: inputs -> product (+ residue) with a loss."""

    name: str
    inputs: list[EwcCode] = Field(min_length=1)
    product: ProductCode
    product_name: str
    product_yield: float = Field(gt=0, le=1, description="share of input mass in the product")
    residue: EwcCode | None = None
    residue_share: float = Field(default=0.0, ge=0, lt=1)
    product_fates: dict[Fate, float] = Field(description="where products go, shares summing to 1")
    residue_fates: dict[Fate, float] = Field(default_factory=lambda: {"recycled": 1.0})  # type: ignore[arg-type]
    lifetime_ratio: float = Field(
        default=1.0, gt=0, description="MCI L/L_av: lifetime against the industry average"
    )
    utility_ratio: float = Field(
        default=1.0, gt=0, description="MCI U/U_av: intensity of use against the average"
    )

    @model_validator(mode="after")
    def _mass(self) -> Process:
        if self.product_yield + self.residue_share > 1:
            raise ValueError(
                "product_yield + residue_share must not exceed 1 (the rest is process loss)"
            )
        if self.residue_share > 0 and self.residue is None:
            raise ValueError("a residue_share needs a residue EWC code")
        for label, fates in (
            ("product_fates", self.product_fates),
            ("residue_fates", self.residue_fates),
        ):
            if abs(sum(fates.values()) - 1.0) > 1e-6:
                raise ValueError(f"{label} must sum to 1")
        return self


#: Languages the pages are translated into (ISO 639-1).
Language = Literal["en", "nl", "el", "lt", "es", "tr"]


class Reward(_Strict):
    name: str
    cost: int = Field(gt=0, description="points")
    stock: int = Field(ge=0)
    days_valid: int = Field(gt=0)
    partner: str = Field(description="reward partner (organisation, off chain)")
    description: str = Field(min_length=5, description="what the member gets (off chain)")


class Earning(_Strict):
    """Points per circular activity of a community member."""

    drop_off_per_kg: int = Field(ge=0)
    workshop: int = Field(ge=0)
    repair_cafe: int = Field(ge=0)
    volunteering_hour: int = Field(ge=0)
    award_budget: int = Field(gt=0, description="points the pilot may award per year")


class Scenario(_Strict):
    """Parameters of the demo scenario generator."""

    makers: int = Field(ge=2, le=50)
    members: int = Field(ge=1, le=500)
    intakes_per_month: int = Field(ge=1)
    virgin_share: float = Field(
        ge=0, le=1, description="share of intakes bought as virgin material"
    )
    exchange_share: float = Field(ge=0, le=1, description="share of lots handed to another maker")


KpiMetric = Literal[
    "participants",
    "new_participants",
    "events",
    "attendance",
    "training_hours",
    "credentials_issued",
    "maker_space_users",
    "new_prototypes",
    "target_group_share",
    "kg_diverted",
    "co2e_avoided_kg",
    "circularity_rate",
    "mci",
]


class Kpi(_Strict):
    """One KPI of the pilot's impact framework: what is measured, from where, against what."""

    metric: KpiMetric
    group: Literal["environmental", "social", "economic"]
    name: str
    unit: str
    baseline: float = Field(description="value before the programme (the counterfactual)")
    target: float
    source: str = Field(min_length=5, description="where the baseline and target come from")
    target_group: str | None = Field(
        default=None, description="for target_group_share: the declared group"
    )
    iris: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{2}\d{4}$",
        description="IRIS+ metric code where one exists (e.g. PI1234); null when none is known",
    )

    @model_validator(mode="after")
    def _group_named(self) -> Kpi:
        if (self.metric == "target_group_share") != (self.target_group is not None):
            raise ValueError("target_group is required for, and only for, target_group_share")
        return self


class Impact(_Strict):
    """The pilot's impact framework and its declared target groups (off chain, with consent)."""

    target_groups: list[str] = Field(description="groups members may declare, e.g. women")
    kpis: list[Kpi] = Field(min_length=1)

    @model_validator(mode="after")
    def _known_groups(self) -> Impact:
        for kpi in self.kpis:
            if kpi.target_group is not None and kpi.target_group not in self.target_groups:
                raise ValueError(
                    f"KPI {kpi.name!r} names target group {kpi.target_group!r}, not in target_groups"
                )
        return self


class Pilot(_Strict):
    id: int = Field(ge=1, le=65535)
    code: str = Field(pattern=r"^[A-Z]{3}$")
    city: str
    country: str = Field(pattern=r"^[A-Z]{2}$")
    coordinates: Coordinates
    municipality: str
    language: Language = Field(description="the pages' default language in this pilot")
    summary: str
    illustrative: bool = Field(
        description="true where no public detail on the pilot's streams exists"
    )
    streams: list[MaterialStream] = Field(min_length=1)
    processes: list[Process] = Field(min_length=1)
    rewards: list[Reward] = Field(min_length=1)
    earning: Earning
    scenario: Scenario
    impact: Impact

    @model_validator(mode="after")
    def _consistent(self) -> Pilot:
        known = {s.ewc for s in self.streams}
        for process in self.processes:
            missing = [code for code in process.inputs if code not in known]
            if missing:
                raise ValueError(
                    f"process {process.name!r} uses {missing}, which no stream of the pilot supplies"
                )
        if self.illustrative and not all(
            "illustrative" in s.source_note.lower() for s in self.streams
        ):
            raise ValueError(
                "an illustrative pilot must label every stream's source_note 'illustrative'"
            )
        return self


def load_pilot(path: Path) -> Pilot:
    """Read and validate one pilot file; errors name the file, the field and the reason."""
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the file ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    try:
        return Pilot.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(file)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from exc


def load_pilots(directory: Path = PILOT_DIR) -> list[Pilot]:
    """All pilot files of `directory`, ordered by id; ids and codes must be unique."""
    pilots = sorted((load_pilot(p) for p in sorted(directory.glob("*.toml"))), key=lambda p: p.id)
    if not pilots:
        raise ConfigError(f"{directory}: no pilot files (*.toml)")
    for attr in ("id", "code"):
        values = [getattr(p, attr) for p in pilots]
        duplicates = {v for v in values if values.count(v) > 1}
        if duplicates:
            raise ConfigError(f"{directory}: duplicate pilot {attr} {sorted(duplicates)}")
    return pilots
