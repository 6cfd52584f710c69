"""Raising a flag is allowed from every source; relaxing one needs a person at the machine.
A remote (MQTT / Home Assistant) clear waits 60 s for a panel confirmation and alone changes
nothing."""

from __future__ import annotations

import asyncio

import pytest

from controller.machine.profile_keeper import CONFIRM_WINDOW_S
from controller.model.commands import CommandError, Source, parse_command
from controller.model.notice import NoticeCode
from tests.machine.test_commands_on_machine import drive, send


def test_a_remote_clear_without_a_panel_confirmation_changes_nothing(tmp_path):
    async def script(sup, out):
        await send(sup, {"command": "set_profile", "suspected_clot": True})
        out["clear"] = await send(sup, {"command": "set_profile", "suspected_clot": False}, Source.MQTT)
        out["pending"] = sup.hub.snapshot().profile_pending
        out["notice"] = sup.hub.snapshot().notice
        out["start"] = await send(sup, {"command": "start", "program": "deep_tissue"}, Source.MQTT)
        await asyncio.sleep(CONFIRM_WINDOW_S + 1.0)
        out["after"] = sup.hub.snapshot()
        out["late_confirm"] = await send(sup, {"command": "confirm_profile"}, Source.PANEL)
        out["flags"] = sup.runner.profile.suspected_clot

    out, _, _ = drive(tmp_path, script)
    assert out["clear"].ok and out["clear"].data["waiting_for_confirmation"] == ["suspected_clot"]
    assert out["clear"].data["profile"]["suspected_clot"] is True  # still set
    assert out["pending"] == {"suspected_clot": False}
    assert out["notice"].code == NoticeCode.PROFILE_CHANGE_WAITING and "hold program + heat" in out["notice"].text
    assert not out["start"].ok and "suspected blood clot" in out["start"].error
    after = out["after"]
    assert after.profile["suspected_clot"] is True and after.profile_pending is None
    assert after.notice.code == NoticeCode.PROFILE_CHANGE_EXPIRED and "nothing was relaxed" in after.notice.text
    assert out["late_confirm"].ok and out["flags"] is True  # a confirmation after the window relaxes nothing


def test_a_remote_clear_confirmed_at_the_panel_within_60_s_relaxes(tmp_path):
    async def script(sup, out):
        await send(sup, {"command": "set_profile", "varicose_veins": True, "wound_or_infection_left": True})
        await send(sup, {"command": "set_profile", "varicose_veins": False}, Source.MQTT)
        await asyncio.sleep(CONFIRM_WINDOW_S - 5.0)
        out["still"] = sup.runner.profile.varicose_veins
        out["confirm"] = await send(sup, {"command": "confirm_profile"}, Source.PANEL)
        out["profile"] = sup.runner.profile
        out["pending"] = sup.hub.snapshot().profile_pending

    out, _, _ = drive(tmp_path, script)
    assert out["still"] is True
    assert out["confirm"].ok and out["confirm"].data["applied"] == ["varicose_veins"]
    assert not out["profile"].varicose_veins and out["profile"].wound_or_infection_left  # only what was asked
    assert out["pending"] is None


def test_a_remote_raise_applies_at_once_and_stops_a_session_it_forbids(tmp_path):
    async def script(sup, out):
        out["start"] = await send(sup, {"command": "start", "program": "quick_circulation"}, Source.MQTT)
        await asyncio.sleep(2.0)
        out["raise"] = await send(sup, {"command": "set_profile", "suspected_clot": True}, Source.MQTT)
        out["mode"] = sup.runner.mode
        out["notice"] = sup.hub.snapshot().notice

    out, _, _ = drive(tmp_path, script)
    assert out["start"].ok and out["raise"].ok and out["raise"].data["applied"] == ["suspected_clot"]
    assert out["mode"] == "stopped" and "session stopped" in out["raise"].data["note"]
    assert out["notice"].code == NoticeCode.PROGRAM_REFUSED


def test_a_mixed_remote_request_applies_the_raise_and_holds_the_relax(tmp_path):
    async def script(sup, out):
        await send(sup, {"command": "set_profile", "pregnancy": True})
        out["mixed"] = await send(sup, {"command": "set_profile", "pregnancy": False, "varicose_veins": True},
                                  Source.MQTT)
        out["profile"] = sup.runner.profile

    out, _, _ = drive(tmp_path, script)
    assert out["profile"].varicose_veins and out["profile"].pregnancy
    assert out["mixed"].data["applied"] == ["varicose_veins"]
    assert out["mixed"].data["waiting_for_confirmation"] == ["pregnancy"]


def test_the_technician_socket_relaxes_at_once(tmp_path):
    async def script(sup, out):
        await send(sup, {"command": "set_profile", "suspected_clot": True}, Source.MQTT)
        out["clear"] = await send(sup, {"command": "set_profile", "suspected_clot": False}, Source.SOCKET)
        out["clot"] = sup.runner.profile.suspected_clot

    out, _, _ = drive(tmp_path, script)
    assert out["clear"].ok and out["clot"] is False


def test_only_a_person_at_the_machine_may_confirm():
    with pytest.raises(CommandError, match="only accepted from the panel or the technician socket"):
        parse_command({"command": "confirm_profile"}, Source.MQTT)
    assert parse_command({"command": "confirm_profile"}, Source.PANEL).command == "confirm_profile"
