"""MQTT latency bench: how long a remote command takes, and what a flood costs the machine.

Measured through a real broker on loopback (mosquitto when installed, else amqtt's broker),
with an independent paho-mqtt client on its own thread taking the timestamps, so the numbers
include everything a Home Assistant user would wait for: broker hop, bridge, command queue,
machine, and the way back.

* command -> result: publish on ``cmd`` until the ``cmd/result`` with the same id arrives;
* command -> actuator: publish until the machine reports that an output changed because of the
  command (only when the machine calls the ``on_actuate`` callback it is given);
* flood: ``flood_n`` commands as fast as one client can send them, against the production rate
  limit, while the machine's snapshot rate (its tick rate) and the event loop's largest gap are
  watched.

``run()`` is what the bench runner calls; ``python bench/mqtt_latency.py`` runs it alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, AsyncContextManager, Callable

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controller.model.config import MqttSettings, load_config  # noqa: E402
from controller.machine.hub import MachineHub  # noqa: E402
from controller.interfaces.mqtt import MqttBridge  # noqa: E402

#: a factory gets the callback to call (with the command) when an output changed because of a
#: command, and yields a running machine's hub (or an object with ``.hub`` and the zone names)
HubFactory = Callable[[Callable[[Any], None]], AsyncContextManager[Any]]

DEFAULT_COMMANDS = (
    {"command": "start", "program": "quick_circulation", "intensity": 3},
    {"command": "pause"},
    {"command": "resume"},
    {"command": "stop"},
)


def run_real(n: int = 200, flood_n: int = 500) -> dict:
    """The bench runner's entry: the real machine on the simulated board."""
    return run(real_machine, n, flood_n=flood_n)


def run(hub_factory: HubFactory | None = None, n: int = 200, *, flood_n: int = 500,
        broker: tuple[str, int] | None = None, commands=DEFAULT_COMMANDS,
        settings: MqttSettings | None = None) -> dict:
    """Run the bench and return its numbers (milliseconds, hertz); see the module docstring.

    ``hub_factory`` defaults to a stub machine (``bench.stub_machine``) that carries out every
    command at once, so the numbers are the bridge's and the broker's. ``broker`` is ``(host, port)`` of
    a running broker; by default one is started on a free loopback port and stopped after.
    ``settings`` are the production MQTT settings whose rate limit the flood runs against.
    """
    return asyncio.run(_run(hub_factory or _stub_machine, n, flood_n, broker, list(commands),
                            settings or MqttSettings()))


async def _run(hub_factory: HubFactory, n: int, flood_n: int, broker_address, commands, settings) -> dict:
    from bench.broker import LocalBroker
    from bench.mqtt_probe import MqttProbe

    broker = None
    if broker_address is None:
        broker = LocalBroker()
        await broker.async_start()
        broker_address = (broker.host, broker.port)
    host, port = broker_address
    actuated: dict[str, float] = {}

    def on_actuate(command: Any) -> None:
        cmd_id = getattr(command, "id", None)
        if cmd_id is not None and cmd_id not in actuated:
            actuated[cmd_id] = time.monotonic()

    try:
        async with hub_factory(on_actuate) as machine:
            hub: MachineHub = getattr(machine, "hub", machine)
            board = load_config()  # zone names, for a factory whose machine does not give its own
            names = {"pad_names": getattr(machine, "pad_names", board.pad_names),
                     "chamber_names": getattr(machine, "chamber_names", board.chamber_names),
                     "roller_names": getattr(machine, "roller_names", board.roller_names)}
            base = settings.model_copy(update={"host": host, "port": port})
            # Latency is measured without the rate limit in the way (it is O(1) either way) ...
            fast = base.model_copy(update={"max_commands_per_s": max(1000.0, 10.0 * n)})
            async with _bridge(fast, hub, names) as bridge, MqttProbe(host, port, [bridge.topics["cmd_result"]]) as probe:
                result_ms, actuator_ms = await _latency(probe, bridge, n, commands, actuated)
            # ... and the flood against the production limit.
            async with _bridge(base, hub, names) as bridge, MqttProbe(host, port, [bridge.topics["cmd_result"]]) as probe:
                flood = await _flood(probe, bridge, hub, flood_n, getattr(machine, "tick_count", None))
    finally:
        if broker is not None:
            broker.close()
    return {
        "broker": broker.kind if broker else f"{host}:{port}",
        "n": n,
        "cmd_to_result_ms": _summary(result_ms),
        "cmd_to_actuator_ms": _summary(actuator_ms) if actuator_ms else None,
        "flood": flood,
    }


class _RealMachine:
    """The real supervisor on the simulated board, in real time, for the bench."""

    def __init__(self, sup) -> None:
        self.sup = sup
        self.hub = sup.hub
        self.pad_names = sup.config.pad_names
        self.chamber_names = sup.config.chamber_names
        self.roller_names = sup.config.roller_names

    def tick_count(self) -> int:
        return self.sup.tick_count


@contextlib.asynccontextmanager
async def real_machine(on_actuate):
    """The whole machine (sim board, supervisor, real time). ``on_actuate`` fires on the first
    tick whose written outputs differ after a command was handled: command → actuator."""
    import tempfile

    from controller.app.daemon import RunOptions, run_machine

    with tempfile.TemporaryDirectory() as state:
        opts = RunOptions(config=load_config(), state_dir=state, sim=True, mqtt=False, socket_path=None, panel=False)
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        task = asyncio.create_task(run_machine(opts, ready=ready))
        sup = await ready
        pending: list = []
        last = {"out": None}
        handler = sup.commands
        original = handler.handle

        def handle(cmd, source, now):
            pending.append(cmd)
            return original(cmd, source, now)

        handler.handle = handle

        def observe(rec):
            if pending and last["out"] is not None and rec.outputs != last["out"]:
                for cmd in pending:
                    on_actuate(cmd)
                pending.clear()
            last["out"] = rec.outputs

        sup.observers.append(observe)
        try:
            yield _RealMachine(sup)
        finally:
            sup.stop()
            await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def _stub_machine(on_actuate):
    from bench.stub_machine import StubMachine

    hub = MachineHub()
    machine = StubMachine(hub, on_apply=on_actuate)
    task = asyncio.create_task(machine.run())
    try:
        yield hub
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def _bridge(settings: MqttSettings, hub: MachineHub, names: dict):
    bridge = MqttBridge(settings, hub, **names)
    task = asyncio.create_task(bridge.run())
    try:
        async with asyncio.timeout(30):
            await bridge.connected.wait()
        yield bridge
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _latency(probe, bridge, n, commands, actuated):
    topic, result_topic = bridge.topics["cmd"], bridge.topics["cmd_result"]
    result_ms, actuator_ms = [], []
    for i in range(n):
        cmd_id = f"bench{i}"
        body = {**commands[i % len(commands)], "id": cmd_id}
        start = len(probe.messages)
        t0 = time.monotonic()
        probe.publish(topic, json.dumps(body))
        seen = await probe.wait_topic(result_topic, start=start, timeout=10, where=lambda r: r["id"] == cmd_id)
        result_ms.append((seen.t - t0) * 1000.0)
        # A real machine answers on the tick that takes the command; the outputs move on that
        # tick or the next: wait a little for them (the fake machine actuates before answering).
        deadline = time.monotonic() + 0.2
        while cmd_id not in actuated and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
        if cmd_id in actuated:
            actuator_ms.append((actuated[cmd_id] - t0) * 1000.0)
    return result_ms, actuator_ms


async def _flood(probe, bridge, hub: MachineHub, flood_n: int, tick_count: Callable[[], int] | None = None) -> dict:
    """``tick_count``, when the machine has one, counts real scan ticks (snapshots are fewer)."""
    loop = asyncio.get_running_loop()
    ticks = 0
    gaps = {"max": 0.0}

    async def count_ticks() -> None:
        nonlocal ticks
        if tick_count is not None:
            while True:
                ticks = tick_count()
                await asyncio.sleep(0.005)
        with hub.subscribe_state(maxsize=1024) as sub:
            while True:
                await sub.get()
                ticks += 1

    async def heartbeat() -> None:
        last = loop.time()
        while True:
            await asyncio.sleep(0.01)
            now = loop.time()
            gaps["max"] = max(gaps["max"], now - last)
            last = now

    if tick_count is not None:
        ticks = tick_count()
    watchers = [asyncio.create_task(count_ticks()), asyncio.create_task(heartbeat())]
    try:
        t0, ticks0 = loop.time(), ticks
        await asyncio.sleep(1.0)
        tick_hz_before = (ticks - ticks0) / (loop.time() - t0)
        payloads = [json.dumps({"id": f"flood{i}", "command": "set_intensity", "intensity": 1 + i % 5})
                    for i in range(flood_n)]
        gaps["max"] = 0.0
        t0, ticks0 = loop.time(), ticks
        await asyncio.to_thread(lambda: [probe.publish(bridge.topics["cmd"], p, qos=0) for p in payloads])
        async with asyncio.timeout(30):
            while bridge.stats["received"] + bridge.stats["dropped_incoming"] < flood_n:
                await asyncio.sleep(0.01)
        duration = loop.time() - t0
        await asyncio.sleep(max(0.0, t0 + 1.0 - loop.time()))  # a window long enough to count ticks in
        tick_hz_during = (ticks - ticks0) / (loop.time() - t0)
        await asyncio.sleep(1.2)  # the last answers and flood notice
    finally:
        for task in watchers:
            task.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
    stats = bridge.stats
    return {
        "sent": flood_n,
        "received": stats["received"],
        "accepted": stats["accepted"],
        "refused": stats["refused"],
        "dropped_flood": stats["dropped_flood"],
        "dropped_incoming": stats["dropped_incoming"],
        "rate_limit_per_s": bridge.settings.max_commands_per_s,
        "duration_s": round(duration, 3),
        "tick_hz_before": round(tick_hz_before, 1),
        "tick_hz_during": round(tick_hz_during, 1),
        "loop_max_gap_ms": round(gaps["max"] * 1000.0, 1),
    }


def _summary(values_ms: list[float]) -> dict:
    ordered = sorted(values_ms)

    def pct(q: float) -> float:  # nearest rank
        return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)], 3)

    return {"n": len(ordered), "p50": pct(0.50), "p99": pct(0.99), "max": round(ordered[-1], 3)}


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="commands for the latency measurement")
    parser.add_argument("--flood", type=int, default=500, help="commands in the flood")
    args = parser.parse_args(argv)
    print(json.dumps(run(n=args.n, flood_n=args.flood), indent=2))


if __name__ == "__main__":
    main()
