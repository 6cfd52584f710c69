"""A leg's daily total past the guide's "5-10 minutes per leg daily" (the config's
``therapy.daily_minutes_per_leg_notice``) is a notice like every other: the panel's fault LED
and buzzer give its code (8), ``legctl status`` lists it, and MQTT carries it as an ``event``
and as the retained ``notice`` in the state."""

from __future__ import annotations

import asyncio
import json
import sys

from controller.interfaces.panel_signals import (NOTICE_SHOW_S, PanelOutputs, notice_pattern,
                                                 notice_period_s)
from controller.model.config import DEFAULT_CONFIG_PATH, load_config
from controller.model.notice import PANEL_CODES, NoticeCode
from legctl.format import watch_frame
from tests.machine.simrun import run_sim
from tests.machine.test_commands_on_machine import send
from tests.machine.test_legctl_daemon import Daemon
from tests.profile.test_notices import Switch, flashes
from tests.machine.test_mqtt_machine import BASE, DEVICE, Hub, broker  # noqa: F401 - fixture

CODE = PANEL_CODES[NoticeCode.DAILY_AMOUNT_PASSED]
#: a threshold any session passes on its first tick (it must be > 0: the config says so)
TINY_MINUTES = 0.0001


def config_with_limit(minutes: float):
    cfg = load_config()
    return cfg.model_copy(update={"therapy": cfg.therapy.model_copy(update={"daily_minutes_per_leg_notice": minutes})})


def test_passing_the_daily_amount_shows_on_the_panel_and_in_the_state(tmp_path):
    """Two sessions of quick circulation (3 min) against a 4-minute threshold: the first stays
    under it and gives no notice; the second passes it, once per leg."""
    config = config_with_limit(4.0)
    out = {"events": [], "after_first": None}

    async def during(sup):
        events = sup.hub.subscribe_events()
        try:
            for run in ("first", "second"):
                assert (await send(sup, {"command": "start", "program": "quick_circulation", "intensity": 3})).ok
                await sup.session_ended.wait()
                await asyncio.sleep(0.5)  # the end's snapshot goes out
                while not events.empty():
                    out["events"].append(events.get_nowait())
                if run == "first":
                    out["after_first"] = sup.hub.snapshot()
            out["snapshot"] = sup.hub.snapshot()
        finally:
            events.close()
            sup.stop()

    run_sim(tmp_path, config=config, max_runtime_s=900.0, during=during, trace=False)
    assert out["after_first"].notice is None  # 3 minutes: under the threshold, nothing to say
    notices = [e for e in out["events"] if e["type"] == "notice"]
    assert sorted(e["leg"] for e in notices) == ["left", "right"]
    for event in notices:
        assert event["code"] == "daily_amount_passed" and event["panel_code"] == CODE == 8
        assert "5 to 10 minutes per leg daily" in event["text"] and event["message"] == event["text"]
        assert event["limit_minutes"] == 4.0 and 5.9 <= event["minutes_today"] <= 6.1
    snap = out["snapshot"]
    assert snap.notice is not None and snap.notice.code == NoticeCode.DAILY_AMOUNT_PASSED
    assert {n.leg for n in snap.notices if n.code == NoticeCode.DAILY_AMOUNT_PASSED} == {"left", "right"}
    assert "more than the 4 minutes the guide suggests" in snap.notice_text
    # legctl watch draws the same notices (and the event among the recent ones)
    frame = watch_frame(snap, notices, "lt.sock")
    assert "daily_amount_passed, panel code 8" in frame and "5 to 10 minutes per leg daily" in frame

    # the fault LED counts 8 flashes per period while the notice is fresh (a longer period
    # than for codes 1-7, so the dark gap between counts stays), then goes dark
    period = notice_period_s(CODE)
    assert period > 8 * 0.5
    t0 = snap.notice.t_s + 1.0
    t0 += period - t0 % period  # the start of a period
    assert flashes(snap, t0, period) == 8
    assert flashes(snap, snap.notice.t_s + NOTICE_SHOW_S + period, period) == 0
    # the buzzer: one long beep, then eight short ones
    outputs = PanelOutputs({"fault": Switch()}, buzzer := Switch())
    outputs.on_event(notices[-1], 0.0)
    heard = []
    for i in range(600):
        outputs.update(snap, i / 100)
        heard.append(buzzer.on)
    assert sum(1 for a, b in zip([False] + heard, heard) if b and not a) == 9
    assert notice_pattern(CODE)[0] == (True, 0.6) and all(heard[:60])


def test_a_new_start_clears_the_daily_notice(tmp_path):
    """The notice is about the day so far: a new start attempt replaces it with its own."""
    config = config_with_limit(TINY_MINUTES)
    out = {}

    async def during(sup):
        try:
            assert (await send(sup, {"command": "start", "program": "warm_up", "preheat": False})).ok
            await asyncio.sleep(2.0)
            assert (await send(sup, {"command": "stop"})).ok
            await asyncio.sleep(0.5)
            out["ended"] = sup.hub.snapshot()
            assert (await send(sup, {"command": "start", "program": "warm_up", "preheat": False})).ok
            await asyncio.sleep(0.5)
            out["again"] = sup.hub.snapshot()
        finally:
            sup.stop()

    run_sim(tmp_path, config=config, max_runtime_s=300.0, during=during, trace=False)
    assert out["ended"].notice.code == NoticeCode.DAILY_AMOUNT_PASSED
    assert not [n for n in out["again"].notices if n.code == NoticeCode.DAILY_AMOUNT_PASSED]


def ThresholdDaemon(tmp_path) -> Daemon:
    """The daemon with a daily limit small enough for one short session to pass it."""
    return Daemon(tmp_path, config=config_with_limit(TINY_MINUTES))


def test_legctl_status_lists_the_daily_notice(tmp_path):
    d = ThresholdDaemon(tmp_path)
    try:
        code, out, err = d.ctl("start", "full_leg", "--no-preheat")
        assert code == 0, err
        assert d.ctl("stop")[0] == 0  # a stopped session counts toward the day too
        code, out, _ = d.ctl("status")
        assert code == 0
        assert "daily_amount_passed, panel code 8" in out and "5 to 10 minutes per leg daily" in out
        code, out, _ = d.ctl("status", "--json")
        state = json.loads(out)
        assert state["notice"]["code"] == "daily_amount_passed" and state["notice"]["panel_code"] == 8
        assert {n["leg"] for n in state["notices"] if n["code"] == "daily_amount_passed"} == {"left", "right"}
    finally:
        d.stop()


def test_the_daily_notice_reaches_mqtt_as_an_event_and_the_retained_state(tmp_path, broker):  # noqa: F811
    import signal
    import subprocess

    config = tmp_path / "board.toml"
    config.write_text(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
                      + f"\n[therapy]\ndaily_minutes_per_leg_notice = {TINY_MINUTES}\n", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller.app.cli", "run", "--sim", "--speed", "1", "--config", str(config),
         "--mqtt-host", broker.host, "--mqtt-port", str(broker.port), "--device-id", DEVICE,
         "--state-dir", str(tmp_path / "state"), "--log-level", "WARNING"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    hub = Hub(*broker)
    try:
        hub.state(lambda s: s["mode"] == "idle")
        hub.send({"command": "start", "program": "quick_circulation", "id": "go"})
        assert hub.result("go")["ok"]
        hub.state(lambda s: s["mode"] == "running")
        hub.send({"command": "stop", "id": "halt"})
        assert hub.result("halt")["ok"]
        _, payload = hub.wait_for(lambda t, p: t == f"{BASE}/event" and json.loads(p).get("code")
                                  == "daily_amount_passed")
        event = json.loads(payload)
        assert event["type"] == "notice" and event["panel_code"] == 8 and event["leg"] in ("left", "right")
        assert "5 to 10 minutes per leg daily" in event["text"]
        state = hub.state(lambda s: (s.get("notice") or {}).get("code") == "daily_amount_passed")
        assert "the guide suggests" in state["notice_text"]
    finally:
        hub.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
