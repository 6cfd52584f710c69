"""What a Home Assistant user meets, on the real machine (simulated board) through a real broker.

Each test presses what Home Assistant would press: the payloads come from the retained
discovery message the machine published, rendered as Home Assistant renders them. Real time
(sockets do not fast-forward), so waits are bounded by timeouts, never fixed sleeps.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

import pytest

from bench.mqtt_probe import MqttProbe
from controller.interfaces.discovery import topics

DEVICE = "ha_user"


class Home:
    """The machine, and a probe playing Home Assistant."""

    def __init__(self, probe: MqttProbe, settings, sup) -> None:
        self.probe, self.sup, self.t = probe, sup, topics(settings)
        self.cmps: dict = {}
        self._n = 0

    def press(self, component: str, value: str | None = None, on: bool | None = None) -> None:
        """What Home Assistant sends for this component: its command template rendered with
        ``value`` (select, number), or its payload (button; switch ``on``)."""
        c = self.cmps[component]
        if "cmd_tpl" in c:
            payload = re.sub(r"\{\{ value(\|int)? \}\}", value, c["cmd_tpl"])
        elif "pl_prs" in c:
            payload = c["pl_prs"]
        else:
            payload = c["pl_on" if on else "pl_off"]
        self.probe.publish(c["cmd_t"], payload, qos=c["qos"])

    async def command(self, payload: dict) -> dict:
        self._n += 1
        payload = {"id": f"h{self._n}", **payload}
        start = len(self.probe.messages)
        self.probe.publish(self.t["cmd"], payload)
        return (await self.probe.wait_topic(self.t["cmd_result"], start=start, timeout=10,
                                            where=lambda r: r["id"] == payload["id"])).json()

    async def state(self, where, start: int = 0, timeout: float = 10.0) -> dict:
        return (await self.probe.wait_topic(self.t["state"], start=start, timeout=timeout, where=where)).json()


@pytest.fixture
async def home(mqtt_broker, tmp_path):
    from controller.app.daemon import RunOptions, run_machine
    from controller.model.config import load_config

    host, port = mqtt_broker
    config = load_config(overrides={"mqtt": {"host": host, "port": port, "device_id": DEVICE}})
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    task = asyncio.create_task(run_machine(RunOptions(config=config, state_dir=str(tmp_path), sim=True, mqtt=True,
                                                      socket_path=None, panel=False), ready=ready))
    try:
        sup = await asyncio.wait_for(ready, 30)
        async with MqttProbe(host, port) as probe:
            h = Home(probe, config.mqtt, sup)
            seen = await probe.wait_topic(h.t["discovery"], timeout=15)
            h.cmps = seen.json()["cmps"]
            await probe.wait_topic(h.t["availability"], b"online", timeout=15)
            yield h
    finally:
        if task.done() is False and "sup" in locals():
            sup.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_start_keeps_the_heat_and_intensity_the_person_set(home):
    """Heat off, intensity 1, Start: the session runs at intensity 1 with the pads cold."""
    home.press("heat", on=False)
    home.press("intensity", value="1")
    await home.state(lambda s: s["heat_on"] is False and s["intensity"] == 1 and s["mode"] == "idle")
    mark = len(home.probe.messages)
    home.press("start")
    s = await home.state(lambda s: s["mode"] == "running", start=mark)
    assert (s["heat_on"], s["intensity"]) == (False, 1)
    assert all(p["target_c"] is None for p in s["pads"].values()), "heat stays off"


async def test_choosing_a_program_does_not_start_it_and_start_starts_the_choice(home):
    mark = len(home.probe.messages)
    home.press("program", value="lymphatic")
    s = await home.state(lambda s: s["selected_program"] == "lymphatic", start=mark)
    assert s["mode"] == "idle" and s["program"] is None
    s_seq = s["seq"]
    # nothing starts afterwards either: the next message (at the latest the 5 s heartbeat) is idle
    later = await home.state(lambda s: s["seq"] > s_seq, start=len(home.probe.messages))
    assert later["mode"] == "idle" and later["selected_program"] == "lymphatic"
    mark = len(home.probe.messages)
    home.press("start")
    s = await home.state(lambda s: s["mode"] == "running", start=mark)
    assert s["program"] == "lymphatic"


async def test_changing_the_program_during_a_session_is_kept_for_the_next_start_with_a_notice(home):
    assert (await home.command({"command": "start", "program": "quick_circulation"}))["ok"]
    mark = len(home.probe.messages)
    result = await home.command({"command": "select_program", "program": "deep_tissue"})
    assert result["ok"] and "next start" in result["data"]["note"] and "Quick circulation" in result["data"]["note"]
    notice = await home.probe.wait_topic(home.t["event"], start=mark, where=lambda e: e["type"] == "notice")
    assert "Deep tissue" in notice.json()["text"]
    s = await home.state(lambda s: s["selected_program"] == "deep_tissue", start=mark)
    assert (s["mode"], s["program"]) == ("running", "quick_circulation"), "the session goes on"


async def test_after_a_session_the_select_shows_it_and_the_last_session_sensor_says_how_it_went(home):
    assert (await home.command({"command": "start", "program": "foot_focus"}))["ok"]
    await home.state(lambda s: s["mode"] == "running")
    mark = len(home.probe.messages)
    assert (await home.command({"command": "stop"}))["ok"]
    s = await home.state(lambda s: s["last_session"] is not None, start=mark)
    assert s["selected_program"] == "foot_focus"
    assert (s["last_session"]["program"], s["last_session"]["outcome"]) == ("foot_focus", "stopped")
    assert 0.0 <= s["last_session"]["minutes"] < 1.0


async def test_an_unknown_choice_is_refused_with_the_known_programs(home):
    result = await home.command({"command": "select_program", "program": "no_such"})
    assert not result["ok"] and "known:" in result["error"]


async def test_every_component_asks_for_qos_1(home):
    assert {c["qos"] for c in home.cmps.values()} == {1}


async def test_idle_state_is_quiet_deadbanded_and_still_has_a_heartbeat(home):
    """Idle, the simulated sensors keep wandering (pressure noise); Home Assistant's entities
    should not: at most one message a second, and a pressure changes only by 1 mmHg or more."""
    await home.state(lambda s: s["mode"] == "idle")
    mark = len(home.probe.messages)
    loop = asyncio.get_running_loop()
    window_s = 7.0  # the measured window: the first state message after it closes it
    t0 = loop.time()
    await home.probe.wait_for(lambda m: m.topic == home.t["state"] and loop.time() - t0 >= window_s,
                              start=mark, timeout=window_s + 8)
    seen = [m for m in home.probe.on(home.t["state"], mark)]
    assert len(seen) <= 9, f"{len(seen)} state messages in ~7 s idle"
    pressures = [[c["pressure_mmhg"] for c in m.json()["chambers"].values()] for m in seen]
    assert all(float(p).is_integer() for row in pressures for p in row if p is not None)
    temps = [p["temp_c"] for m in seen for p in m.json()["pads"].values() if p["temp_c"] is not None]
    assert all(round(t, 1) == t for t in temps)


def test_a_device_id_that_would_collide_is_refused_with_a_clear_error(tmp_path):
    run = subprocess.run([sys.executable, "-m", "controller.app.cli", "run", "--sim", "--no-mqtt",
                          "--device-id", "Leg-1", "--state-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "device id 'Leg-1'" in run.stderr and "'leg_1'" in run.stderr
