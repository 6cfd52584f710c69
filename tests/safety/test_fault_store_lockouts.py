"""The lockout record across what a disk can do to it (README: lockouts cannot be lost): a
rotation carries every lockout in force into the new generation, whole; a stop fault found in
the lockout file or restored in the log comes back as a lockout with everything else kept; the
log is read past entries it cannot use; a damaged summary is a lockout of its own."""

from __future__ import annotations

import json
import stat

import pytest

from controller.model.faults import Fault, Severity
from controller.storage.fault_store import MAX_RECORD_BYTES, FaultStore


def lockout(code="vent_failure", zone="left_foot", t_s=12.5) -> Fault:
    return Fault.make(code, zone, t_s, f"{zone}: test {code}", {"pressure_mmhg": 57.5, "elapsed_s": 5.0})


def raise_entry(fault: Fault, event: str = "raise") -> dict:
    return {"event": event, "t_s": fault.t_s, "fault": fault.to_dict()}


def test_a_rotation_carries_every_lockout_in_force_whole(tmp_path):
    store = FaultStore(tmp_path, max_bytes=2000)
    vent = lockout()
    store.append(raise_entry(vent))
    store.save_lockout([vent])
    for i in range(60):  # several generations of other lines
        store.append(raise_entry(Fault.make("fill_failure", "left_calf", 100.0 + i, "x" * 40)))
    assert store.old_log_path.exists()
    first = json.loads(store.log_path.read_text().splitlines()[0])
    assert first == {"event": "carried", "t_s": 12.5, "by": "rotation", "fault": vent.to_dict()}
    assert stat.S_IMODE(store.log_path.stat().st_mode) == 0o600

    store.lockout_path.unlink()  # the summary lost too: the log alone keeps it
    again = FaultStore(tmp_path, max_bytes=2000)
    assert [f.to_dict() for f in again.lockouts_in_log()] == [vent.to_dict()]
    assert [f.to_dict() for f in again.load_latched(0.0)] == [vent.to_dict()]


def test_a_rotation_with_no_lockout_carries_nothing(tmp_path):
    store = FaultStore(tmp_path, max_bytes=2000)
    for i in range(60):
        store.append(raise_entry(Fault.make("fill_failure", "left_calf", float(i), "x" * 40)))
    assert all(json.loads(line)["event"] == "raise" for line in store.log_path.read_text().splitlines())


def test_the_log_rotates_at_its_size_bound_not_past_it(tmp_path):
    store = FaultStore(tmp_path, max_bytes=1000)
    line = raise_entry(Fault.make("fill_failure", "left_calf", 1.0, "x"))
    while not store.old_log_path.exists():
        store.append(line)
    assert store.old_log_path.stat().st_size >= 1000
    assert store.old_log_path.stat().st_size < 1000 + len(json.dumps(line)) + 2


@pytest.mark.parametrize("event", ["restored", "carried"])
def test_a_stop_fault_restored_or_carried_in_the_log_is_in_force_as_a_lockout(tmp_path, event):
    store = FaultStore(tmp_path)
    stop = Fault.make("fill_failure", "left_calf", 4.0, "left calf: test", {"pressure_mmhg": 2.5})
    store.append(raise_entry(stop, event))
    (got,) = FaultStore(tmp_path).lockouts_in_log()
    assert got.to_dict() == {**stop.to_dict(), "severity": "lockout"}


def test_a_stop_fault_in_the_lockout_file_loads_as_a_lockout_with_everything_else_kept(tmp_path):
    store = FaultStore(tmp_path)
    stop = Fault.make("overtemp", "left_calf", 8.0, "left calf pad: hot", {"temp_c": 45.2})
    store.save_lockout([stop])
    (got,) = FaultStore(tmp_path).load_lockout()
    assert got.severity is Severity.LOCKOUT
    assert got.to_dict() == {**stop.to_dict(), "severity": "lockout"}


def test_a_raised_stop_fault_is_not_a_lockout_and_a_reset_ends_a_lockout(tmp_path):
    store = FaultStore(tmp_path)
    vent, other = lockout(), lockout("heater_runaway", "left_calf", 30.0)
    store.append(raise_entry(Fault.make("fill_failure", "left_calf", 1.0, "x")))
    store.append(raise_entry(vent))
    store.append(raise_entry(other))
    store.append({"event": "reset", "t_s": 40.0, "by": "socket", "fault": vent.to_dict()})
    assert [f.code for f in FaultStore(tmp_path).lockouts_in_log()] == ["heater_runaway"]


def test_entries_that_cannot_be_used_are_skipped_and_reading_goes_on(tmp_path):
    store = FaultStore(tmp_path)
    store.append({"event": "raise", "t_s": 1.0, "fault": "not a dict"})
    store.append({"event": "raise", "t_s": 1.0})
    store.append({"event": "raise", "t_s": 1.0, "fault": {"code": "vent_failure"}})  # incomplete
    store.append(raise_entry(lockout()))
    assert [f.code for f in FaultStore(tmp_path).lockouts_in_log()] == ["vent_failure"]


def test_the_summary_is_versioned_readable_json(tmp_path):
    store = FaultStore(tmp_path)
    vent = lockout()
    store.save_lockout([vent])
    text = store.lockout_path.read_text(encoding="utf-8")
    assert text == json.dumps({"version": 1, "lockouts": [vent.to_dict()]}, indent=1)


@pytest.mark.parametrize("content,why", [
    (b"{not json", "it is damaged (JsonRefused"),
    (b'{"version": 1, "lockouts": 3}', "it is damaged (ValueError: 'lockouts' is not a list)"),
    (b'{"version": 1}', "it is damaged (KeyError"),
])
def test_a_damaged_summary_is_a_lockout_naming_the_file_and_the_reason(tmp_path, content, why):
    store = FaultStore(tmp_path)
    store.lockout_path.write_bytes(content)
    (got,) = FaultStore(tmp_path).load_lockout(now_s=9.0)
    assert (got.code, got.severity, got.zone, got.t_s) == ("lockout_state_corrupt", Severity.LOCKOUT, None, 9.0)
    assert got.message.startswith(f"the saved lockout state {store.lockout_path} could not be trusted: {why}")
    assert got.message.endswith("The machine stays locked out until a technician checks it and resets the lockout.")
    assert got.readings["path"] == str(store.lockout_path) and got.readings["reason"].startswith(why[:12])


def test_read_log_returns_the_last_entries_oldest_first(tmp_path):
    store = FaultStore(tmp_path)
    for i in range(5):
        store.append({"event": "raise", "t_s": float(i), "fault": lockout(t_s=float(i)).to_dict()})
    assert [e["t_s"] for e in store.read_log(limit=3)] == [2.0, 3.0, 4.0]
    assert [e["t_s"] for e in store.read_log()] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert store.read_log(limit=0) == []


def test_a_huge_log_is_read_from_its_tail_only(tmp_path):
    store = FaultStore(tmp_path, max_bytes=1000)
    big = "".join(json.dumps({"event": "note", "t_s": float(i), "pad": "x" * 50}) + "\n" for i in range(4000))
    assert len(big) > 2 * MAX_RECORD_BYTES  # the tail kept: 2 x max(max_bytes, a record's bound)
    store.log_path.write_text(big)  # written past the bound by hand (an old version, a copy)
    entries = store.read_log(limit=10_000)
    assert 0 < len(entries) < 4000 and entries[-1]["t_s"] == 3999.0
    assert len(entries) <= 2 * MAX_RECORD_BYTES // len(json.dumps(entries[0])) + 1
    assert all(isinstance(e, dict) and e["event"] == "note" for e in entries)  # no torn first line


def test_two_lockouts_are_both_carried_by_a_rotation(tmp_path):
    store = FaultStore(tmp_path, max_bytes=2000)
    vent, runaway = lockout(), lockout("heater_runaway", "left_calf", 30.0)
    store.save_lockout([vent, runaway])
    for i in range(60):
        store.append(raise_entry(Fault.make("fill_failure", "left_calf", 100.0 + i, "x" * 40)))
    assert (tmp_path / "faults.jsonl.1").exists()
    head = [json.loads(line) for line in store.log_path.read_text().splitlines()[:2]]
    assert [e["fault"]["code"] for e in head] == ["vent_failure", "heater_runaway"]
    assert all(e["event"] == "carried" for e in head)


def test_the_log_is_created_private_and_its_directory_synced_once(tmp_path, monkeypatch):
    from controller.storage import fault_store

    synced = []
    monkeypatch.setattr(fault_store, "fsync_dir", lambda d: synced.append(d))
    store = FaultStore(tmp_path)
    store.append({"event": "note", "t_s": 1.0})
    assert synced == [store.dir]  # the new file's name is made durable at once...
    store.append({"event": "note", "t_s": 2.0})
    assert synced == [store.dir]  # ...and later appends need not
    assert stat.S_IMODE(store.log_path.stat().st_mode) == 0o600


def test_read_log_limit_1_is_the_last_entry(tmp_path):
    store = FaultStore(tmp_path)
    for i in range(3):
        store.append({"event": "note", "t_s": float(i)})
    assert store.read_log(limit=1) == [{"event": "note", "t_s": 2.0}]


def test_blank_and_undecodable_lines_are_skipped_and_reading_goes_on(tmp_path):
    store = FaultStore(tmp_path)
    store.log_path.write_bytes(b'{"event": "a", "t_s": 1}\n\n   \n{"event": "b", "t_s": 2}\n'
                               b'\xff\xfe garbage\n{"event": "c", "t_s": 3}\n')
    assert [e["event"] for e in store.read_log()] == ["a", "b", "c"]


def test_a_log_of_exactly_the_tail_bound_is_read_whole(tmp_path):
    store = FaultStore(tmp_path, max_bytes=1000)
    keep = 2 * MAX_RECORD_BYTES  # the tail read: 2 x max(max_bytes, a record's bound)
    lines = [json.dumps({"event": "n", "t_s": float(i)}) + "\n" for i in range(4000)]
    while len("".join(lines)) > keep - 200:
        lines.pop()
    last = json.dumps({"event": "n", "t_s": -1.0, "pad": ""}) + "\n"
    short = keep - len("".join(lines)) - len(last)
    lines.append(last.replace('"pad": ""', '"pad": "' + "x" * short + '"'))
    text = "".join(lines)
    assert len(text.encode()) == keep
    store.log_path.write_text(text)
    entries = store.read_log(limit=100_000)
    assert entries[0]["t_s"] == 0.0 and len(entries) == len(lines)  # the first line is not dropped


def test_a_reset_of_a_lockout_not_in_force_is_harmless(tmp_path):
    store = FaultStore(tmp_path)
    store.append({"event": "reset", "t_s": 1.0, "by": "socket", "fault": lockout().to_dict()})
    store.append(raise_entry(lockout("heater_runaway", "left_calf")))
    assert [f.code for f in FaultStore(tmp_path).lockouts_in_log()] == ["heater_runaway"]


def test_a_summary_that_cannot_be_read_is_a_lockout_saying_so(tmp_path):
    store = FaultStore(tmp_path)
    store.lockout_path.mkdir()  # not a file at all
    (got,) = store.load_lockout(now_s=4.0)
    assert got.code == "lockout_state_corrupt" and got.t_s == 4.0
    assert "could not be trusted: it could not be read (" in got.message


def test_a_summary_nested_past_the_record_depth_is_damaged(tmp_path):
    store = FaultStore(tmp_path)
    deep = {"version": 1, "lockouts": [], "x": json.loads("[" * 12 + "]" * 12)}
    store.lockout_path.write_text(json.dumps(deep))
    (got,) = store.load_lockout(now_s=1.0)
    assert got.code == "lockout_state_corrupt" and "damaged" in got.message


def test_a_damaged_summary_at_start_is_latched_at_the_start_time(tmp_path):
    store = FaultStore(tmp_path)
    store.lockout_path.write_bytes(b"{not json")
    (got,) = FaultStore(tmp_path).load_latched(now_s=12.0)
    assert got.code == "lockout_state_corrupt" and got.t_s == 12.0


def test_a_state_dir_that_is_a_file_is_refused_naming_it(tmp_path):
    from controller.storage.state_dir import StateDirError

    path = tmp_path / "state"
    path.write_text("")
    with pytest.raises(StateDirError) as err:
        FaultStore(path)
    assert str(err.value) == f"state directory {path} is a file, not a directory"


def test_a_summary_of_many_lockouts_loads_whole(tmp_path):
    store = FaultStore(tmp_path)
    many = [lockout("vent_failure", zone, float(i)) for i, zone in enumerate(
        ["left_foot", "left_calf", "left_thigh", "right_foot", "right_calf", "right_thigh"] * 3)]
    many = list({f.key: f for f in many}.values())
    many += [Fault.make("heater_runaway", pad, 9.0, "x" * 900, {"temp_c": 45.0})
             for pad in ("left_foot", "left_calf", "right_foot", "right_calf")]
    store.save_lockout(many)
    assert store.lockout_path.stat().st_size > 4096
    assert [f.key for f in FaultStore(tmp_path).load_lockout()] == [f.key for f in many]


def test_a_log_line_nested_past_the_record_depth_is_skipped(tmp_path):
    store = FaultStore(tmp_path)
    store.append({"event": "a", "t_s": 1.0})
    with open(store.log_path, "a") as f:
        f.write(json.dumps({"event": "deep", "x": json.loads("[" * 10 + "]" * 10)}) + "\n")
    store.append({"event": "b", "t_s": 2.0})
    assert [e["event"] for e in store.read_log()] == ["a", "b"]
