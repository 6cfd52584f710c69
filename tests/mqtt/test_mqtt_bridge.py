"""What a person with an MQTT client (or Home Assistant) sees of the machine, on a real broker."""

from __future__ import annotations

import asyncio
import json

import pytest

pytestmark = [pytest.mark.looptime(False)]


async def test_on_connect_the_machine_announces_itself_and_its_state(rig, mqtt_broker):
    from bench.mqtt_probe import MqttProbe

    t = rig.topics
    await rig.probe.wait_topic(t["availability"], b"online")
    discovery = await rig.probe.wait_topic(t["discovery"])
    host, port = mqtt_broker
    async with MqttProbe(host, port, subscriptions=[t["availability"], t["discovery"]]) as late:
        # a subscriber that comes later gets both from the broker: they were published retained
        online = await late.wait_topic(t["availability"])
        assert online.payload == b"online" and online.retain
        assert (await late.wait_topic(t["discovery"])).retain
    assert discovery.json()["cmps"], "discovery lists the machine's entities"
    state = (await rig.probe.wait_topic(t["state"])).json()
    assert state["mode"] == "idle"
    assert set(state["pads"]) == {"left_foot", "left_calf", "right_foot", "right_calf"}


async def test_starting_a_program_over_mqtt_moves_the_state(rig):
    t = rig.topics
    result = await rig.command({"command": "start", "program": "quick_circulation", "intensity": 4})
    assert result["ok"] is True and result["error"] is None
    state = await rig.probe.wait_topic(t["state"], where=lambda s: s["mode"] == "running")
    assert state.json()["program"] == "quick_circulation"
    assert state.json()["intensity"] == 4
    event = await rig.probe.wait_topic(t["event"], where=lambda e: e["type"] == "session_start")
    assert event.retain is False

    assert (await rig.command({"command": "pause"}))["ok"] is True
    await rig.probe.wait_topic(t["state"], where=lambda s: s["mode"] == "paused")
    assert (await rig.command({"command": "stop"}))["ok"] is True
    await rig.probe.wait_topic(t["state"], where=lambda s: s["mode"] == "idle")
    await rig.probe.wait_topic(t["event"], where=lambda e: e["type"] == "session_end")


async def test_a_refusal_from_the_machine_comes_back_with_its_reason(rig):
    result = await rig.command({"command": "pause"})
    assert result == {"id": result["id"], "ok": False, "error": "nothing to pause: the machine is idle"}


BAD_PAYLOADS = [
    # (what a person did wrong, payload, id to expect back, words the answer must contain)
    ("not JSON", b"start please", None, ["not valid JSON"]),
    ("not an object", b"[1, 2]", None, ["JSON object"]),
    ("missing command", {"id": "b-missing", "program": "lymphatic"}, "b-missing", ["missing field 'command'"]),
    ("unknown command", {"id": "b-unknown", "command": "dance"}, "b-unknown", ["unknown command 'dance'"]),
    ("wrong type", {"id": "b-type", "command": "set_intensity", "intensity": "high"}, "b-type",
     ["intensity", "integer"]),
    ("out of range", {"id": "b-range", "command": "set_intensity", "intensity": 9}, "b-range",
     ["intensity", "less than or equal to 5"]),
    ("unknown field", {"id": "b-field", "command": "stop", "force": True}, "b-field", ["force", "unknown field"]),
    ("lockout reset from afar", {"id": "b-lockout", "command": "reset_lockout"}, "b-lockout",
     ["reset_lockout", "only accepted from the panel or the technician socket"]),
    ("driving an output from afar", {"id": "b-manual", "command": "manual", "output": "pump", "value": 1.0},
     "b-manual", ["manual", "only accepted from the panel or the technician socket"]),
    ("sneaking the local flag in", {"id": "b-flag", "command": "stop", "local_only": False}, "b-flag",
     ["local_only"]),
]


async def test_every_kind_of_bad_command_gets_a_clear_refusal_while_the_machine_keeps_running(rig):
    t = rig.topics
    assert (await rig.command({"command": "start", "program": "lymphatic"}))["ok"] is True
    applied_before = len(rig.machine.applied)
    ticks_before = rig.machine.ticks

    for what, payload, expect_id, words in BAD_PAYLOADS:
        start = len(rig.probe.messages)
        rig.send(payload)
        seen = await rig.probe.wait_topic(t["cmd_result"], start=start)
        result = seen.json()
        assert result["ok"] is False, what
        assert result["id"] == expect_id, what
        for word in words:
            assert word in result["error"], f"{what}: {result['error']!r} lacks {word!r}"

    # oversized: the answer names the size and the limit
    big = json.dumps({"id": "b-big", "command": "stop", "note": "x" * 5000}).encode()
    start = len(rig.probe.messages)
    rig.send(big)
    result = (await rig.probe.wait_topic(t["cmd_result"], start=start)).json()
    assert result["ok"] is False
    assert f"{len(big)} bytes" in result["error"] and "limit 4096" in result["error"]

    # A retained command would be replayed to the bridge on every reconnect: refused then.
    rig.bridge_task.cancel()
    await asyncio.gather(rig.bridge_task, return_exceptions=True)
    start = len(rig.probe.messages)
    rig.send({"id": "b-retained", "command": "stop"}, retain=True)
    await rig.probe.wait_topic(t["cmd"], start=start)  # the broker holds it now
    rig.bridge_task = asyncio.create_task(rig.bridge.run())
    result = await rig.result_for("b-retained", start=start)
    assert result["ok"] is False and "retain" in result["error"]
    rig.probe.publish(t["cmd"], b"", retain=True)  # clear the retained message

    assert len(rig.machine.applied) == applied_before, "no bad command reached the machine"
    assert rig.machine.mode == "running"
    state = await rig.probe.wait_topic(t["state"], start=start, where=lambda s: s["mode"] == "running")
    assert state.json()["program"] == "lymphatic"
    # the scan cycle still runs: it ticks again (waited for, bounded: the bad commands above can
    # all be answered inside one 20 ms tick, so counting ticks at once was a race)
    for _ in range(250):
        if rig.machine.ticks > ticks_before:
            break
        await asyncio.sleep(rig.machine.tick_s)
    assert rig.machine.ticks > ticks_before
    assert (await rig.command({"command": "stop"}))["ok"] is True  # and it still listens
    assert rig.bridge.stats["refused"] >= len(BAD_PAYLOADS) + 2


async def test_state_is_rate_limited_but_never_silent(rig):
    """The fake machine publishes 50 snapshots a second; the broker sees about two."""
    t = rig.topics
    assert (await rig.command({"command": "start", "program": "lymphatic"}))["ok"] is True
    start = len(rig.probe.messages)
    first = await rig.probe.wait_topic(t["state"], start=start)
    await asyncio.sleep(2.0)
    states = rig.probe.on(t["state"], start)
    span = states[-1].t - first.t
    assert 2 <= len(states) <= 2 * span + 2, f"{len(states)} states in {span:.2f} s"
    assert all(m.retain is False for m in states)  # live delivery; the broker keeps the last retained
    # idle and unchanged: still refreshed every state_interval_s (2 s in the rig)
    start = len(rig.probe.messages)
    assert (await rig.command({"command": "stop"}))["ok"] is True
    idle = await rig.probe.wait_topic(t["state"], start=start, where=lambda s: s["mode"] == "idle")
    after = rig.probe.messages.index(idle) + 1
    refresh = await rig.probe.wait_topic(t["state"], start=after, timeout=5)
    again = await rig.probe.wait_topic(t["state"], start=rig.probe.messages.index(refresh) + 1, timeout=5)
    assert 1.5 <= refresh.t - idle.t <= 3.5 and 1.5 <= again.t - refresh.t <= 3.5
    assert refresh.json()["mode"] == again.json()["mode"] == "idle"


async def test_state_snapshot_is_retained_for_late_subscribers(rig, mqtt_broker):
    from bench.mqtt_probe import MqttProbe

    await rig.probe.wait_topic(rig.topics["state"])
    host, port = mqtt_broker
    async with MqttProbe(host, port, subscriptions=[rig.topics["state"], rig.topics["availability"]]) as late:
        state = await late.wait_topic(rig.topics["state"])
        assert state.retain and state.json()["mode"] == "idle"
        assert (await late.wait_topic(rig.topics["availability"])).retain


async def test_home_assistant_coming_online_gets_discovery_and_state_again(rig):
    t = rig.topics
    await rig.probe.wait_topic(t["discovery"])
    await rig.probe.wait_topic(t["state"])
    start = len(rig.probe.messages)
    rig.probe.publish(f"{rig.settings.discovery_prefix}/status", b"online")
    again = await rig.probe.wait_topic(t["discovery"], start=start, timeout=5)
    assert again.json()["dev"]["sw"] == "9.9.9-test"
    await rig.probe.wait_topic(t["state"], start=start, timeout=3)
    assert rig.bridge.stats["published_discovery"] >= 2


async def test_a_slow_machine_does_not_stop_the_bridge_listening(rig):
    """Commands wait for the machine in their own tasks; past the in-flight cap they are refused."""
    t = rig.topics
    rig.machine.answering.clear()
    cap = rig.bridge.MAX_IN_FLIGHT
    start = len(rig.probe.messages)
    for i in range(cap + 3):
        rig.send({"id": f"slow{i}", "command": "set_intensity", "intensity": 1 + i % 5})
    busy = [await rig.result_for(f"slow{i}", start=start) for i in range(cap, cap + 3)]
    assert all(not r["ok"] and "busy" in r["error"] for r in busy)
    # still reading: Home Assistant's birth message is handled while commands hang
    rig.probe.publish(f"{rig.settings.discovery_prefix}/status", b"online")
    await rig.probe.wait_topic(t["discovery"], start=start, timeout=5)
    rig.machine.answering.set()
    answered = [await rig.result_for(f"slow{i}", start=start) for i in range(cap)]
    assert all(r["ok"] for r in answered)


async def test_a_clean_stop_says_offline(rig):
    start = len(rig.probe.messages)
    rig.bridge_task.cancel()
    await asyncio.gather(rig.bridge_task, return_exceptions=True)
    await rig.probe.wait_topic(rig.topics["availability"], b"offline", start=start, timeout=5)
