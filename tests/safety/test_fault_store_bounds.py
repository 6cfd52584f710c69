"""The fault store at its exact bounds: the log rotates once it has *reached* ``max_bytes``
(a log of exactly the bound is rotated by the next append); the lockout summary is read up to
16 records' worth (1 MiB) and one byte more is damaged, i.e. a lockout of its own; a short
write by the kernel still puts the whole line down; ``read_log`` gives the last 500 entries
unless told otherwise; a summary that strict JSON cannot hold is refused before the old one is
touched; and the latch the supervisor builds at start records its start-up at time 0."""

from __future__ import annotations

import json
import math
import os

import pytest

from controller.model.faults import Fault
from controller.safety.latch import FaultLatch
from controller.storage import fault_store
from controller.storage.fault_store import MAX_RECORD_BYTES, FaultStore, _line


def entry(i: int) -> dict:
    return {"event": "raise", "t_s": float(i), "fault": Fault.make("fill_failure", "left_calf", float(i), "x").to_dict()}


def test_a_log_of_exactly_max_bytes_is_rotated_by_the_next_append(tmp_path):
    one = len(_line(entry(1)).encode())
    store = FaultStore(tmp_path, max_bytes=3 * one)
    for _ in range(3):
        store.append(entry(1))
    assert store.log_path.stat().st_size == 3 * one and not store.old_log_path.exists()
    store.append(entry(2))
    assert store.old_log_path.stat().st_size == 3 * one
    assert [e["t_s"] for e in (json.loads(x) for x in store.log_path.read_text().splitlines())] == [2.0]


def test_a_log_one_byte_under_max_bytes_is_not_rotated(tmp_path):
    one = len(_line(entry(1)).encode())
    store = FaultStore(tmp_path, max_bytes=3 * one + 1)
    for _ in range(4):
        store.append(entry(1))
    assert not store.old_log_path.exists() and store.log_path.stat().st_size == 4 * one


def summary_of_size(size: int) -> bytes:
    body = json.dumps({"version": 1, "lockouts": [Fault.make("vent_failure", "left_foot", 3.0, "v").to_dict()]})
    padded = body[:-1] + " " * (size - len(body)) + "}"  # JSON whitespace: the same summary
    assert len(padded) == size
    return padded.encode()


def test_a_summary_of_exactly_1_mib_loads_one_byte_more_is_damaged(tmp_path):
    bound = 16 * MAX_RECORD_BYTES
    assert bound == 1024 * 1024
    store = FaultStore(tmp_path)
    store.lockout_path.write_bytes(summary_of_size(bound))
    assert [(f.code, f.zone) for f in store.load_lockout(0.0)] == [("vent_failure", "left_foot")]
    store.lockout_path.write_bytes(summary_of_size(bound + 1))
    (damaged,) = store.load_lockout(0.0)
    assert damaged.code == "lockout_state_corrupt" and "too large" in damaged.message


def test_a_short_write_by_the_kernel_still_puts_the_whole_line_down(tmp_path, monkeypatch):
    real_write = os.write

    def at_most_7_bytes(fd, data):
        return real_write(fd, bytes(data[:7]))

    store = FaultStore(tmp_path)
    monkeypatch.setattr(fault_store.os, "write", at_most_7_bytes)
    store.append(entry(5))
    monkeypatch.undo()
    assert store.log_path.read_text() == _line(entry(5))
    assert store.read_log() == [json.loads(_line(entry(5)))]


def test_read_log_gives_the_last_500_entries_by_default(tmp_path):
    store = FaultStore(tmp_path)
    store.log_path.write_text("".join(_line({"event": "raise", "t_s": float(i)}) for i in range(501)))
    got = store.read_log()
    assert len(got) == 500 and got[0]["t_s"] == 1.0 and got[-1]["t_s"] == 500.0


def test_a_summary_strict_json_cannot_hold_is_refused_and_the_old_one_kept(tmp_path):
    store = FaultStore(tmp_path)
    kept = Fault.make("vent_failure", "left_foot", 3.0, "vent stuck")
    store.save_lockout([kept])
    before = store.lockout_path.read_bytes()
    with pytest.raises(ValueError):
        store.save_lockout([Fault.make("heater_runaway", "left_calf", math.nan, "no time")])
    assert store.lockout_path.read_bytes() == before
    assert [f.to_dict() for f in FaultStore(tmp_path).load_lockout(0.0)] == [kept.to_dict()]


def test_the_latch_built_at_start_records_start_up_at_time_0(tmp_path):
    """The supervisor builds its latch as ``FaultLatch(store)``: what it restores, and a damaged
    summary's own lockout, are dated at the loop's start (0 s)."""
    store = FaultStore(tmp_path)
    store.lockout_path.write_bytes(b"{not json")
    latch = FaultLatch(FaultStore(tmp_path))
    assert latch.flush(5.0)
    (corrupt,) = latch.active()
    assert corrupt.code == "lockout_state_corrupt" and corrupt.t_s == 0.0
    restored = [e for e in FaultStore(tmp_path).read_log() if e["event"] == "restored"]
    assert [(e["t_s"], e["by"], e["fault"]["code"]) for e in restored] == [(0.0, "start-up", "lockout_state_corrupt")]
