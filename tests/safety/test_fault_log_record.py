"""The fault log as a record, entry by entry: every raise, clear, restore and reset with its
time and who did it; the lockout file as its summary; the writes going through the store's
write-behind thread (off the scan tick), and a failing write counted, never raised."""

from __future__ import annotations

import json

from controller.model.faults import Fault, Severity
from controller.safety.latch import FaultLatch
from controller.storage.fault_store import FaultStore


def make(code: str, zone: str | None = "left_calf", t_s: float = 1.0) -> Fault:
    return Fault.make(code, zone, t_s, f"test {code}")


def test_the_log_holds_each_event_with_its_time_and_who(tmp_path):
    latch = FaultLatch(FaultStore(tmp_path), now_s=0.0)
    runaway, overtemp = make("heater_runaway", t_s=12.5), make("overtemp", t_s=13.0)
    assert latch.raise_fault(runaway) and latch.raise_fault(overtemp)
    assert not latch.raise_fault(make("overtemp", t_s=14.0))  # latched once
    latch.acknowledge(lambda f: True, now_s=20.0, by="panel")
    assert latch.flush(5.0)
    restarted = FaultLatch(FaultStore(tmp_path), now_s=30.0)
    restarted.reset_lockout(by="socket uid 1000", now_s=40.0)
    assert restarted.flush(5.0)

    log = FaultStore(tmp_path).read_log()
    assert [{k: e.get(k) for k in ("event", "t_s", "by")} | {"code": e["fault"]["code"]} for e in log] == [
        {"event": "raise", "t_s": 12.5, "by": None, "code": "heater_runaway"},
        {"event": "raise", "t_s": 13.0, "by": None, "code": "overtemp"},
        {"event": "clear", "t_s": 20.0, "by": "panel", "code": "overtemp"},
        {"event": "restored", "t_s": 30.0, "by": "start-up", "code": "heater_runaway"},
        {"event": "reset", "t_s": 40.0, "by": "socket uid 1000", "code": "heater_runaway"},
    ]
    assert log[0]["fault"] == runaway.to_dict()  # the whole fault, as raised
    assert json.loads((tmp_path / "lockout.json").read_text()) == {"version": 1, "lockouts": []}


def test_the_lockout_file_summarises_the_lockouts_in_force(tmp_path):
    latch = FaultLatch(FaultStore(tmp_path))
    runaway = make("heater_runaway", t_s=12.5)
    latch.raise_fault(runaway)
    latch.raise_fault(make("overtemp"))
    assert latch.flush(5.0)
    saved = json.loads((tmp_path / "lockout.json").read_text())
    assert saved == {"version": 1, "lockouts": [runaway.to_dict()]}


def test_a_kept_lockout_says_a_technician_must_reset_it(tmp_path):
    latch = FaultLatch(FaultStore(tmp_path))
    latch.raise_fault(make("vent_failure", "left_foot"))
    latch.raise_fault(make("fill_failure", "left_calf"))
    cleared, kept = latch.acknowledge(lambda f: False)
    assert cleared == []
    assert [(f.code, why) for f, why in kept] == [
        ("vent_failure", "lockout: a technician must check the machine and reset it"),
        ("fill_failure", "the cause is still present: test fill_failure"),
    ]
    latch.flush(5.0)


class RecordingWriter:
    """A write-behind thread that runs nothing until told to: what the latch queued, in order."""

    def __init__(self):
        self.queued = []

    def submit(self, fn, on_error=None):
        self.queued.append((fn, on_error))

    def flush(self, timeout_s=None):
        return True

    def run_all(self):
        for fn, on_error in self.queued:
            try:
                fn()
            except OSError as err:
                on_error(err)
        self.queued.clear()


class RecordingStore:
    def __init__(self, fail: bool = False):
        self.writer = RecordingWriter()
        self.appended, self.saved, self.fail = [], [], fail

    def load_latched(self, now_s):
        self.loaded_at = now_s
        return []

    def append(self, entry):
        if self.fail:
            raise OSError("disk full")
        self.appended.append(entry)

    def save_lockout(self, faults):
        if self.fail:
            raise OSError("disk full")
        self.saved.append(list(faults))


def test_writes_go_through_the_stores_writer_off_the_tick():
    store = RecordingStore()
    latch = FaultLatch(store, now_s=7.0)
    assert store.loaded_at == 7.0
    latch.raise_fault(make("heater_runaway"))
    assert latch.has_lockout  # in force at once, in memory
    assert store.appended == [] and store.saved == []  # nothing written on the tick itself
    assert len(store.writer.queued) == 2  # the log line, then the summary
    store.writer.run_all()
    assert [e["event"] for e in store.appended] == ["raise"]
    assert [[f.code for f in s] for s in store.saved] == [["heater_runaway"]]


def test_a_failing_write_is_counted_and_the_fault_stays_latched(caplog):
    store = RecordingStore(fail=True)
    latch = FaultLatch(store)
    latch.raise_fault(make("heater_runaway"))
    store.writer.run_all()
    assert latch.store_errors == 2 and latch.has_lockout
    assert "could not append to the fault log: disk full" in caplog.text
    assert "could not save the lockout state: disk full" in caplog.text


def test_without_a_writer_the_store_is_written_inline_and_a_failure_counted():
    class InlineStore(RecordingStore):
        def __init__(self, fail=False):
            super().__init__(fail)
            self.writer = None

    store = InlineStore()
    latch = FaultLatch(store)
    latch.raise_fault(make("heater_runaway"))
    assert [e["event"] for e in store.appended] == ["raise"] and len(store.saved) == 1
    failing = FaultLatch(InlineStore(fail=True))
    failing.raise_fault(make("heater_runaway"))
    assert failing.store_errors == 2 and failing.has_lockout


def test_a_restored_lockout_is_logged_and_summarised_again():
    class Restoring(RecordingStore):
        def load_latched(self, now_s):
            return [make("vent_failure", "left_foot")]

    store = Restoring()
    latch = FaultLatch(store, now_s=3.0)
    store.writer.run_all()
    assert [(e["event"], e["t_s"], e["by"]) for e in store.appended] == [("restored", 3.0, "start-up")]
    assert [[f.code for f in s] for s in store.saved] == [["vent_failure"]]
    assert latch.lockouts()[0].severity is Severity.LOCKOUT


def test_flush_waits_on_the_writer_with_the_timeout_and_is_true_without_one(caplog):
    class TimedWriter(RecordingWriter):
        def flush(self, timeout_s=None):
            self.timeout_s = timeout_s
            return False  # timed out

    store = RecordingStore()
    store.writer = TimedWriter()
    assert FaultLatch(store).flush(2.5) is False and store.writer.timeout_s == 2.5

    class Inline(RecordingStore):
        def __init__(self, fail=False):
            super().__init__(fail)
            self.writer = None

    assert FaultLatch(Inline()).flush(1.0) is True
    assert FaultLatch(None).flush() is True
    failing = FaultLatch(Inline(fail=True))
    failing.raise_fault(make("overtemp"))
    assert "could not append to the fault log: disk full" in caplog.text
