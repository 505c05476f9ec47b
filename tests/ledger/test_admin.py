"""Pilot administration: the pure planner's rejections, the calls it makes on a real chain, and
the `loopledger admin` commands (a new key becomes a maker that can record an intake)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eth_account import Account

from ledger.admin import AdminAction, AdminRejected, CallerView, plan_admin, read_view, send_admin
from ledger.clients import Suite
from ledger.errors import LedgerError
from ledger.vocabulary import Role, Source
from tests.conftest import free_port

LEU = 1
ADMIN_VIEW = CallerView(caller_roles=Role.ADMIN, caller_is_operator=False, now=1_000)
NEWCOMER = "0x" + "ab" * 20


def test_planner_names_every_reason() -> None:
    with pytest.raises(AdminRejected) as caught:
        plan_admin(
            AdminAction("grant", LEU, account="0x12", role="king"),
            CallerView(caller_roles=Role.MAKER, caller_is_operator=False),
        )
    assert [where for where, _ in caught.value.reasons] == ["caller", "account", "role"]
    with pytest.raises(AdminRejected, match="not a maker"):
        plan_admin(AdminAction("suspend", LEU, account=NEWCOMER), ADMIN_VIEW)
    with pytest.raises(AdminRejected, match="expiry"):
        plan_admin(
            AdminAction("reward", LEU, account=NEWCOMER, cost=5, stock=1, expiry=10), ADMIN_VIEW
        )
    with pytest.raises(AdminRejected, match="code"):
        plan_admin(AdminAction("product", LEU, code="bench!"), ADMIN_VIEW)
    with pytest.raises(AdminRejected, match="does not hold"):
        plan_admin(AdminAction("revoke", LEU, account=NEWCOMER, role="maker"), ADMIN_VIEW)
    plan = plan_admin(AdminAction("grant", LEU, account=NEWCOMER, role="Maker"), ADMIN_VIEW)
    assert (plan.method, plan.args[2:]) == ("setPilotRole", (int(Role.MAKER), True))
    operator = CallerView(caller_roles=Role(0), caller_is_operator=True)
    assert plan_admin(AdminAction("budget", LEU, budget=50), operator).method == "setAwardBudget"


@pytest.mark.anvil
def test_staff_onboard_suspend_and_reactivate_a_maker(anvil_suite: Suite) -> None:
    chain = anvil_suite.chain
    staff, maker, outsider = chain.accounts[LEU], chain.accounts[16], chain.accounts[17]
    now = int(time.time())

    def act(who: Account, action: AdminAction) -> None:
        send_admin(
            anvil_suite, who, plan_admin(action, read_view(anvil_suite, action, who.address, now))
        )

    with pytest.raises(AdminRejected, match="admin or the operator"):
        act(outsider, AdminAction("grant", LEU, account=maker.address, role="maker"))
    act(staff, AdminAction("grant", LEU, account=maker.address, role="maker"))
    assert anvil_suite.registry.roles_of(LEU, maker.address) & Role.MAKER
    material = anvil_suite.manifest.materials["20 01 38"]
    anvil_suite.materials.intake(maker, LEU, material, Source.DONATION, 1_000, b"\x01" * 32)
    act(staff, AdminAction("suspend", LEU, account=maker.address))
    with pytest.raises(LedgerError):
        anvil_suite.materials.intake(maker, LEU, material, Source.DONATION, 1_000, b"\x02" * 32)
    act(staff, AdminAction("reactivate", LEU, account=maker.address))
    anvil_suite.materials.intake(maker, LEU, material, Source.DONATION, 1_000, b"\x03" * 32)
    act(staff, AdminAction("product", LEU, code="P-STOOL"))
    assert anvil_suite.registry.material_id("P-STOOL", LEU) > 0
    act(staff, AdminAction("budget", LEU, budget=321))
    assert anvil_suite.token.budget(LEU) == 321
    reward = AdminAction(
        "reward", LEU, account=outsider.address, cost=7, stock=3, expiry=now + 86_400
    )
    with pytest.raises(AdminRejected, match="not a reward partner"):
        act(staff, reward)
    act(staff, AdminAction("grant", LEU, account=outsider.address, role="partner"))
    act(staff, reward)
    act(staff, AdminAction("revoke", LEU, account=maker.address, role="maker"))
    assert not anvil_suite.registry.roles_of(LEU, maker.address) & Role.MAKER


@pytest.mark.anvil
def test_admin_commands_and_the_keys_add_hint(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLEDGER_")}
    env.update({"LOOPLEDGER_DATA_DIR": str(tmp_path), "LOOPLEDGER_ANVIL_PORT": str(free_port())})

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(sys.executable).parent / "loopledger"), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )

    key = Account.create()
    added = run("keys", "add", "newmaker", "--import", stdin=key.key.hex() + "\n")
    assert added.returncode == 0, added.stderr
    assert f"loopledger admin grant {key.address} maker" in added.stderr
    granted = run("admin", "grant", key.address, "maker", "--pilot", "LEU")
    assert granted.returncode == 0 and "done" in granted.stderr, granted.stderr
    again = run("admin", "suspend", "0x" + "cd" * 20, "--pilot", "LEU")
    assert again.returncode == 1 and "not a maker" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
