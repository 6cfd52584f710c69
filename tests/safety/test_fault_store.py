"""The fault log and the lockout file survive crashes, torn writes and damaged files."""

from __future__ import annotations

import json
import math
import os
import stat

import pytest

import controller.storage.fault_store as fault_store_module
from controller.storage.fault_store import FaultStore
from controller.model.faults import Fault, Severity


def lockout(code="heater_runaway", zone="left_calf", t_s=12.5) -> Fault:
    return Fault.make(code, zone, t_s, "left calf pad: warmed 2.1 °C in 18 s with its heater off",
                      {"temp_c": 41.2, "temp2_c": math.inf, "rise_c": 2.1})


def test_the_state_dir_is_created_private(tmp_path):
    d = tmp_path / "state" / "legtherapy"
    FaultStore(d)
    assert d.is_dir()
    assert stat.S_IMODE(d.stat().st_mode) & 0o077 == 0


def test_appended_lines_survive_reopening(tmp_path):
    store = FaultStore(tmp_path)
    store.append({"event": "raise", "t_s": 1.0, "fault": lockout().to_dict()})
    store.append({"event": "clear", "t_s": 2.0, "by": "ack"})
    again = FaultStore(tmp_path)
    log = again.read_log()
    assert [e["event"] for e in log] == ["raise", "clear"]
    assert log[0]["fault"]["readings"]["temp2_c"] == "inf"  # strict JSON on disk
    assert Fault.from_dict(log[0]["fault"]).readings["temp2_c"] == math.inf


def test_every_append_is_fsynced(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(fault_store_module.os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    FaultStore(tmp_path).append({"event": "raise"})
    assert synced, "append returned without fsync"


def test_a_torn_last_line_is_skipped_and_the_next_line_starts_clean(tmp_path):
    store = FaultStore(tmp_path)
    store.append({"event": "raise", "n": 1})
    with open(store.log_path, "ab") as f:
        f.write(b'{"event": "raise", "n": 2, "fau')  # power cut mid-write
    assert [e["n"] for e in store.read_log()] == [1]
    store.append({"event": "raise", "n": 3})
    assert [e["n"] for e in FaultStore(tmp_path).read_log()] == [1, 3]


def test_the_log_is_bounded_by_rotation(tmp_path):
    store = FaultStore(tmp_path, max_bytes=2000)
    for n in range(200):
        store.append({"event": "raise", "n": n, "pad": "x" * 40})
    assert store.log_path.stat().st_size < 2000 + 200
    assert store.old_log_path.exists()
    assert not (tmp_path / "faults.jsonl.2").exists()
    log = store.read_log(limit=10)
    assert [e["n"] for e in log] == list(range(190, 200))


def test_lockout_round_trip(tmp_path):
    store = FaultStore(tmp_path)
    assert store.load_lockout() == []
    saved = [lockout(), lockout("vent_failure", "right_foot", 30.0)]
    store.save_lockout(saved)
    loaded = FaultStore(tmp_path).load_lockout()
    assert [(f.code, f.zone, f.severity, f.t_s, f.message) for f in loaded] == \
           [(f.code, f.zone, f.severity, f.t_s, f.message) for f in saved]
    assert loaded[0].readings == saved[0].readings
    store.save_lockout([])
    assert FaultStore(tmp_path).load_lockout() == []


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"version": 1}', b'{"lockouts": [{"code": "x"}]}',
                                     b"\xff\xfe garbage", b"[]"])
def test_a_corrupt_lockout_file_stays_locked_out(tmp_path, content):
    store = FaultStore(tmp_path)
    store.lockout_path.write_bytes(content)
    loaded = store.load_lockout(now_s=3.0)
    assert len(loaded) == 1
    f = loaded[0]
    assert f.code == "lockout_state_corrupt" and f.severity is Severity.LOCKOUT and f.relay_off
    assert "stays locked out" in f.message and str(store.lockout_path) in f.message


def test_the_lockout_is_replaced_atomically_and_no_temp_file_is_left(tmp_path, monkeypatch):
    store = FaultStore(tmp_path)
    replaced = []
    real = os.replace
    monkeypatch.setattr(fault_store_module.os, "replace", lambda a, b: (replaced.append((a, b)), real(a, b)))
    store.save_lockout([lockout()])
    assert len(replaced) == 1
    src, dst = replaced[0]
    assert os.path.dirname(src) == str(tmp_path) and dst == store.lockout_path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lockout.json"]
    assert stat.S_IMODE(store.lockout_path.stat().st_mode) & 0o077 == 0


def test_a_failed_save_keeps_the_old_lockout_and_leaves_no_temp_file(tmp_path, monkeypatch):
    store = FaultStore(tmp_path)
    store.save_lockout([lockout()])

    def power_cut(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fault_store_module.os, "replace", power_cut)
    with pytest.raises(OSError):
        store.save_lockout([])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lockout.json"]
    assert [f.code for f in store.load_lockout()] == ["heater_runaway"]


def test_a_temp_file_left_by_a_crash_is_tidied_at_start(tmp_path):
    (tmp_path / ".lockout.abc123.tmp").write_text("{half")
    FaultStore(tmp_path)
    assert list(tmp_path.glob("*.tmp")) == []


def test_log_lines_are_strict_json(tmp_path):
    store = FaultStore(tmp_path)
    store.append({"event": "raise", "value": math.nan, "nested": {"x": -math.inf}})
    line = store.log_path.read_text().strip()
    entry = json.loads(line, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert entry == {"event": "raise", "value": "nan", "nested": {"x": "-inf"}}
