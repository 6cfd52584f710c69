"""Ten machines on one broker (a clinic, a family): they must not see or disturb each other.

Nine machines run behind their own bridges in this process, with sensors as noisy as the
simulator's; the tenth runs in its own process, so it can crash (SIGKILL, no goodbye) while
the others are watched. Real time against mosquitto (or amqtt where it is not installed).
"""

from __future__ import annotations

import asyncio
import random
import signal
import sys
from pathlib import Path

import pytest

from bench.mqtt_probe import MqttProbe
from controller.interfaces.mqtt import MqttBridge
from controller.machine.hub import MachineHub
from controller.model.config import MqttSettings
from tests.fake_machine import CHAMBERS, PADS, ROLLERS, FakeMachine

ROOT = Path(__file__).resolve().parents[2]
N = 10
IDS = [f"clinic_{i}" for i in range(N)]


class NoisyMachine(FakeMachine):
    """Sensors that never sit still: ±0.01 °C on the pads, ±0.4 mmHg on the chambers."""

    def __init__(self, hub: MachineHub, seed: int) -> None:
        super().__init__(hub)
        self._rng = random.Random(seed)

    def state(self):
        state = super().state()
        rng = self._rng
        pads = {z: p.model_copy(update={"temp_c": round(24.0 + rng.uniform(-0.01, 0.01), 2)})
                for z, p in state.pads.items()}
        chambers = {z: c.model_copy(update={"pressure_mmhg": round(2.0 + rng.uniform(-0.4, 0.4), 1)})
                    for z, c in state.chambers.items()}
        return state.model_copy(update={"pads": pads, "chambers": chambers})


@pytest.fixture
async def fleet(mqtt_broker, tmp_path):
    host, port = mqtt_broker
    machines, tasks = {}, []
    for i, device in enumerate(IDS[:-1]):
        hub = MachineHub()
        machine = NoisyMachine(hub, seed=i)
        bridge = MqttBridge(MqttSettings(host=host, port=port, device_id=device), hub, pad_names=PADS,
                            chamber_names=CHAMBERS, roller_names=ROLLERS, sw_version="9.9.9-test")
        machines[device] = (machine, bridge)
        tasks += [asyncio.create_task(machine.run()), asyncio.create_task(bridge.run())]
    log = open(tmp_path / "crasher.log", "wb")
    crasher = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fake_machine", "--host", host, "--port", str(port), "--device-id", IDS[-1],
        cwd=ROOT, stdout=log, stderr=log, stdin=asyncio.subprocess.DEVNULL)
    try:
        async with MqttProbe(host, port, subscriptions=("legtherapy/#", "homeassistant/#")) as probe:
            for device in IDS:
                await probe.wait_topic(f"legtherapy/{device}/availability", b"online", timeout=30)
            yield probe, machines, crasher
    finally:
        if crasher.returncode is None:
            crasher.kill()
        await crasher.wait()
        log.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_ten_machines_share_one_broker_without_seeing_each_other(fleet, mqtt_broker):
    probe, machines, crasher = fleet

    # distinct discovery, and no unique id shared by two machines
    payloads = {d: (await probe.wait_topic(f"homeassistant/device/{d}/config", timeout=15)).json() for d in IDS}
    unique_ids = [c["uniq_id"] for p in payloads.values() for c in p["cmps"].values()]
    assert len(unique_ids) == len(set(unique_ids)) == N * len(payloads[IDS[0]]["cmps"])
    assert len({p["dev"]["ids"][0] for p in payloads.values()}) == N
    assert all(p["avty_t"] == f"legtherapy/{d}/availability" for d, p in payloads.items())

    # each answers its own commands only
    mark = len(probe.messages)
    for i, device in enumerate(IDS):
        probe.publish(f"legtherapy/{device}/cmd", {"id": f"to_{device}", "command": "set_intensity",
                                                     "intensity": 1 + i % 5})
    for device in IDS:
        result = await probe.wait_topic(f"legtherapy/{device}/cmd/result", start=mark,
                                        where=lambda r, d=device: r["id"] == f"to_{d}")
        assert result.json()["ok"]
    for i, (device, (machine, _)) in enumerate(machines.items()):
        assert [c.id for c in machine.applied] == [f"to_{device}"]
        assert machine.intensity == 1 + i % 5
    strays = [m for m in probe.messages[mark:] if m.topic.endswith("/cmd/result")
              and m.json()["id"] != "to_" + m.topic.split("/")[1]]
    assert strays == []

    # state rates stay bounded: idle, noisy sensors, at most one message a second each
    loop = asyncio.get_running_loop()
    mark, t0, window_s = len(probe.messages), loop.time(), 6.0
    await probe.wait_for(lambda m: loop.time() - t0 >= window_s, start=mark, timeout=window_s + 8)
    elapsed = loop.time() - t0
    for device in IDS:
        n = len(probe.on(f"legtherapy/{device}/state", mark))
        assert 1 <= n <= elapsed + 1, f"{device}: {n} state messages in {elapsed:.1f} s"

    # one crash: its last will says offline, nobody else's availability moves
    mark = len(probe.messages)
    crasher.send_signal(signal.SIGKILL)
    await crasher.wait()
    await probe.wait_topic(f"legtherapy/{IDS[-1]}/availability", b"offline", start=mark, timeout=40)
    for machine, bridge in machines.values():
        assert bridge.connected.is_set()
    availability = [m for m in probe.messages[mark:] if m.topic.endswith("/availability")]
    assert [(m.topic, m.payload) for m in availability] == [(f"legtherapy/{IDS[-1]}/availability", b"offline")]
    host, port = mqtt_broker
    async with MqttProbe(host, port, subscriptions=("legtherapy/+/availability",)) as fresh:
        for device in IDS[:-1]:  # retained: a client joining now still sees them online
            await fresh.wait_topic(f"legtherapy/{device}/availability", b"online", timeout=10)
        await fresh.wait_topic(f"legtherapy/{IDS[-1]}/availability", b"offline", timeout=10)
