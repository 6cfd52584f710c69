"""The broker is optional equipment: floods, outages and crashes never stall the machine."""

from __future__ import annotations

import asyncio
import json
import sys
import tracemalloc
from pathlib import Path

import pytest

from controller.model.config import MqttSettings
from controller.machine.hub import MachineHub
from controller.interfaces.mqtt import MqttBridge
from bench.mqtt_probe import MqttProbe
from tests.fake_machine import CHAMBERS, PADS, ROLLERS, FakeMachine

pytestmark = [pytest.mark.looptime(False)]

ROOT = Path(__file__).resolve().parents[2]


class Heartbeat:
    """A task that ticks every 10 ms and remembers the longest gap: a stalled loop shows here."""

    def __init__(self, period: float = 0.01) -> None:
        self.period = period
        self.beats = 0
        self.max_gap = 0.0
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(self.period)
            now = loop.time()
            self.max_gap = max(self.max_gap, now - last)
            last = now
            self.beats += 1

    def __enter__(self) -> "Heartbeat":
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc) -> None:
        self._task.cancel()


async def until(condition, timeout: float, what: str) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"not within {timeout} s: {what}") from None


async def test_a_flood_of_500_commands_is_dropped_and_counted_and_the_machine_keeps_its_pace(rig):
    t = rig.topics
    bridge, machine = rig.bridge, rig.machine
    await rig.probe.wait_topic(t["state"])
    rate = rig.settings.max_commands_per_s
    burst = bridge._bucket.burst
    payloads = [json.dumps({"id": f"f{i}", "command": "set_intensity", "intensity": 1 + i % 5}).encode()
                for i in range(500)]
    start = len(rig.probe.messages)
    machine.max_tick_gap_s = 0.0
    tracemalloc.start()
    try:
        with Heartbeat() as heart:
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            await asyncio.to_thread(lambda: [rig.probe.publish(t["cmd"], p, qos=0) for p in payloads])
            await until(lambda: bridge.stats["received"] >= 500, 20, "the bridge read all 500 commands")
            elapsed = loop.time() - t0
            await asyncio.sleep(1.2)  # let answers and the last flood notice go out
            in_flight, outbox = len(bridge._in_flight), len(bridge._outbox)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    stats = dict(bridge.stats)
    allowed = burst + rate * (elapsed + 1.2) + 1
    assert stats["received"] == 500
    assert stats["dropped_flood"] >= 500 - allowed, stats
    assert stats["accepted"] + stats["refused"] + stats["dropped_flood"] == 500, stats
    assert len(machine.applied) <= allowed, "the bucket let through more than its rate"
    results = [m.json() for m in rig.probe.on(t["cmd_result"], start)]
    notices = [r for r in results if (r["error"] or "").startswith("rate limited")]
    assert 1 <= len(notices) <= elapsed + 1.2 + 1, f"{len(notices)} notices in {elapsed:.2f} s"
    assert "dropped" in notices[0]["error"] and f"{rate:g} commands/s" in notices[0]["error"]
    assert all(r["ok"] for r in results if r not in notices)  # nothing else went wrong
    # bounded: nothing piles up anywhere
    assert in_flight <= bridge.MAX_IN_FLIGHT and outbox <= bridge.OUTBOX_SIZE
    assert rig.hub.commands.qsize() <= rig.hub.commands.maxsize
    assert peak < 8 * 1024 * 1024, f"the flood cost {peak / 1e6:.1f} MB"
    # the machine's loop never stalled
    assert heart.max_gap < 0.25, f"event loop stalled for {heart.max_gap * 1000:.0f} ms"
    assert machine.max_tick_gap_s < 0.25, f"machine tick late by {machine.max_tick_gap_s * 1000:.0f} ms"
    # and once the flood is over, commands are served again
    await asyncio.sleep(1.0)
    assert (await rig.command({"command": "start", "program": "lymphatic"}))["ok"] is True


async def test_the_bridge_rides_out_a_broker_restart(rig, mqtt_broker):
    t = rig.topics
    bridge, machine = rig.bridge, rig.machine
    await rig.probe.wait_topic(t["state"])
    assert (await rig.command({"command": "start", "program": "lymphatic"}))["ok"] is True

    with Heartbeat() as heart:
        await mqtt_broker.async_stop()
        await until(lambda: not bridge.connected.is_set(), 10, "the bridge noticed the broker is gone")
        ticks = machine.ticks
        # the machine keeps working: commands from the panel still go through the hub
        from controller.model.commands import Source, parse_command
        result = await rig.hub.submit(parse_command({"command": "pause"}, Source.PANEL), Source.PANEL)
        assert result.ok and machine.mode == "paused"
        rig.hub.publish_event({"type": "while_broker_down", "t_s": 0.0})
        await until(lambda: bridge.stats["connect_failures"] >= 1, 10, "a failed connection attempt")
        assert machine.ticks > ticks
        # The bridge just failed an attempt, so its next one is at least a second away: a new
        # probe subscribed before then sees everything the bridge sends on reconnecting.
        await mqtt_broker.async_start()
        async with MqttProbe(*mqtt_broker) as probe:
            online = await probe.wait_topic(t["availability"], b"online", timeout=40)
            discovery = await probe.wait_topic(t["discovery"], timeout=5)
            state = await probe.wait_topic(t["state"], timeout=5)
            assert discovery.t <= state.t and online.t <= state.t
            assert state.json()["mode"] == "paused"
            await probe.wait_topic(t["event"], where=lambda e: e["type"] == "while_broker_down", timeout=5)
            # and it listens again
            result = await rig.command({"command": "resume"}, probe=probe)
            assert result["ok"] is True
            await probe.wait_topic(t["state"], where=lambda s: s["mode"] == "running")
    assert heart.max_gap < 0.25
    assert machine.max_tick_gap_s < 0.25
    assert bridge.stats["reconnects"] >= 1


async def test_a_machine_started_without_a_broker_works_and_connects_when_one_appears(mqtt_broker):
    await mqtt_broker.async_stop()
    host, port = mqtt_broker
    hub = MachineHub()
    machine = FakeMachine(hub)
    bridge = MqttBridge(MqttSettings(host=host, port=port, device_id="late"), hub,
                        pad_names=PADS, chamber_names=CHAMBERS, roller_names=ROLLERS)
    tasks = [asyncio.create_task(machine.run()), asyncio.create_task(bridge.run())]
    try:
        with Heartbeat() as heart:
            await until(lambda: bridge.stats["connect_failures"] >= 2, 10, "two failed attempts")
            assert not tasks[1].done(), "the bridge gave up"
            assert bridge.backoff.upcoming == 4.0  # 1 s, 2 s, then 4 s: backing off
            await mqtt_broker.async_start()
            async with MqttProbe(host, port) as probe:
                await probe.wait_topic(bridge.topics["availability"], b"online", timeout=40)
                await probe.wait_topic(bridge.topics["state"], timeout=5)
        assert heart.max_gap < 0.25 and machine.max_tick_gap_s < 0.25
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_bridge_that_dies_leaves_offline_behind(mqtt_broker, tmp_path):
    """SIGKILL gives no chance to say goodbye: the broker publishes the last will for us."""
    host, port = mqtt_broker
    availability = "legtherapy/dies/availability"
    log = open(tmp_path / "machine.log", "wb")
    async with MqttProbe(host, port, subscriptions=[availability]) as probe:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.fake_machine", "--host", host, "--port", str(port),
            "--device-id", "dies", cwd=ROOT, stdout=log, stderr=log, stdin=asyncio.subprocess.DEVNULL)
        try:
            await probe.wait_topic(availability, b"online", timeout=30)
            proc.kill()
            await proc.wait()
            await probe.wait_topic(availability, b"offline", timeout=10)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            log.close()
    async with MqttProbe(host, port, subscriptions=[availability]) as late:
        seen = await late.wait_topic(availability, timeout=5)
        assert seen.payload == b"offline" and seen.retain, "the will is retained for late subscribers"
