"""The panel's confirmation gesture: program + heat held together for 2 s sends
``confirm_profile``; either button alone does only its own job, and the chord undoes the first
button's effect (a chord is one gesture, not two presses)."""

from __future__ import annotations

import asyncio

import pytest

from tests.panel.test_panel_buttons import (FakeHub, buttons, factory, feedback, hub, panel,  # noqa: F401
                                            pin, tap)


async def chord(factory, first: str, second: str, hold_s: float) -> None:  # noqa: F811
    pin(factory, first).drive_low()
    await asyncio.sleep(0.2)
    pin(factory, second).drive_low()
    await asyncio.sleep(hold_s)
    pin(factory, second).drive_high()
    pin(factory, first).drive_high()
    await asyncio.sleep(0.2)


@pytest.mark.looptime
@pytest.mark.parametrize("first,second", [("program", "heat"), ("heat", "program")])
async def test_holding_program_and_heat_for_2_s_confirms_the_profile(factory, hub, panel, feedback, first,  # noqa: F811
                                                                     second):
    before = panel.selection()
    await chord(factory, first, second, 2.1)
    assert hub.names() == ["confirm_profile"]
    assert panel.selection() == before  # the first press's own effect was undone
    assert "profile_confirmed" in feedback.kinds()


@pytest.mark.looptime
async def test_a_chord_released_before_2_s_confirms_nothing(factory, hub, panel, feedback):  # noqa: F811
    await chord(factory, "program", "heat", 1.8)
    assert hub.names() == []
    assert "profile_confirmed" not in feedback.kinds()


@pytest.mark.looptime
async def test_program_and_heat_alone_keep_their_jobs(factory, hub, panel):  # noqa: F811
    await tap(factory, "program", hold_s=3.0)
    assert panel.selected_program == "calf_focus"
    await tap(factory, "heat", hold_s=3.0)
    assert panel.heat is False
    assert hub.names() == []


@pytest.mark.looptime
async def test_during_a_session_the_chord_restores_the_heat_it_toggled(factory, hub, panel):  # noqa: F811
    hub.state.update(mode="running", program="quick_circulation")
    await chord(factory, "heat", "program", 2.1)
    assert hub.names() == ["set_heat", "set_heat", "confirm_profile"]
    assert hub.sent[0].on is False and hub.sent[1].on is True and hub.state["heat_on"] is True
