"""`legctl` against the real daemon on the simulator (socket, selftest, faults, lockout)."""

import asyncio
import io
import json
import threading

import pytest

from controller.model.config import load_config
from controller.app.daemon import RunOptions, run_machine
from legctl.cli import main as legctl
from controller.machine.timebase import new_loop


class Daemon:
    """The daemon on the simulator in a thread, with its socket; ``config`` and ``run_options``
    (e.g. ``require_profile=True``) vary it, the names keep two daemons of one test apart."""

    def __init__(self, tmp_path, *, config=None, state_name="state", socket_name="lt.sock", **run_options):
        self.socket = str(tmp_path / socket_name)
        self.opts = RunOptions(config=config or load_config(), state_dir=str(tmp_path / state_name), sim=True,
                               mqtt=False, socket_path=self.socket, panel=False, max_runtime_s=4 * 3600,
                               **run_options)
        self.loop = new_loop(0)
        self.ready = threading.Event()
        self.sup = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(60)

    def _run(self):
        async def main():
            fut = self.loop.create_future()
            task = asyncio.ensure_future(run_machine(self.opts, ready=fut))
            self.sup = await fut
            self.ready.set()
            await task

        self.loop.run_until_complete(main())
        self.loop.close()

    def ctl(self, *args):
        out, err = io.StringIO(), io.StringIO()
        code = legctl(["--socket", self.socket, *args], out=out, err=err)
        return code, out.getvalue(), err.getvalue()

    def stop(self):
        self.loop.call_soon_threadsafe(self.sup.stop)
        self.thread.join(60)


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path)
    yield d
    d.stop()


def test_status_start_and_stop(daemon):
    code, out, _ = daemon.ctl("status")
    assert code == 0 and "idle" in out
    # The daemon runs as fast as it can while these calls take real time: a 3-minute program
    # can end (~1 s of wall time) before the stop arrives on a loaded machine; 20 minutes cannot.
    code, out, _ = daemon.ctl("start", "full_leg", "--intensity", "2")
    assert code == 0, out
    code, out, _ = daemon.ctl("status", "--json")
    state = json.loads(out)
    assert state["mode"] == "running" and state["program"] == "full_leg" and state["intensity"] == 2
    assert set(state["chambers"]) == {"left_foot", "left_calf", "left_thigh", "right_foot", "right_calf", "right_thigh"}
    assert daemon.ctl("stop")[0] == 0
    code, out, _ = daemon.ctl("status", "--json")
    assert json.loads(out)["mode"] == "stopped"


def test_selftest_passes_on_a_healthy_machine(daemon):
    code, out, err = daemon.ctl("selftest", "--timeout", "600")
    assert code == 0, out + err
    assert "FAIL" not in out
    for zone in ("left_foot", "right_thigh"):
        assert f"fill valve + pressure sensor {zone}" in out
    assert "heater + sensor left_calf" in out and "roller + current sensor right_calf" in out


def test_selftest_finds_a_broken_heater(daemon):
    assert daemon.ctl("sim", "inject", "heater_open:right_foot")[0] == 0
    code, out, _ = daemon.ctl("selftest", "--timeout", "600")
    assert code == 1
    line = next(l for l in out.splitlines() if "heater + sensor right_foot" in l)
    assert "FAIL" in line


def test_estop_fault_shown_logged_and_acknowledged(daemon):
    assert daemon.ctl("start", "warm_up")[0] == 0
    assert daemon.ctl("sim", "inject", "estop")[0] == 0
    for _ in range(100):  # the e-stop is read on the next tick after the injection
        state = json.loads(daemon.ctl("status", "--json")[1])
        if state["mode"] == "fault":
            break
    assert state["mode"] == "fault" and state["problem"] and "emergency stop" in state["problem_text"].lower()
    code, out, _ = daemon.ctl("faults")
    assert code == 0 and "estop" in out
    code, out, err = daemon.ctl("ack")
    assert code == 1 and "estop" in (out + err)  # still pressed


def test_lockout_needs_the_technician(daemon):
    assert daemon.ctl("start", "full_leg", "--no-preheat")[0] == 0  # waves at once: the stuck vent shows
    assert daemon.ctl("sim", "inject", "vent_valve_stuck_closed:left_foot")[0] == 0
    code, out, _ = daemon.ctl("watch", "--count", "1")
    for _ in range(200):
        state = json.loads(daemon.ctl("status", "--json")[1])
        if state["lockout"]:
            break
        daemon.ctl("ping")
    assert state["lockout"] and state["mode"] == "lockout"
    code, out, err = daemon.ctl("start", "warm_up")
    assert code == 1 and "locked out" in (out + err)
    assert daemon.ctl("ack")[0] == 1
    # the technician frees the valve, then resets the lockout
    daemon.loop.call_soon_threadsafe(daemon.sup.sim.faults.clear, "vent_valve_stuck_closed", "left_foot")
    for _ in range(50):
        state = json.loads(daemon.ctl("status", "--json")[1])
        if max(c["pressure_mmhg"] for c in state["chambers"].values()) < 5:
            break
    code, out, err = daemon.ctl("reset-lockout")
    assert code == 0, out + err
    state = json.loads(daemon.ctl("status", "--json")[1])
    assert not state["lockout"] and state["mode"] == "idle"
    assert daemon.ctl("start", "warm_up")[0] == 0
    code, out, _ = daemon.ctl("faults")
    assert "vent_failure" in out and "reset" in out


def test_manual_output_and_calibration(daemon):
    code, out, err = daemon.ctl("manual", "pump", "0.5")
    assert code == 0, out + err
    assert daemon.ctl("manual", "pump", "release")[0] == 0
    code, out, err = daemon.ctl("calibrate", "pressure")
    assert code == 0, out + err
    assert (daemon.sup.state_dir and json.loads(
        (__import__("pathlib").Path(daemon.sup.state_dir) / "pressure_offsets.json").read_text()))


def test_autotune_finds_and_stores_gains(daemon):
    code, out, err = daemon.ctl("autotune", "left_calf")
    assert code == 0, out + err
    import pathlib

    stored = json.loads((pathlib.Path(daemon.sup.state_dir) / "pid_gains.json").read_text())
    g = stored["pads"]["left_calf"]
    kp, ki, kd = g["kp"], g["ki"], g["kd"]
    assert kp > 0 and ki > 0 and kd > 0
    assert daemon.sup.heat.gains("left_calf") == (kp, ki, kd)
