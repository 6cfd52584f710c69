"""The fault latch: one entry per problem, acknowledgement only when the cause is gone, and
lockouts that outlive acknowledgements and restarts until a technician resets them."""

from __future__ import annotations

from controller.storage.fault_store import FaultStore
from controller.model.faults import FAULT_CODES, Fault, Severity
from controller.safety.latch import FaultLatch


def make(code: str, zone: str | None = "left_calf", t_s: float = 1.0) -> Fault:
    return Fault.make(code, zone, t_s, f"{code} on {zone}", {"value": 1.0})


def test_the_code_table_is_complete_and_consistent():
    expected = {"overtemp", "temp_sensor_range", "temp_sensor_disagree", "temp_stale", "chip_error",
                "heater_no_gain", "heater_runaway", "overpressure", "pressure_sensor_range", "vent_failure",
                "fill_failure", "hold_too_long", "pressure_sensor_frozen", "roller_overcurrent",
                "session_too_long", "tick_late", "estop", "lockout_state_corrupt", "pressure_shortfall",
                "pump_weak"}
    assert set(FAULT_CODES) == expected
    warnings = {c for c, s in FAULT_CODES.items() if s.severity is Severity.WARNING}
    assert warnings == {"pressure_shortfall", "pump_weak"}
    assert not FAULT_CODES["pressure_shortfall"].relay_off and not FAULT_CODES["pump_weak"].relay_off
    assert {s.family for s in FAULT_CODES.values()} == {"heat", "pressure", "roller", "machine"}
    lockouts = {c for c, s in FAULT_CODES.items() if s.severity is Severity.LOCKOUT}
    assert lockouts == {"heater_no_gain", "heater_runaway", "vent_failure", "lockout_state_corrupt"}
    for code in ("overtemp", "heater_runaway", "vent_failure", "tick_late", "estop", "overpressure"):
        assert FAULT_CODES[code].relay_off, code


def test_fault_dict_round_trip():
    f = make("overtemp")
    assert Fault.from_dict(f.to_dict()) == f
    assert f.to_dict()["severity"] == "stop"


def test_chip_error_family_follows_its_zone():
    assert make("chip_error", "pad:left_calf").family == "heat"
    assert make("chip_error", "chamber:left_foot").family == "pressure"
    assert make("chip_error", "roller:left_foot").family == "roller"
    assert make("chip_error", "machine:expander").family == "machine"
    assert make("chip_error", None).family == "machine"


def test_the_same_fault_on_the_same_zone_is_latched_once():
    latch = FaultLatch()
    assert latch.raise_fault(make("overtemp", t_s=1.0))
    assert not latch.raise_fault(make("overtemp", t_s=1.02))
    assert latch.raise_fault(make("overtemp", "right_calf"))
    assert latch.raise_fault(make("temp_stale"))
    assert [(f.code, f.zone, f.t_s) for f in latch.active()] == [
        ("overtemp", "left_calf", 1.0), ("overtemp", "right_calf", 1.0), ("temp_stale", "left_calf", 1.0)]


def test_ack_clears_stop_faults_only_once_their_cause_is_gone():
    latch = FaultLatch()
    latch.raise_fault(make("overtemp"))
    latch.raise_fault(make("estop", None))
    cleared, kept = latch.acknowledge(lambda f: f.code == "estop")
    assert [f.code for f in cleared] == ["estop"]
    assert [(f.code, "still present" in why) for f, why in kept] == [("overtemp", True)]
    assert [f.code for f in latch.active()] == ["overtemp"]
    cleared, kept = latch.acknowledge(lambda f: True)
    assert [f.code for f in cleared] == ["overtemp"] and kept == [] and latch.active() == []


def test_a_cause_check_that_fails_keeps_the_fault():
    latch = FaultLatch()
    latch.raise_fault(make("overtemp"))

    def broken(_):
        raise KeyError("left_calf")

    cleared, kept = latch.acknowledge(broken)
    assert cleared == [] and len(kept) == 1


def test_a_lockout_survives_ack_and_a_restart_until_a_technician_resets_it(tmp_path):
    latch = FaultLatch(FaultStore(tmp_path))
    latch.raise_fault(make("heater_runaway"))
    latch.raise_fault(make("overtemp"))
    cleared, kept = latch.acknowledge(lambda f: True)
    assert [f.code for f in cleared] == ["overtemp"]
    assert [f.code for f, _ in kept] == ["heater_runaway"] and "technician" in kept[0][1]
    assert latch.has_lockout

    restarted = FaultLatch(FaultStore(tmp_path))  # power cut, reboot
    assert restarted.has_lockout
    assert [(f.code, f.zone, f.severity) for f in restarted.active()] == [
        ("heater_runaway", "left_calf", Severity.LOCKOUT)]
    restarted.acknowledge(lambda f: True)
    assert restarted.has_lockout

    reset = restarted.reset_lockout(by="socket", now_s=50.0)
    assert [f.code for f in reset] == ["heater_runaway"]
    assert not restarted.has_lockout and restarted.active() == []
    assert not FaultLatch(FaultStore(tmp_path)).has_lockout  # the reset is on disk too

    log = FaultStore(tmp_path).read_log()
    events = [(e["event"], e["fault"]["code"], e.get("by")) for e in log]
    assert ("raise", "heater_runaway", None) in events
    assert ("clear", "overtemp", "ack") in events
    assert ("restored", "heater_runaway", "start-up") in events
    assert events[-1] == ("reset", "heater_runaway", "socket")
    assert log[-1]["t_s"] == 50.0


def test_reset_lockout_leaves_stop_faults_for_acknowledgement(tmp_path):
    latch = FaultLatch(FaultStore(tmp_path))
    latch.raise_fault(make("vent_failure", "left_foot"))
    latch.raise_fault(make("estop", None))
    latch.reset_lockout(by="panel")
    assert [f.code for f in latch.active()] == ["estop"]


def test_a_corrupt_lockout_file_loads_as_a_lockout(tmp_path):
    FaultStore(tmp_path).lockout_path.write_text("{garbage")
    latch = FaultLatch(FaultStore(tmp_path))
    assert latch.has_lockout
    assert [f.code for f in latch.active()] == ["lockout_state_corrupt"]
    latch.reset_lockout(by="socket")
    assert not FaultLatch(FaultStore(tmp_path)).has_lockout


def test_a_failing_disk_never_stops_the_latch(tmp_path):
    class BrokenStore:
        def load_lockout(self, now_s=0.0):
            return []

        def save_lockout(self, faults):
            raise OSError(30, "Read-only file system")

        def append(self, entry):
            raise OSError(28, "No space left on device")

    latch = FaultLatch(BrokenStore())
    assert latch.raise_fault(make("heater_no_gain"))
    assert latch.has_lockout and latch.store_errors == 2
