"""The output gate, as properties: whatever a controller asks for, the faults have the last word."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.model.config import load_config
from controller.model.faults import FAULT_CODES, Fault, Severity
from controller.safety.gate import gate
from controller.model.outputs import Outputs

CFG = load_config()
PADS, CHAMBERS, ROLLERS = CFG.pad_names, CFG.chamber_names, CFG.roller_names
SAFE = Outputs.safe(PADS, CHAMBERS, ROLLERS)

anything = st.floats(allow_nan=True, allow_infinity=True)
pad_zone = st.sampled_from(PADS)
chamber_zone = st.sampled_from(CHAMBERS)


@st.composite
def outputs(draw):
    """Whatever a controller might ask for, including nonsense and a zone no config has."""
    def per(zones, values):
        out = {z: draw(values) for z in zones if draw(st.integers(0, 3))}  # now and then a zone is left out
        if draw(st.booleans()):
            out["no_such_zone"] = draw(values)
        return out

    return Outputs(
        heater_duty=per(PADS, anything),
        fill_open=per(CHAMBERS, st.booleans()),
        vent_open=per(CHAMBERS, st.booleans()),
        pump_duty=draw(anything),
        roller_speed=per(ROLLERS, anything),
        relay_closed=draw(st.booleans()),
    )


def fault(code: str, zone: str | None = None, severity: Severity | None = None) -> Fault:
    f = Fault.make(code, zone, 1.0, f"test {code}", {})
    return f if severity is None else Fault(f.code, severity, f.zone, f.t_s, f.message, f.readings)


def zone_for(code: str) -> st.SearchStrategy:
    family = FAULT_CODES[code].family
    if family == "heat":
        return pad_zone
    if family == "pressure":
        return chamber_zone
    if family == "roller":
        return st.sampled_from(ROLLERS)
    return st.none()


@st.composite
def some_faults(draw, must_include: str | None = None):
    codes = draw(st.lists(st.sampled_from(sorted(FAULT_CODES)), max_size=5))
    found = [fault(c, draw(zone_for(c))) for c in codes]
    found += [fault("chip_error", draw(st.sampled_from(["pad:left_calf", "chamber:left_foot", "roller:right_calf",
                                                        "machine:expander"])))
              for _ in range(draw(st.integers(0, 1)))]
    if must_include is not None:
        found.append(fault(must_include, draw(zone_for(must_include))))
    return draw(st.permutations(found))


def clamp(v, lo, hi):
    return 0.0 if math.isnan(v) else min(hi, max(lo, v))


def is_safe(out: Outputs) -> bool:
    return out == SAFE


@settings(max_examples=300)
@given(outputs(), some_faults(must_include="overtemp"))
def test_no_fault_set_with_overtemp_lets_any_heater_heat(wanted, faults):
    out = gate(wanted, faults, PADS, CHAMBERS, ROLLERS)
    assert all(out.heater_duty[p] == 0.0 for p in PADS)
    assert not out.relay_closed


@settings(max_examples=300)
@given(outputs(), some_faults(must_include="temp_sensor_disagree"))
def test_any_heat_fault_turns_every_heater_off(wanted, faults):
    out = gate(wanted, faults, PADS, CHAMBERS, ROLLERS)
    assert set(out.heater_duty) == set(PADS)
    assert all(d == 0.0 for d in out.heater_duty.values())


@settings(max_examples=300)
@given(outputs(), some_faults(must_include="overpressure"))
def test_overpressure_closes_every_fill_opens_every_vent_and_stops_the_pump(wanted, faults):
    out = gate(wanted, faults, PADS, CHAMBERS, ROLLERS)
    assert all(out.fill_open[c] is False for c in CHAMBERS)
    assert all(out.vent_open[c] is True for c in CHAMBERS)
    assert out.pump_duty == 0.0
    assert not out.relay_closed  # over-pressure also drops the relay: a pump that ignores us stops too


@settings(max_examples=300)
@given(outputs(), some_faults(must_include="fill_failure"))
def test_any_pressure_fault_vents_every_chamber(wanted, faults):
    out = gate(wanted, faults, PADS, CHAMBERS, ROLLERS)
    assert not any(out.fill_open.values()) and all(out.vent_open.values()) and out.pump_duty == 0.0


@settings(max_examples=300)
@given(outputs(), some_faults(must_include="roller_overcurrent"))
def test_a_roller_fault_stops_every_roller(wanted, faults):
    out = gate(wanted, faults, PADS, CHAMBERS, ROLLERS)
    assert all(out.roller_speed[r] == 0.0 for r in ROLLERS)


@settings(max_examples=300)
@given(outputs(), some_faults(must_include="estop"))
def test_estop_turns_everything_off_and_opens_the_relay(wanted, faults):
    assert is_safe(gate(wanted, faults, PADS, CHAMBERS, ROLLERS))


@settings(max_examples=300)
@given(outputs(), some_faults(), st.sampled_from(sorted(FAULT_CODES)))
def test_any_lockout_gives_the_safe_state(wanted, faults, code):
    lockout = fault(code, None, Severity.LOCKOUT)
    assert is_safe(gate(wanted, [*faults, lockout], PADS, CHAMBERS, ROLLERS))


@settings(max_examples=300)
@given(outputs(), some_faults())
def test_relay_off_codes_give_the_safe_state(wanted, faults):
    out = gate(wanted, faults, PADS, CHAMBERS, ROLLERS)
    if any(f.relay_off for f in faults):
        assert is_safe(out)


@settings(max_examples=500)
@given(outputs())
def test_without_faults_values_are_only_clamped(wanted):
    out = gate(wanted, [], PADS, CHAMBERS, ROLLERS)
    assert set(out.heater_duty) == set(PADS) and set(out.roller_speed) == set(ROLLERS)
    assert set(out.fill_open) == set(CHAMBERS) == set(out.vent_open)
    for p in PADS:
        assert out.heater_duty[p] == clamp(wanted.heater_duty.get(p, 0.0), 0.0, 1.0)
    for r in ROLLERS:
        assert out.roller_speed[r] == clamp(wanted.roller_speed.get(r, 0.0), -1.0, 1.0)
    for c in CHAMBERS:
        assert out.vent_open[c] == wanted.vent_open.get(c, True)  # a vent not mentioned stays open
        assert out.fill_open[c] == (wanted.fill_open.get(c, False) and not out.vent_open[c])
    pump = clamp(wanted.pump_duty, 0.0, 1.0)
    assert out.pump_duty == (pump if any(out.fill_open.values()) else 0.0)
    assert out.relay_closed == wanted.relay_closed


@settings(max_examples=500)
@given(outputs(), some_faults())
def test_always_fill_and_vent_never_open_together_and_no_dead_heading(wanted, faults):
    out = gate(wanted, faults, PADS, CHAMBERS, ROLLERS)
    assert not any(out.fill_open[c] and out.vent_open[c] for c in CHAMBERS)
    assert out.pump_duty == 0.0 or any(out.fill_open.values())
    assert all(0.0 <= d <= 1.0 for d in out.heater_duty.values())
    assert all(-1.0 <= s <= 1.0 for s in out.roller_speed.values())
    assert 0.0 <= out.pump_duty <= 1.0


def test_warnings_cut_nothing():
    wanted = SAFE.with_(heater_duty={p: 0.5 for p in PADS}, relay_closed=True)
    out = gate(wanted, [fault("overtemp", "left_calf", Severity.WARNING)], PADS, CHAMBERS, ROLLERS)
    assert out == wanted


def test_a_machine_stop_fault_cuts_every_actuator_but_leaves_the_relay():
    wanted = Outputs({p: 0.7 for p in PADS}, {c: c == "left_foot" for c in CHAMBERS},
                     {c: c != "left_foot" for c in CHAMBERS}, 0.9, {r: 0.5 for r in ROLLERS}, True)
    out = gate(wanted, [fault("session_too_long")], PADS, CHAMBERS, ROLLERS)
    assert out == SAFE.with_(relay_closed=True)


def test_the_gate_is_pure():
    wanted = Outputs({p: 2.0 for p in PADS}, {c: True for c in CHAMBERS}, {c: True for c in CHAMBERS},
                     1.0, {r: -3.0 for r in ROLLERS}, True)
    before = (dict(wanted.heater_duty), dict(wanted.fill_open), dict(wanted.vent_open), dict(wanted.roller_speed))
    faults = (f for f in [fault("roller_overcurrent", "left_foot")])  # a one-shot iterable is fine
    first = gate(wanted, faults, PADS, CHAMBERS, ROLLERS)
    assert before == (dict(wanted.heater_duty), dict(wanted.fill_open), dict(wanted.vent_open),
                      dict(wanted.roller_speed))
    assert first == gate(wanted, [fault("roller_overcurrent", "left_foot")], PADS, CHAMBERS, ROLLERS)
    assert first.heater_duty == {p: 1.0 for p in PADS}
