"""When the scan cycle stalls (a hung I2C bus), the layers beyond the loop act on their own:
the watchdog task forces the safe state within a few periods, and with the heartbeat stopped
the simulated relay timer drops the power after its 200 ms."""

import asyncio
import json
import socket
import threading
import time

from controller.model.config import load_config
from controller.app.daemon import RunOptions, run_fast


def test_stalled_scan_cycle_watchdog_and_relay_timer(tmp_path):
    out = {}
    opts = RunOptions(config=load_config(), state_dir=str(tmp_path / "state"), sim=True, mqtt=False,
                      socket_path=None, panel=False, max_runtime_s=120, program="warm_up")

    async def during(sup):
        loop = asyncio.get_running_loop()
        await asyncio.sleep(10.0)
        out["powered_before"] = sup.sim.true_state()["powered"]
        relay_pin = sup.board.relay
        sup.sim.inject_now("bus_hang")
        t0 = loop.time()
        # watch from beside the loop while the tick waits out the I2C timeout (0.5 s)
        while loop.time() - t0 < 0.45:
            await asyncio.sleep(0.01)
            if "watchdog_s" not in out and sup.watchdog_tripped:
                out["watchdog_s"] = loop.time() - t0
                out["relay_open_by_watchdog"] = not relay_pin.is_closed
            if "unpowered_s" not in out and not sup.sim.true_state()["powered"]:
                out["unpowered_s"] = loop.time() - t0
        await asyncio.sleep(2.0)
        out["codes"] = [f.code for f in sup.latch.active()]
        sup.stop()

    run_fast(opts, during)
    assert out["powered_before"]
    limit = 3 * opts.config.rates.period_s
    assert out["watchdog_s"] <= limit + 2 * opts.config.rates.period_s
    assert out["relay_open_by_watchdog"]
    assert out["unpowered_s"] <= out["watchdog_s"] + 0.05  # the watchdog opened the relay
    assert "tick_late" in out["codes"]


def test_relay_timer_alone_drops_power_when_heartbeat_stops(tmp_path):
    """Even if the software kept the relay pin closed, a silent heartbeat drops the power."""
    out = {}
    opts = RunOptions(config=load_config(), state_dir=str(tmp_path / "state"), sim=True, mqtt=False,
                      socket_path=None, panel=False, max_runtime_s=60, program="warm_up")

    async def during(sup):
        loop = asyncio.get_running_loop()
        await asyncio.sleep(5.0)
        sup.board.toggle_heartbeat = lambda: None  # a bug that silences the heartbeat
        t0 = loop.time()
        while sup.sim.true_state()["powered"] and loop.time() - t0 < 2.0:
            await asyncio.sleep(0.01)
        out["dropped_after_s"] = loop.time() - t0
        out["relay_pin_closed"] = sup.board.relay.is_closed
        sup.stop()

    run_fast(opts, during)
    assert out["relay_pin_closed"]  # the software still asks for power...
    assert 0.18 <= out["dropped_after_s"] <= 0.25  # ...the external timer drops it after ~200 ms


def _status_client(path: str, stop: threading.Event, round_trips_s: list[float]) -> None:
    """A technician's client in its own thread: asks ``status`` every 50 ms of wall time and
    times each answer on the wall clock (a blocked loop thread also stops the loop's clock)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(path)
        client.settimeout(10.0)
        stream = client.makefile("rb")
        while not stop.is_set():
            asked = time.monotonic()
            client.sendall(json.dumps({"request": "status"}).encode() + b"\n")
            answer = json.loads(stream.readline())
            round_trips_s.append(time.monotonic() - asked)
            assert answer["ok"] is True
            stop.wait(0.05)


def test_a_hung_bus_blocks_the_io_thread_but_not_the_loop(tmp_path):
    """As on a Pi: the board's I/O runs in a worker thread and the hang blocks that thread for
    the kernel's timeout on every transfer. The watchdog's safe state touches only GPIO, so the
    relay opens within 3 periods and the loop stays free: the socket answers ``status`` within
    100 ms throughout (an I2C write from the watchdog would wait for the stuck thread's bus lock)."""
    sock = str(tmp_path / "legtherapy.sock")
    out = {}
    round_trips_s: list[float] = []
    cfg = load_config()
    opts = RunOptions(config=cfg, state_dir=str(tmp_path / "state"), sim=True, mqtt=False, socket_path=sock,
                      panel=False, max_runtime_s=60, program="warm_up", sim_io_thread=True)

    async def during(sup):
        loop = asyncio.get_running_loop()
        await asyncio.sleep(5.0)
        while not any(sup.last_outputs.fill_open.values()):
            await asyncio.sleep(0.02)  # hang while a chamber fills: the safe state must change valves
        out["powered_before"] = sup.sim.true_state()["powered"]
        stop = threading.Event()
        client = threading.Thread(target=_status_client, args=(sock, stop, round_trips_s))
        client.start()
        sup.sim.inject_now("bus_hang")
        t0 = loop.time()
        while loop.time() - t0 < 2.5:
            await asyncio.sleep(0.005)
            if "relay_open_s" not in out and not sup.board.relay.is_closed:
                out["relay_open_s"] = loop.time() - t0
        out["hung_ticks_saw_timeouts"] = any("timeout" in e.text for e in sup.last_readings.errors)
        stop.set()
        await asyncio.to_thread(client.join)
        sup.sim.bus.set_hang(False)
        await asyncio.sleep(1.5)  # let the I/O thread finish its last wait
        sup.stop()

    run_fast(opts, during)
    assert out["powered_before"]
    assert out["relay_open_s"] <= 3 * cfg.rates.period_s + 0.01
    assert len(round_trips_s) >= 15
    assert max(round_trips_s) < 0.1, round_trips_s
    assert out["hung_ticks_saw_timeouts"]


class RecordingNotifier:
    """systemd's side of the notify protocol, in process: when each WATCHDOG=1 was sent (loop time)."""

    interval_s = 0.25  # as if WatchdogSec were 0.5 s: half of it, as systemd_notify computes

    def __init__(self, *_, **__):
        self.pets: list[float] = []

    def watchdog_interval_s(self):
        return self.interval_s

    def watchdog(self):
        self.pets.append(asyncio.get_running_loop().time())
        return True

    def ready(self, *_):
        return True

    status = stopping = ready


def test_systemd_is_petted_only_while_the_scan_cycle_is_alive(tmp_path, monkeypatch):
    """README (systemd): WATCHDOG=1 only while the scan cycle is alive. A read that never returns
    (a stuck thread, not a timed-out bus) stops the ticks: the pets stop with them, so systemd
    kills and restarts the daemon; once the cycle runs again the pets come back."""
    from controller.app import systemd_notify

    notifiers: list[RecordingNotifier] = []
    monkeypatch.setattr(systemd_notify, "SystemdNotifier",
                        lambda *a, **k: notifiers.append(RecordingNotifier()) or notifiers[-1])
    out = {}
    opts = RunOptions(config=load_config(), state_dir=str(tmp_path / "state"), sim=True, mqtt=False,
                      socket_path=None, panel=False, max_runtime_s=60, program="warm_up")

    async def during(sup):
        loop = asyncio.get_running_loop()
        await asyncio.sleep(3.0)
        real_read, release = sup.board.read, asyncio.Event()

        async def stuck_read(*args, **kwargs):
            await release.wait()
            return await real_read(*args, **kwargs)

        sup.board.read = stuck_read
        out["stall_at"] = loop.time()
        await asyncio.sleep(3.0)
        sup.board.read = real_read
        release.set()
        out["release_at"] = loop.time()
        await asyncio.sleep(3.0)
        sup.stop()

    run_fast(opts, during)
    pets = notifiers[0].pets
    stall, release = out["stall_at"], out["release_at"]
    interval = RecordingNotifier.interval_s
    assert len([t for t in pets if t < stall]) >= 3.0 / interval - 2, "petted while alive"
    # the last tick ended at most one period before the stall; 3 periods later the cycle is dead
    dead_from = stall + 3 * opts.config.rates.period_s
    assert [t for t in pets if dead_from < t < release] == [], "petted while the scan cycle was stuck"
    assert len([t for t in pets if t > release]) >= 3.0 / interval - 2, "petting resumes with the cycle"
