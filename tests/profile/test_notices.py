"""Every refusal and automatic cap is a notice a person can see: on the panel (an LED code and
a buzzer code), at the socket (``legctl status``), and on MQTT (an ``event`` and the retained
``notice`` in the state)."""

from __future__ import annotations

import json

from controller.interfaces.panel_signals import (NOTICE_PERIOD_S, NOTICE_SHOW_S, PanelOutputs, led_pattern,
                                                 notice_pattern)
from controller.model.commands import Source
from controller.model.notice import NoticeCode
from tests.machine.test_commands_on_machine import drive, send
from tests.machine.test_legctl_daemon import Daemon
from tests.machine.test_mqtt_machine import BASE, Hub, broker, daemon  # noqa: F401 - fixtures


class Switch:
    def __init__(self):
        self.on = False

    def set(self, on):
        self.on = on


def flashes(snapshot, start_s: float, period_s: float = NOTICE_PERIOD_S) -> int:
    """How many times the fault LED lights in one notice period from ``start_s`` (10 ms steps)."""
    count, lit = 0, False
    for i in range(int(period_s * 100)):
        on = led_pattern(snapshot, start_s + i / 100)["fault"]
        count += on and not lit
        lit = on
    return count


def test_a_refusal_shows_on_the_panel_leds_and_buzzer(tmp_path):
    async def script(sup, out):
        events = sup.hub.subscribe_events()
        await send(sup, {"command": "set_profile", "varicose_veins": True})
        out["deep"] = await send(sup, {"command": "start", "program": "deep_tissue", "intensity": 5}, Source.MQTT)
        out["snapshot"] = sup.hub.snapshot()
        out["events"] = []
        while not events.empty():
            out["events"].append(events.get_nowait())

    out, _, _ = drive(tmp_path, script)
    assert not out["deep"].ok
    snap = out["snapshot"]
    notice = snap.notice
    assert notice.code == NoticeCode.PROGRAM_REFUSED and notice.panel_code == 2
    assert "deep massage is not safe with varicose veins" in notice.text and snap.notice_text == notice.text
    event = next(e for e in out["events"] if e["type"] == "notice")
    assert event["code"] == "program_refused" and event["panel_code"] == 2 and event["text"] == notice.text

    # the fault LED flashes the code twice per period while the notice is fresh, then stops
    t0 = notice.t_s + 1.0
    t0 -= t0 % NOTICE_PERIOD_S  # the start of a period
    assert flashes(snap, t0 + NOTICE_PERIOD_S) == 2
    assert flashes(snap, notice.t_s + NOTICE_SHOW_S + NOTICE_PERIOD_S) == 0
    # the buzzer: one long beep, then two short ones
    outputs = PanelOutputs({"fault": Switch()}, buzzer := Switch())
    outputs.on_event(event, 0.0)
    heard = []
    for i in range(300):
        outputs.update(snap, i / 100)
        heard.append(buzzer.on)
    beeps = sum(1 for a, b in zip([False] + heard, heard) if b and not a)
    assert beeps == 3 and notice_pattern(2)[0] == (True, 0.6) and sum(heard[:60]) == 60  # long, then 2 short


def test_a_remote_relax_waiting_blinks_heat_and_pause_in_turn(tmp_path):
    async def script(sup, out):
        await send(sup, {"command": "set_profile", "pregnancy": True})
        await send(sup, {"command": "set_profile", "pregnancy": False}, Source.MQTT)
        out["snapshot"] = sup.hub.snapshot()

    out, _, _ = drive(tmp_path, script)
    snap = out["snapshot"]
    a, b = led_pattern(snap, 100.1), led_pattern(snap, 100.35)
    assert (a["heat"], a["pause"]) == (True, False) and (b["heat"], b["pause"]) == (False, True)


def test_the_socket_shows_the_notice_and_the_profile(tmp_path):
    d = Daemon(tmp_path)
    try:
        assert d.ctl("profile", "set", "wound_or_infection_left")[0] == 0
        code, out, err = d.ctl("start", "full_leg", "--intensity", "4")
        assert code == 0, err
        assert "the left leg is spared" in out
        code, out, _ = d.ctl("status")
        assert "a skin infection or an open wound (left leg)" in out
        assert "leg_spared, panel code 5" in out and "intensity_capped, panel code 3" in out
        code, out, _ = d.ctl("profile", "show")
        assert code == 0 and "wound" in out and "NOT CONFIRMED" not in out
        assert d.ctl("profile", "set", "diabetes")[0] == 2  # a misspelt condition: usage error
        assert d.ctl("stop")[0] == 0
        assert d.ctl("profile", "clear", "--all")[0] == 0
        code, out, _ = d.ctl("profile", "show", "--json")
        assert not any(json.loads(out)["profile"].values())
    finally:
        d.stop()


def StrictDaemon(tmp_path) -> Daemon:
    """The daemon on the simulator, but as on real hardware: a profile must be confirmed once."""
    return Daemon(tmp_path, state_name="strict_state", socket_name="strict.sock", require_profile=True)


def test_a_new_machine_needs_a_confirmed_profile_before_the_first_program(tmp_path):
    d = StrictDaemon(tmp_path)
    try:
        code, out, err = d.ctl("start", "warm_up")
        assert code == 1 and "a profile is needed" in err and "hold program + heat" in err
        code, out, _ = d.ctl("status")
        assert "NOT CONFIRMED" in out and "profile_needed, panel code 1" in out
        assert d.ctl("profile", "set")[0] == 0  # confirm "no conditions", as the panel gesture does
        code, out, err = d.ctl("start", "warm_up")
        assert code == 0, err
        code, out, _ = d.ctl("status", "--json")
        assert json.loads(out)["profile_confirmed"] is True
    finally:
        d.stop()


def test_notices_reach_mqtt_as_events_and_in_the_retained_state(broker, daemon):  # noqa: F811
    hub = Hub(*broker)
    try:
        hub.state(lambda s: s["mode"] == "idle")
        hub.send({"command": "set_profile", "varicose_veins": True, "id": "flag"})
        assert hub.result("flag")["ok"]
        hub.send({"command": "start", "program": "deep_tissue", "intensity": 5, "id": "deep"})
        res = hub.result("deep")
        assert res["ok"] is False and "varicose veins" in res["error"]
        _, payload = hub.wait_for(lambda t, p: t == f"{BASE}/event" and json.loads(p).get("type") == "notice")
        event = json.loads(payload)
        assert event["code"] == "program_refused" and event["panel_code"] == 2
        state = hub.state(lambda s: s.get("notice") is not None)
        assert state["notice"]["code"] == "program_refused" and "varicose veins" in state["notice_text"]
        assert state["profile"]["varicose_veins"] is True
        # Home Assistant's switch turns the flag off: only a request, nothing relaxed
        hub.send({"command": "set_profile", "varicose_veins": False, "id": "off"})
        assert hub.result("off")["data"]["waiting_for_confirmation"] == ["varicose_veins"]
        state = hub.state(lambda s: s.get("profile_pending") is not None)
        assert state["profile"]["varicose_veins"] is True and state["profile_pending"] == {"varicose_veins": False}
    finally:
        hub.close()
