"""Fleet bench: what one machine costs an MQTT broker and Home Assistant, and what ten cost.

* Per machine: the whole machine on the simulated board (real time), behind its bridge, on a
  local mosquitto (amqtt where it is missing). For a window idle and a window running, a
  probe counts state messages and bytes a second, and the changes of the ten noisy sensor
  entities (four pad temperatures, six chamber pressures) as Home Assistant would render them:
  each change is a recorder row. "before" is the bridge without deadbands and with the
  session's 0.5 s gap when idle too (what it was); "after" is the bridge as it is.
* Ten machines: ten bridges on one broker, each fed the recorded snapshot stream of the real
  machine (idle, then running, 50 Hz, replayed in a loop with its own offset) so ten scan
  cycles need not share the bench's CPU; the probe counts what the broker delivers, and the
  broker's own CPU time is read from /proc.

``run()`` is what ``python -m bench fleet`` calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controller.interfaces.mqtt import MqttBridge  # noqa: E402
from controller.interfaces.state_filter import StateFilter  # noqa: E402
from controller.machine.hub import MachineHub  # noqa: E402
from controller.model.commands import Source, Start  # noqa: E402
from controller.model.config import MqttSettings, load_config  # noqa: E402

PROGRAM = "quick_circulation"
FLEET = 10


def run(window_s: float = 10.0) -> dict:
    return asyncio.run(_run(window_s))


async def _run(window_s: float) -> dict:
    from bench.broker import LocalBroker

    broker = LocalBroker()
    await broker.async_start()
    try:
        per_machine, recorded = [], []
        for label, deadbands in (("before", False), ("after", True)):
            rows, snapshots = await _one_machine(broker, window_s, deadbands)
            per_machine += [{"deadbands": label, **row} for row in rows]
            if deadbands:
                recorded = snapshots
        fleet = await _fleet(broker, recorded, window_s)
        return {"broker": broker.kind, "window_s": window_s, "per_machine": per_machine, "ten_machines": fleet}
    finally:
        broker.close()


# --- one real machine ---------------------------------------------------------------------------

@contextlib.asynccontextmanager
async def _machine():
    from controller.app.daemon import RunOptions, run_machine

    with tempfile.TemporaryDirectory() as state:
        opts = RunOptions(config=load_config(), state_dir=state, sim=True, mqtt=False, socket_path=None, panel=False)
        ready = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(run_machine(opts, ready=ready))
        sup = await ready
        try:
            yield sup
        finally:
            sup.stop()
            await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def _bridge(settings: MqttSettings, hub: MachineHub, config, *, deadbands: bool = True):
    bridge = MqttBridge(settings, hub, pad_names=config.pad_names, chamber_names=config.chamber_names,
                        roller_names=config.roller_names, sw_version="bench")
    if not deadbands:  # the bridge as it was: every change published, 0.5 s apart idle or not
        bridge._state_filter = StateFilter({})
        bridge.STATE_IDLE_GAP_S = MqttBridge.STATE_MIN_GAP_S
    task = asyncio.create_task(bridge.run())
    try:
        async with asyncio.timeout(30):
            await bridge.connected.wait()
        yield bridge
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _one_machine(broker, window_s: float, deadbands: bool) -> tuple[list[dict], list]:
    from bench.mqtt_probe import MqttProbe

    config = load_config()
    settings = MqttSettings(host=broker.host, port=broker.port, device_id="bench_one")
    async with _machine() as sup, _bridge(settings, sup.hub, config, deadbands=deadbands) as bridge:
        recording = sup.hub.subscribe_state(maxsize=int(window_s * 60 * 2) + 100)
        async with MqttProbe(broker.host, broker.port, subscriptions=(bridge.topics["state"],)) as probe:
            await asyncio.sleep(2.0)  # settle: the first messages after connecting are not the steady rate
            idle = await _window(probe, bridge.topics["state"], window_s)
            result = await sup.hub.submit(Start(command="start", program=PROGRAM), Source.CLI)
            assert result.ok, result.error
            await asyncio.sleep(1.0)
            running = await _window(probe, bridge.topics["state"], window_s)
        snapshots = []
        while not recording.empty():
            snapshots.append(recording.get_nowait())
        recording.close()
    return [{"mode": "idle", **idle}, {"mode": "running", **running}], snapshots


async def _window(probe, topic: str, window_s: float) -> dict:
    start = len(probe.messages)
    await asyncio.sleep(window_s)  # the measured window
    seen = probe.on(topic, start)
    changes = 0
    last = None
    for m in seen:
        values = _entity_values(m.json())
        if last is not None:
            changes += sum(a != b for a, b in zip(values, last))
        last = values
    return {"msgs_per_s": round(len(seen) / window_s, 2),
            "bytes_per_s": round(sum(len(m.payload) for m in seen) / window_s),
            "sensor_changes_per_s": round(changes / window_s, 2),
            "recorder_rows_per_day": round(changes / window_s * 86400)}


def _entity_values(state: dict) -> list:
    """The ten noisy sensor entities as Home Assistant shows them (its display precision is
    only for showing: the recorder stores the value from the payload)."""
    return ([p["temp_c"] for p in state["pads"].values()]
            + [c["pressure_mmhg"] for c in state["chambers"].values()])


# --- ten machines -------------------------------------------------------------------------------

class _Replay:
    """A hub fed the recorded snapshots of a real machine at 50 Hz, from ``offset`` on."""

    def __init__(self, snapshots: list, offset: int) -> None:
        self.hub = MachineHub()
        self.snapshots, self.i = snapshots, offset

    async def run(self) -> None:
        seq = 0
        while True:
            seq += 1
            snapshot = self.snapshots[self.i % len(self.snapshots)]
            self.hub.publish_state(snapshot.model_copy(update={"seq": seq}))
            self.i += 1
            await asyncio.sleep(0.02)


async def _fleet(broker, snapshots: list, window_s: float) -> dict:
    from bench.mqtt_probe import MqttProbe

    config = load_config()
    replays = [_Replay(snapshots, offset=i * len(snapshots) // FLEET) for i in range(FLEET)]
    tasks = [asyncio.create_task(r.run()) for r in replays]
    try:
        async with contextlib.AsyncExitStack() as stack:
            for i, replay in enumerate(replays):
                settings = MqttSettings(host=broker.host, port=broker.port, device_id=f"bench_fleet_{i}")
                await stack.enter_async_context(_bridge(settings, replay.hub, config))
            async with MqttProbe(broker.host, broker.port, subscriptions=("legtherapy/+/state",)) as probe:
                await asyncio.sleep(2.0)
                cpu0, start = _cpu_s(broker), len(probe.messages)
                await asyncio.sleep(window_s)  # the measured window
                cpu1, seen = _cpu_s(broker), probe.messages[start:]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {"machines": FLEET, "msgs_per_s": round(len(seen) / window_s, 1),
            "bytes_per_s": round(sum(len(m.payload) for m in seen) / window_s),
            "broker_cpu_percent": None if cpu0 is None else round(100.0 * (cpu1 - cpu0) / window_s, 2)}


def _cpu_s(broker) -> float | None:
    """The broker process's CPU seconds so far (Linux /proc), or None."""
    proc = getattr(broker, "_proc", None)
    try:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (AttributeError, OSError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
