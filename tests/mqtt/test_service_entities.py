"""Pump health and today's minutes per leg in Home Assistant, and a weak pump said there: the
real machine (simulated board) through a real broker, in real time (sockets do not
fast-forward), so waits are bounded by timeouts, never fixed sleeps.

The discovery the machine published is rendered by Home Assistant's own Jinja (``ha_validate``
in the Home Assistant venv) on the state the machine published.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import subprocess

import pytest

from bench.mqtt_probe import MqttProbe
from controller.interfaces.discovery import topics
from controller.storage import service_record as sr
from tests.mqtt.ha_env import ha_python

DEVICE = "service_check"
HERE = __import__("pathlib").Path(__file__).parent


def seed_records(state_dir) -> None:
    """A pump that wore from 99 % to 58 % of its rated flow over 20 sessions, and today's minutes."""
    state_dir.mkdir(parents=True, exist_ok=True)
    sessions = [{"ended_at": "2026-11-01T08:00:00+00:00", "program": "full_leg", "reference": "rated",
                 "pump_percent": 99.0 - 2.05 * i,
                 "chambers": {"left_thigh": {"fills": 3, "fill_ratio": round(0.99 - 0.0205 * i, 4),
                                             "fill_rate_mmhg_per_s": 4.7, "leak_per_s": 0.02, "leak_s": 30.0}}}
                for i in range(21)]
    (state_dir / sr.FILE_NAME).write_text(json.dumps({"version": 1, "sessions": sessions}))
    today = dt.date.today().isoformat()
    day = {"minutes": 12.5, "sessions": 1, "programs": ["full_leg"], "intensities": [3], "strokes": 40}
    (state_dir / "daily_record.json").write_text(json.dumps(
        {"days": {today: {"left": day, "right": {**day, "minutes": 7.0}}}}))


@pytest.fixture
async def machine(mqtt_broker, tmp_path):
    from controller.app.daemon import RunOptions, run_machine
    from controller.model.config import load_config

    host, port = mqtt_broker
    config = load_config(overrides={"mqtt": {"host": host, "port": port, "device_id": DEVICE}})
    seed_records(tmp_path / "state")
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    task = asyncio.create_task(run_machine(RunOptions(config=config, state_dir=str(tmp_path / "state"), sim=True,
                                                      mqtt=True, socket_path=None, panel=False), ready=ready))
    try:
        sup = await asyncio.wait_for(ready, 30)
        async with MqttProbe(host, port) as probe:
            t = topics(config.mqtt)
            seen = await probe.wait_topic(t["discovery"], timeout=15)
            await probe.wait_topic(t["availability"], b"online", timeout=15)
            yield probe, t, seen.json(), sup
    finally:
        if not task.done() and "sup" in locals():
            sup.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def render(payload: dict, states: list[dict]) -> dict:
    """Home Assistant's validation and rendering of ``payload`` on ``states``."""
    run = subprocess.run([str(ha_python()), str(HERE / "ha_validate.py")],
                         input=json.dumps({"payload": payload, "states": states}), capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)


async def test_pump_health_and_todays_minutes_reach_home_assistant_from_the_records(machine):
    probe, t, discovery, sup = machine
    cmps = discovery["cmps"]
    pump, left, right = cmps["pump_health"], cmps["left_minutes_today"], cmps["right_minutes_today"]
    assert (pump["unit_of_meas"], pump["stat_cla"], pump["ent_cat"], pump["qos"]) == ("%", "measurement",
                                                                                      "diagnostic", 1)
    assert (left["unit_of_meas"], left["dev_cla"], left["stat_cla"]) == ("min", "duration", "total_increasing")
    assert right["name"] == "Right leg minutes today" and right["uniq_id"] == f"{DEVICE}_right_minutes_today"

    state = (await probe.wait_topic(t["state"], timeout=15, where=lambda s: s["mode"] == "idle")).json()
    assert state["pump_percent"] == 58.0 and state["minutes_today"] == {"left": 12.5, "right": 7.0}
    checked = render(discovery, [state])
    for cid in ("pump_health", "left_minutes_today", "right_minutes_today"):
        assert checked["components"][cid]["error"] is None, checked["components"][cid]
    values = {cid: r["value_template"][0] for cid, r in checked["renders"].items() if "value_template" in r}
    assert (values["pump_health"], values["left_minutes_today"], values["right_minutes_today"]) == \
        ("58.0", "12.5", "7.0")
    attributes = json.loads(checked["renders"]["pump_health"]["json_attributes_template"][0])
    assert (attributes["pump_percent_before"], attributes["sessions_before"], attributes["reference"]) == \
        (99.0, 20, "rated")
    assert attributes["leaks"]["left_thigh"] == {"leak_mmhg_per_s": 0.8, "times_commissioned": None}


async def test_a_weak_pump_is_a_notice_and_a_warning_on_mqtt_during_the_session(machine):
    probe, t, discovery, sup = machine
    sup.sim.pneumatics.pump_efficiency = 0.4  # a worn pump: 40 % of its flow
    mark = len(probe.messages)
    probe.publish(t["cmd"], {"id": "s1", "command": "start", "program": "deep_tissue", "intensity": 5,
                             "heat": False})
    result = (await probe.wait_topic(t["cmd_result"], start=mark, timeout=10, where=lambda r: r["id"] == "s1")).json()
    assert result["ok"], result
    # three full-duty fills (foot, foot, calf at 40 % flow): about a minute
    notice = (await probe.wait_topic(t["event"], start=mark, timeout=150,
                                     where=lambda e: e.get("code") == "pump_service")).json()
    match = re.fullmatch(r"pump delivers (\d+) % of its rated flow: service the pump", notice["text"])
    assert match and 30 <= int(match.group(1)) < 50 and notice["panel_code"] == 10
    fault = (await probe.wait_topic(t["event"], start=mark, timeout=10,
                                    where=lambda e: e.get("code") == "pump_weak")).json()
    assert fault["type"] == "fault" and fault["severity"] == "warning" and fault["message"] == notice["text"]
    state = (await probe.wait_topic(t["state"], start=mark, timeout=10,
                                    where=lambda s: s["notice_text"] == notice["text"])).json()
    assert state["mode"] == "running" and not state["problem"]  # a warning: therapy goes on
    assert any(f["code"] == "pump_weak" and f["severity"] == "warning" for f in state["faults"])
