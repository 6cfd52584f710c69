"""Rollers start, reverse and stop softly, and knead and friction keep their rhythm."""

import math
from dataclasses import dataclass

import pytest

from controller.model.config import load_config
from controller.control.rollers import RollerController
from programs.intensity import roller_period_s, roller_speed

CONFIG = load_config()
RAMP = CONFIG.roller_control.ramp_per_s
DT_S = 0.02


@dataclass(frozen=True)
class Spec:
    pattern: str
    positions: tuple = ()


GLIDE = Spec("glide", ("foot", "calf"))
KNEAD = Spec("knead", ("calf",))
FRICTION = Spec("friction", ("foot", "calf"))


def drive(ctl, seconds, t0=0.0):
    trace = []
    for i in range(round(seconds / DT_S)):
        t = t0 + i * DT_S
        trace.append((t, ctl.step(t)))
    return trace


def zones(position):
    return [r.zone for r in CONFIG.rollers if r.position == position]


@pytest.mark.parametrize("spec", [GLIDE, KNEAD, FRICTION, Spec("off")], ids=lambda s: s.pattern)
def test_speed_never_changes_faster_than_the_ramp(spec):
    ctl = RollerController(CONFIG)
    ctl.set_program(spec, 5, 0.0)
    trace = drive(ctl, 10.0)
    ctl.set_intensity(1)
    trace += drive(ctl, 5.0, 10.0)
    ctl.stop()
    trace += drive(ctl, 3.0, 15.0)
    for (_, a), (_, b) in zip(trace, trace[1:]):
        for zone in a:
            assert abs(b[zone] - a[zone]) <= RAMP * DT_S + 1e-9
            assert -1.0 <= b[zone] <= 1.0


def test_glide_runs_steadily_one_way_on_the_listed_rollers_only():
    ctl = RollerController(CONFIG)
    ctl.set_program(Spec("glide", ("foot",)), 5, 0.0)
    trace = drive(ctl, 5.0)
    speed = roller_speed("glide", 5)
    assert trace[0][1] == {r.zone: 0.0 for r in CONFIG.rollers}  # soft start from standstill
    assert all(trace[-1][1][z] == pytest.approx(speed) for z in zones("foot"))
    assert all(s[z] >= 0.0 for _, s in trace for z in zones("foot"))
    assert all(s[z] == 0.0 for _, s in trace for z in zones("calf"))


def test_knead_reverses_on_its_period_through_zero():
    ctl = RollerController(CONFIG)
    ctl.set_program(KNEAD, 5, 0.0)
    trace = drive(ctl, 12.0)
    period = roller_period_s("knead")
    zone = zones("calf")[0]
    crossings = [t for (t, a), (_, b) in zip(trace, trace[1:]) if a[zone] > 0 >= b[zone] or a[zone] < 0 <= b[zone]]
    gaps = [b - a for a, b in zip(crossings, crossings[1:])]
    assert len(crossings) >= 4
    assert all(g == pytest.approx(period, abs=2 * DT_S) for g in gaps)
    peak = roller_speed("knead", 5)
    assert max(s[zone] for _, s in trace) == pytest.approx(peak)
    assert min(s[zone] for _, s in trace) == pytest.approx(-peak)


def test_friction_is_a_small_fast_oscillation():
    ctl = RollerController(CONFIG)
    ctl.set_program(FRICTION, 5, 0.0)
    trace = drive(ctl, 6.0)
    zone = zones("calf")[0]
    late = [s[zone] for t, s in trace if t > 2.0]
    assert max(late) > 0.1 and min(late) < -0.1  # both ways
    assert max(abs(v) for v in late) <= RAMP * roller_period_s("friction") + 1e-9  # the ramp bounds each swing
    flips = sum(1 for a, b in zip(late, late[1:]) if (a > 0) != (b > 0))
    assert flips >= 0.8 * 4.0 / roller_period_s("friction")  # one reversal per period


@pytest.mark.parametrize("stop", ["none", "off", "stop"])
def test_stopping_ramps_down_to_zero_rather_than_cutting(stop):
    ctl = RollerController(CONFIG)
    ctl.set_program(GLIDE, 5, 0.0)
    drive(ctl, 3.0)
    if stop == "stop":
        ctl.stop()
    else:
        ctl.set_program(None if stop == "none" else Spec("off"), 5, 3.0)
    trace = drive(ctl, 1.0, 3.0)
    speed = roller_speed("glide", 5)
    first = trace[0][1]
    assert all(0 < v < speed for v in first.values())  # still moving: ramping, not cut
    assert all(v == 0.0 for v in trace[-1][1].values())


def test_intensity_changes_the_speed_and_the_same_spec_keeps_the_rhythm():
    ctl = RollerController(CONFIG)
    ctl.set_program(KNEAD, 1, 0.0)
    drive(ctl, 1.5)
    ctl.set_program(KNEAD, 5, 1.5)  # the runner re-sends the phase: no restart of the reversal clock
    trace = drive(ctl, 1.0, 1.5)
    zone = zones("calf")[0]
    # the first stroke is half a period (1 s), then whole periods: reversed at 1 s, back at 3 s
    assert min(s[zone] for _, s in trace) == pytest.approx(-roller_speed("knead", 5))
    assert ctl.targets(2.9)[zone] < 0
    assert ctl.targets(3.1)[zone] > 0  # as started at 0 s, not restarted at 1.5 s


def test_a_stopped_roller_rests_at_exactly_zero_and_starts_softly_again():
    ctl = RollerController(CONFIG)
    ctl.set_program(KNEAD, 5, 0.0)
    drive(ctl, 2.5)
    ctl.stop()
    rest = drive(ctl, 2.0, 2.5)
    for _, speeds in rest[-50:]:  # at rest: 0.0 exactly (not -0.0: a trace would show "-0.000")
        assert all(v == 0.0 and math.copysign(1.0, v) == 1.0 for v in speeds.values())
    ctl.set_program(GLIDE, 5, 4.5)
    again = drive(ctl, 1.0, 4.5)
    glide = [r.zone for r in CONFIG.rollers if r.position in GLIDE.positions]
    assert all(0.0 < again[0][1][z] <= RAMP * DT_S + 1e-9 for z in glide)  # up the ramp from rest



@pytest.mark.parametrize("intensity", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("spec", [FRICTION, KNEAD], ids=lambda s: s.pattern)
def test_reversing_strokes_swing_evenly_both_ways(spec, intensity):
    """Friction is small circles, knead alternates: each swings as far one way as the other
    (the issue: friction at intensity 5 ran -0.05..0.95, never reversing)."""
    ctl = RollerController(CONFIG)
    ctl.set_program(spec, intensity, 0.0)
    period = roller_period_s(spec.pattern)
    trace = drive(ctl, 20 * period)
    for zone in zones("calf"):
        speeds = [s[zone] for _, s in trace]
        top, bottom = max(speeds), min(speeds)
        assert top > 0.2 and bottom < -0.2, (top, bottom)
        assert top == pytest.approx(-bottom, abs=0.05)
        assert abs(sum(speeds) / len(speeds)) < 0.05  # centred on zero


def test_knead_reverses_on_its_period():
    ctl = RollerController(CONFIG)
    ctl.set_program(KNEAD, 3, 0.0)
    period = roller_period_s("knead")
    zone = zones("calf")[0]
    flips = [t for t in (i * 0.01 for i in range(1, 1000))
             if (ctl.targets(t)[zone] > 0) != (ctl.targets(t - 0.01)[zone] > 0)]
    assert flips[0] == pytest.approx(period / 2, abs=0.011)
    assert all(b - a == pytest.approx(period, abs=0.011) for a, b in zip(flips, flips[1:]))


@pytest.mark.parametrize("setting, sign", [("forward", 1.0), ("reverse", -1.0)])
def test_glide_runs_toward_the_heart_as_the_board_says(setting, sign):
    """"Always stroke toward the heart": which motor direction that is, is a board setting."""
    data = CONFIG.model_dump()
    data["board"]["roller_toward_heart"] = setting
    data["rollers"][0]["toward_heart"] = "forward"  # one roller mounted the other way round
    config = type(CONFIG).model_validate(data)
    ctl = RollerController(config)
    ctl.set_program(GLIDE, 5, 0.0)
    speeds = drive(ctl, 2.0)[-1][1]
    first = config.rollers[0].zone
    assert speeds[first] == pytest.approx(roller_speed("glide", 5))
    for r in config.rollers[1:]:
        assert speeds[r.zone] == pytest.approx(sign * roller_speed("glide", 5))
