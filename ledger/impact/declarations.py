"""Consented target-group declarations: the thin store shell around :class:`GroupDeclaration`.

A declaration is accepted only for a group the pilot targets and with the consent text's
version; withdrawing removes every declaration of the member in the pilot. Nothing goes on chain.
"""

from __future__ import annotations

from sqlmodel import Session, col, delete, select

from ledger.errors import LedgerError
from ledger.impact.kpis import Declaration
from ledger.store.models import GroupDeclaration
from pilots.model import Pilot

__all__ = ["DeclarationRefused", "declarations_of", "declare", "withdraw"]


class DeclarationRefused(LedgerError):
    """A declaration without consent or for a group the pilot does not target."""


def declare(
    session: Session,
    pilot: Pilot,
    member: str,
    groups: list[str],
    *,
    consent_version: str,
    now: int,
) -> None:
    """Record `member`'s declared groups in `pilot` (replacing earlier ones), all or nothing."""
    if not consent_version:
        raise DeclarationRefused("a declaration needs the member's consent (consent_version)")
    unknown = sorted(set(groups) - set(pilot.impact.target_groups))
    if unknown:
        raise DeclarationRefused(
            f"{pilot.city} does not target {unknown}: choose from {pilot.impact.target_groups}"
        )
    session.exec(
        delete(GroupDeclaration).where(
            col(GroupDeclaration.pilot_id) == pilot.id, col(GroupDeclaration.member) == member
        )
    )
    for group in sorted(set(groups)):
        session.add(
            GroupDeclaration(
                pilot_id=pilot.id,
                member=member,
                group_code=group,
                consent_version=consent_version,
                consented_at=now,
            )
        )
    session.commit()


def withdraw(session: Session, pilot_id: int, member: str) -> None:
    """Consent withdrawn: the member's declarations in the pilot are deleted."""
    session.exec(
        delete(GroupDeclaration).where(
            col(GroupDeclaration.pilot_id) == pilot_id, col(GroupDeclaration.member) == member
        )
    )
    session.commit()


def declarations_of(session: Session, pilot_id: int) -> list[Declaration]:
    rows = session.exec(
        select(GroupDeclaration).where(col(GroupDeclaration.pilot_id) == pilot_id)
    ).all()
    return [Declaration(r.member, r.group_code) for r in rows]
