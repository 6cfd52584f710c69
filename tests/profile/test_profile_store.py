"""The profile is kept like a lockout: it survives a restart, and a damaged file means the
strictest profile with a clear message, never a silent reset to "no conditions"."""

from __future__ import annotations

import asyncio
import json

import pytest

from controller.model.commands import Source
from controller.model.notice import NoticeCode
from controller.model.profile import FIELDS, STRICTEST, Profile
from controller.storage.profile_store import load_profile, profile_path, save_profile
from tests.machine.simrun import run_sim
from tests.machine.test_commands_on_machine import cmd


async def send(sup, payload, source=Source.SOCKET):
    return await sup.hub.submit(cmd(payload, source), source)


def test_a_saved_profile_loads_back_exactly(tmp_path):
    profile = Profile(varicose_veins=True, wound_or_infection_left=True, numbness_or_poor_circulation_right=True)
    save_profile(tmp_path, profile, confirmed=True)
    loaded = load_profile(tmp_path)
    assert loaded.profile == profile and loaded.confirmed and loaded.problem is None
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temp file behind


def test_no_file_means_no_conditions_and_not_confirmed(tmp_path):
    loaded = load_profile(tmp_path)
    assert loaded.profile == Profile() and not loaded.confirmed and not loaded.found


@pytest.mark.parametrize("content", [
    b"{not json",
    b"",
    b'{"version": 1, "confirmed": true, "profile": {"varicose_veins": "yes"}}',
    b'{"version": 1, "confirmed": true, "profile": {"diabetes": true}}',
    b'{"version": 2, "confirmed": true, "profile": {}}',
    b'{"version": 1, "confirmed": 1, "profile": {}}',
    b"[" * 5000,
    b'{"version": 1, "confirmed": true, "profile": {"pregnancy": NaN}}',
])
def test_a_damaged_file_is_the_strictest_profile_with_a_clear_message(tmp_path, content):
    profile_path(tmp_path).write_bytes(content)
    loaded = load_profile(tmp_path)
    assert loaded.profile == STRICTEST and all(loaded.profile.stored()[k] for k in FIELDS)
    assert not loaded.confirmed
    assert "could not be trusted" in loaded.problem and "legctl profile set" in loaded.problem


def test_the_profile_survives_a_daemon_restart(tmp_path):
    """Set varicose veins, restart: deep_tissue at 5 is still refused, a gentle program capped."""
    state = tmp_path / "state"
    first: dict = {}

    async def set_flag(sup):
        first["set"] = await send(sup, {"command": "set_profile", "varicose_veins": True})
        sup.stop()

    run_sim(tmp_path / "a", state_dir=state, during=set_flag, trace=False, max_runtime_s=30)
    assert first["set"].ok
    saved = json.loads(profile_path(state).read_text())
    assert saved["profile"]["varicose_veins"] is True and saved["confirmed"] is True

    second: dict = {}

    async def after_restart(sup):
        second["flags"] = sup.hub.snapshot().profile
        second["deep"] = await send(sup, {"command": "start", "program": "deep_tissue", "intensity": 5})
        second["gentle"] = await send(sup, {"command": "start", "program": "quick_circulation", "intensity": 5})
        second["intensity"] = sup.runner.intensity
        sup.stop()

    run_sim(tmp_path / "b", state_dir=state, during=after_restart, trace=False, max_runtime_s=30)
    assert not second["deep"].ok and "deep massage is not safe with varicose veins" in second["deep"].error
    assert second["gentle"].ok and second["intensity"] == 2


def test_a_corrupt_profile_file_refuses_every_program_with_a_notice(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    profile_path(state).write_text('{"version": 1, "confirmed": tr')
    out: dict = {}

    async def script(sup):
        await asyncio.sleep(0.2)
        out["start"] = await send(sup, {"command": "start", "program": "warm_up", "intensity": 1})
        await asyncio.sleep(0.2)
        out["state"] = sup.hub.snapshot()
        out["set"] = await send(sup, {"command": "set_profile", **dict.fromkeys(FIELDS, False)})
        out["again"] = await send(sup, {"command": "start", "program": "warm_up", "intensity": 1})
        sup.stop()

    run_sim(tmp_path, state_dir=state, during=script, trace=False, max_runtime_s=30)
    assert not out["start"].ok and "could not be trusted" in out["start"].error
    snap = out["state"]
    assert snap.notice.code == NoticeCode.PROFILE_UNREADABLE and snap.notice.panel_code == 7
    assert all(snap.profile[k] for k in FIELDS) and not snap.profile_confirmed
    # a technician at the machine sets it again: the file is replaced and programs run
    assert out["set"].ok and out["again"].ok
    assert load_profile(state).problem is None
