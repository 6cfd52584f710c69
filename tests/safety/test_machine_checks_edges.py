"""Machine checks: the estop, session and late-tick records whole, and chip errors on pads
(read in rotation: a tick reads one pad, or none) versus every other zone (read every tick)."""

from __future__ import annotations

import pytest

from controller.model.config import load_config
from controller.model.readings import ErrorZone, PadReading, ReadingError, Readings
from controller.safety.context import SafetyContext, ZoneNames
from controller.safety.machine_checks import ChipErrors, MachineChecks

CFG = load_config()
LIM = CFG.limits


def readings(t_s, errors=(), thermal=True, estop=False) -> Readings:
    return Readings(t_s=t_s, pads={}, pressure_mmhg={}, pressure_t_s={}, roller_current_a={},
                    estop_tripped=estop, thermal_fresh=thermal, errors=tuple(errors))


def err(family, name, text="MCP9808 at 0x19 on i2c-1: bus error [errno 5]"):
    return ReadingError(ErrorZone(family, name), text)


def test_the_estop_record():
    (fault,) = MachineChecks(CFG).check(readings(3.5, estop=True), SafetyContext(), 3.5)
    assert fault.to_dict() == {"code": "estop", "severity": "stop", "zone": None, "t_s": 3.5,
                               "message": "emergency stop pressed (or its circuit is open)",
                               "readings": {"estop_tripped": True}}


def test_the_session_record_at_the_limit_and_past_it():
    checks = MachineChecks(CFG)
    ctx = SafetyContext(session_started_s=100.0)
    assert checks.check(readings(0.0), ctx, 100.0 + LIM.max_session_s) == []  # exactly 30 min: the runner ends it
    (fault,) = checks.check(readings(0.0), ctx, 100.0 + LIM.max_session_s + 0.02)
    assert fault.code == "session_too_long" and fault.t_s == 1900.02 and fault.zone is None
    assert fault.readings == {"session_s": pytest.approx(1800.02), "limit_s": 1800.0}
    assert fault.message.startswith("session ran 30.0 min, past the 30 min limit")


def test_the_late_tick_record():
    checks = MachineChecks(CFG)
    (fault,) = checks.check(readings(0.0), SafetyContext(tick_late_s=0.125), 7.0)
    assert (fault.code, fault.zone, fault.t_s) == ("tick_late", None, 7.0)
    assert fault.readings == {"late_s": 0.125, "limit_s": LIM.tick_late_periods * CFG.rates.period_s}
    assert fault.message.startswith("control loop ran 125 ms late (limit 60 ms, 3 periods)")


def test_a_pad_chips_run_of_errors_survives_the_ticks_between_thermal_reads():
    chips = ChipErrors(CFG, ZoneNames(CFG))
    pad_err = err("pad", "left_calf")
    t = 0.0
    faults = []
    while t < 1.5 and not faults:
        thermal = round(t / 0.02) % 12 == 0
        faults = chips.check(readings(t, [pad_err] if thermal else [], thermal=thermal), t)
        t = round(t + 0.02, 2)
    (fault,) = faults
    assert fault.zone == "pad:left_calf" and fault.t_s == 1.0  # 1 s after the first error, between thermal reads
    assert fault.to_dict()["readings"] == {"error": pad_err.text, "failing_s": 1.0}
    assert fault.message == "left calf pad: chip failing for 1.0 s — " + pad_err.text


def test_a_chamber_read_cleanly_on_any_tick_ends_its_run():
    chips = ChipErrors(CFG, ZoneNames(CFG))
    bad = err("chamber", "left_foot", "ADS1115 at 0x49 on i2c-1: bus error [errno 5]")
    for i in range(40):
        chips.check(readings(i * 0.02, [bad], thermal=False), i * 0.02)
    chips.check(readings(0.8, [], thermal=False), 0.8)  # one clean read, not a thermal tick
    assert chips.check(readings(1.1, [bad], thermal=False), 1.1) == []  # a new run: 0.3 s old


def test_several_texts_of_one_zone_are_quoted_once_each_in_order():
    chips = ChipErrors(CFG, ZoneNames(CFG))
    a, b = err("machine", "expander", "MCP23017 at 0x20: nack"), err("machine", "expander", "MCP23017 at 0x20: timeout")
    chips.check(readings(0.0, [a, b, a]), 0.0)
    (fault,) = chips.check(readings(1.0, [a, b, a]), 1.0)
    assert fault.readings["error"] == "MCP23017 at 0x20: nack; MCP23017 at 0x20: timeout"
    assert fault.message == "expander: chip failing for 1.0 s — MCP23017 at 0x20: nack; MCP23017 at 0x20: timeout"


def rotation_tick(t_s, read_pad, errors=()) -> Readings:
    """A tick of the pad rotation: ``read_pad`` was read now (None: no pad was), each other
    pad's reading is from an earlier tick, as the board keeps it."""
    pads = {p: PadReading(30.0, 30.0, t_s if p == read_pad else t_s - 0.04) for p in CFG.pad_names}
    return Readings(t_s=t_s, pads=pads, pressure_mmhg={}, pressure_t_s={}, roller_current_a={},
                    estop_tripped=False, thermal_fresh=read_pad is not None, errors=tuple(errors))


def test_a_tick_that_read_another_pad_does_not_end_a_pads_run_of_errors():
    """Left calf fails once at 0 s; the next ticks read the other pads only (no error for left
    calf, since it was not read): its run goes on, and is a chip error at exactly 1 s."""
    chips = ChipErrors(CFG, ZoneNames(CFG))
    bad = err("pad", "left_calf")
    assert chips.check(rotation_tick(0.0, "left_calf", [bad]), 0.0) == []
    others = [p for p in CFG.pad_names if p != "left_calf"]
    for i in range(1, 50):  # 0.02 .. 0.98 s
        assert chips.check(rotation_tick(i * 0.02, others[i % len(others)]), i * 0.02) == []
    (fault,) = chips.check(rotation_tick(1.0, others[0]), 1.0)
    assert (fault.code, fault.zone, fault.readings["failing_s"]) == ("chip_error", "pad:left_calf", 1.0)


def test_a_tick_that_read_the_pad_cleanly_ends_its_run():
    """The same run, but at 0.5 s a tick reads left calf with no error: the run has ended, and
    an error at 0.6 s starts a new one (0.4 s old at 1.0 s, no fault)."""
    chips = ChipErrors(CFG, ZoneNames(CFG))
    bad = err("pad", "left_calf")
    chips.check(rotation_tick(0.0, "left_calf", [bad]), 0.0)
    chips.check(rotation_tick(0.5, "left_calf"), 0.5)
    chips.check(rotation_tick(0.6, "left_calf", [bad]), 0.6)
    assert chips.check(rotation_tick(1.0, "right_calf"), 1.0) == []
    (fault,) = chips.check(rotation_tick(1.6, "right_calf"), 1.6)
    assert fault.readings["failing_s"] == pytest.approx(1.0)


def test_a_thermal_tick_whose_readings_lack_the_pad_ends_its_run():
    """A readings object without the pad says by ``thermal_fresh`` alone that it read it."""
    chips = ChipErrors(CFG, ZoneNames(CFG))
    bad = err("pad", "left_calf")
    chips.check(readings(0.0, [bad]), 0.0)
    chips.check(readings(0.5, [], thermal=True), 0.5)  # pads={}: read, cleanly
    assert chips.check(readings(1.0, [], thermal=False), 1.0) == []


def test_a_tick_that_read_no_pad_does_not_end_a_pads_run_even_if_its_reading_is_of_this_time():
    """``thermal_fresh`` false: no pad was read this tick, whatever the readings' times say."""
    chips = ChipErrors(CFG, ZoneNames(CFG))
    bad = err("pad", "left_calf")
    chips.check(rotation_tick(0.0, "left_calf", [bad]), 0.0)
    same_time = Readings(t_s=0.5, pads={p: PadReading(30.0, 30.0, 0.5) for p in CFG.pad_names},
                         pressure_mmhg={}, pressure_t_s={}, roller_current_a={}, estop_tripped=False,
                         thermal_fresh=False)
    assert chips.check(same_time, 0.5) == []
    (fault,) = chips.check(rotation_tick(1.0, "right_calf"), 1.0)
    assert fault.zone == "pad:left_calf"
