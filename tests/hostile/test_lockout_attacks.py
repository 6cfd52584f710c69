"""Attacks on the lockout record: a read-only or bogus state directory, a deleted, emptied,
damaged or monstrous lockout file, a slow disk. A lockout must never be lost, and writing it
down must never make the scan cycle late."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from controller.app import cli
from controller.model.faults import Fault
from controller.safety.latch import FaultLatch
from controller.storage import state_dir as state_dir_module
from controller.storage.fault_store import FaultStore
from controller.storage.state_dir import StateDirError, check_state_dir
from tests.hostile.rig import ask, run_with_socket

LEGTHERAPY = [sys.executable, "-m", "controller.app.cli"]
SIM_RUN = ["run", "--sim", "--speed", "0", "--program", "warm_up", "--exit-when-done", "--max-runtime", "2",
           "--log-level", "WARNING"]


def runaway(zone: str = "left_calf") -> Fault:
    return Fault.make("heater_runaway", zone, 12.0, f"{zone} warmed with its heater off")


def locked_out_dir(tmp_path) -> FaultStore:
    """A state directory whose record holds one lockout, raised and never reset."""
    latch = FaultLatch(FaultStore(tmp_path))
    latch.raise_fault(runaway())
    assert latch.flush(5)
    return FaultStore(tmp_path)


def restart(tmp_path) -> FaultLatch:
    return FaultLatch(FaultStore(tmp_path), now_s=100.0)


# --- the state directory is checked before the machine runs -------------------------------

def test_a_state_dir_that_is_a_file_refuses_the_start_with_exit_2(tmp_path, capsys):
    bogus = tmp_path / "state"
    bogus.write_text("not a directory")
    code = cli.main(SIM_RUN + ["--state-dir", str(bogus), "--no-mqtt", "--socket", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 2
    assert str(bogus) in err and "is a file" in err and "Traceback" not in err


def test_a_state_dir_under_a_file_refuses_the_start_with_exit_2(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    code = cli.main(SIM_RUN + ["--state-dir", str(tmp_path / "file" / "state"), "--no-mqtt"])
    assert code == 2 and "cannot create the state directory" in capsys.readouterr().err


def test_a_read_only_state_dir_refuses_the_start_with_exit_2(tmp_path, monkeypatch, capsys):
    """A read-only mount (EROFS): simulated, because root ignores permission bits."""
    state = tmp_path / "state"
    state.mkdir()

    def read_only(*args, dir=None, **kw):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(state_dir_module.tempfile, "mkstemp", read_only)
    code = cli.main(SIM_RUN + ["--state-dir", str(state), "--no-mqtt", "--socket", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 2
    assert "not writable" in err and "Read-only file system" in err and str(state) in err
    assert not (state / "faults.jsonl").exists(), "nothing ran"


def test_a_fault_log_that_is_a_directory_refuses_the_start(tmp_path):
    (tmp_path / "faults.jsonl").mkdir()
    with pytest.raises(StateDirError, match="not a regular file"):
        check_state_dir(tmp_path)


def test_the_run_refuses_in_a_subprocess_without_a_traceback(tmp_path):
    bogus = tmp_path / "state"
    bogus.write_text("x")
    proc = subprocess.run(LEGTHERAPY + SIM_RUN + ["--state-dir", str(bogus)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "is a file" in proc.stderr


# --- the fault log is the record, the lockout file its summary ----------------------------

def test_a_deleted_lockout_file_does_not_clear_a_lockout_raised_in_the_log(tmp_path):
    store = locked_out_dir(tmp_path)
    store.lockout_path.unlink()
    latch = restart(tmp_path)
    assert latch.has_lockout
    assert [(f.code, f.zone) for f in latch.lockouts()] == [("heater_runaway", "left_calf")]
    assert latch.flush(5)
    assert [f.code for f in FaultStore(tmp_path).load_lockout()] == ["heater_runaway"], "the summary is repaired"


@pytest.mark.parametrize("content", ["", "{}", '{"version": 1, "lockouts": []}', "{garbage", "\x00" * 100,
                                     '{"version": 1, "lockouts": NaN}'])
def test_an_emptied_or_damaged_lockout_file_does_not_clear_a_lockout_raised_in_the_log(tmp_path, content):
    store = locked_out_dir(tmp_path)
    store.lockout_path.write_text(content)
    latch = restart(tmp_path)
    assert latch.has_lockout
    assert "heater_runaway" in [f.code for f in latch.lockouts()]


def test_a_lockout_reset_in_the_log_stays_reset_when_the_file_is_deleted(tmp_path):
    store = locked_out_dir(tmp_path)
    latch = restart(tmp_path)
    latch.reset_lockout(by="socket", now_s=200.0)
    assert latch.flush(5)
    store.lockout_path.unlink()
    assert not restart(tmp_path).has_lockout


def test_log_rotation_carries_a_lockout_in_force_into_the_new_log(tmp_path):
    store = FaultStore(tmp_path, max_bytes=2000)
    latch = FaultLatch(store)
    latch.raise_fault(runaway())
    for n in range(60):  # two rotations: the raise itself is long gone
        latch.raise_fault(Fault.make("estop", None, float(n), "estop"))
        latch.acknowledge(lambda f: True, now_s=float(n))
    assert latch.flush(5)
    raises = [e for e in store.read_log(limit=10_000) if e.get("event") == "raise"
              and e["fault"]["code"] == "heater_runaway"]
    assert raises == [], "the raise was rotated away"
    store.lockout_path.unlink()
    assert [f.code for f in restart(tmp_path).lockouts()] == ["heater_runaway"]


def test_a_50000_deep_lockout_file_does_not_crash_the_start_and_locks_out(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "lockout.json").write_text('{"version":1,"lockouts":' + "[" * 50_000 + "]" * 50_000 + "}")
    latch = FaultLatch(FaultStore(state))
    assert [f.code for f in latch.lockouts()] == ["lockout_state_corrupt"]
    proc = subprocess.run(LEGTHERAPY + SIM_RUN + ["--state-dir", str(state)], capture_output=True, text=True,
                          timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.returncode == 1 and "locked out" in proc.stderr  # the start is refused, clearly


def test_a_deep_line_in_the_fault_log_is_skipped_and_the_faults_request_answers(tmp_path):
    state = tmp_path / "state"
    locked_out_dir(state)
    with open(state / "faults.jsonl", "a") as log:
        log.write('{"event":"raise","fault":' + "[" * 1500 + "]" * 1500 + "}\n")

    async def attack(sup, path, data):
        reader, writer = await asyncio.open_unix_connection(path, limit=1 << 22)
        data["faults"] = await ask(reader, writer, {"request": "faults"})
        data["deep"] = await ask(reader, writer, b'{"request":' + b"[" * 1500 + b"]" * 1500 + b"}\n")
        data["ping"] = await ask(reader, writer, {"request": "ping"})
        writer.close()
        await asyncio.sleep(5.0)

    run = run_with_socket(state, attack, program=None, max_runtime_s=30)
    assert run.data["faults"]["ok"] is True
    assert any(row.get("code") == "heater_runaway" for row in run.data["faults"]["faults"])
    assert run.data["deep"]["ok"] is False and "nested deeper" in run.data["deep"]["error"]
    assert run.data["ping"]["ok"] is True
    assert "heater_runaway" in run.fault_codes  # and the lockout is in force
    run.assert_no_late_tick()


# --- writing a fault down never holds up the scan cycle -----------------------------------

def slow_disk(monkeypatch, loop=None, fsync_s: float = 0.3) -> list[str]:
    """fsync takes 300 ms. Where it runs on the event loop's thread it also moves the
    fast-forward loop's clock, as a real blocking call would hold the real clock's loop."""
    real = os.fsync
    where: list[str] = []
    loop_thread = threading.get_ident()

    def fsync(fd):
        time.sleep(fsync_s)
        on_loop = threading.get_ident() == loop_thread
        where.append("loop" if on_loop else "writer")
        if on_loop and loop is not None:
            loop._advance(fsync_s)
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return where


def test_raising_a_lockout_on_a_slow_disk_returns_at_once_and_is_on_disk_after_flush(tmp_path, monkeypatch):
    latch = FaultLatch(FaultStore(tmp_path))
    where = slow_disk(monkeypatch)
    t0 = time.perf_counter()
    latch.raise_fault(runaway())
    took_s = time.perf_counter() - t0
    assert latch.has_lockout  # in force in memory at once
    assert took_s < 0.05, f"raise_fault waited {took_s:.3f} s for the disk"
    assert latch.flush(10)
    assert where and set(where) == {"writer"}
    assert [f.code for f in FaultStore(tmp_path).load_lockout()] == ["heater_runaway"]


def test_a_lockout_on_a_slow_disk_makes_no_tick_late(tmp_path, monkeypatch):
    """A stuck heater MOSFET at idle: heater_runaway (a lockout) is raised by the scan cycle,
    on a disk whose fsync takes 300 ms; every tick stays on time and the record is complete."""
    state = tmp_path / "state"

    async def attack(sup, path, data):
        data["where"] = slow_disk(monkeypatch, asyncio.get_running_loop())
        sup.sim.inject_now("heater_stuck_on", "left_calf")
        for _ in range(3000):  # up to 300 s of machine time
            await asyncio.sleep(0.1)
            if sup.latch.has_lockout:
                break
        await asyncio.sleep(2.0)
        data["latch"] = sup.latch

    run = run_with_socket(state, attack, program=None, max_runtime_s=400)
    assert "heater_runaway" in run.fault_codes
    run.assert_no_late_tick()
    assert run.data["latch"].flush(10)
    assert "loop" not in run.data["where"], "an fsync ran on the scan cycle's thread"
    assert "heater_runaway" in [f.code for f in FaultStore(state).load_lockout()]
    assert any(e.get("event") == "raise" and e["fault"]["code"] == "heater_runaway"
               for e in FaultStore(state).read_log())
