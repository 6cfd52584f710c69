"""The service meter: which fills and holds it measures, and what it makes of them (synthetic
ticks at 50 Hz, so each rule is seen on its own)."""

from __future__ import annotations

import math

import pytest

from controller.machine.recorders import ServiceMeter
from controller.machine.snapshot import TickRecord
from controller.model.outputs import Outputs
from controller.model.readings import Readings
from controller.model.state import Mode
from controller.storage import service_record as sr

ZONES = {"left_foot": "foot", "left_calf": "calf"}
DT = 0.02


def meter() -> ServiceMeter:
    return ServiceMeter(ZONES, 1.0, lambda z, lo, hi: sr.reference_rate(ZONES[z], lo, hi, None))


def tick(t: float, p: dict[str, float], *, fill=(), vent=("left_calf",), duty=1.0, target=None,
         mode=Mode.RUNNING) -> TickRecord:
    outputs = Outputs(heater_duty={}, fill_open={z: z in fill for z in ZONES}, vent_open={z: z in vent for z in ZONES},
                      pump_duty=duty, roller_speed={}, relay_closed=True)
    readings = Readings(t_s=t, pads={}, pressure_mmhg=p, pressure_t_s={}, roller_current_a={}, estop_tripped=False)
    return TickRecord(t, mode, readings, outputs, {}, target or {}, (), ())


def fill_foot(m: ServiceMeter, *, flow=1.0, start_mmhg=0.0, until_mmhg=45.0, t0=0.0, vent=("left_calf",),
              **kw) -> float:
    """The default foot filled at ``flow`` × its rated rate from ``start_mmhg``; returns the time."""
    rated = sr.RATED["foot"]
    tau, final = rated.tau_s / flow, rated.final_mmhg
    t, p = t0, start_mmhg
    while p < until_mmhg:
        m(tick(t, {"left_foot": p, "left_calf": 0.0}, fill=("left_foot",), vent=vent, **kw))
        t += DT
        p = final - (final - start_mmhg) * math.exp(-(t - t0) / tau)
    m(tick(t, {"left_foot": p, "left_calf": 0.0}, vent=("left_calf",)))  # valve shut: the fill ends
    return t


@pytest.mark.parametrize("flow", [1.0, 0.58])
def test_a_full_duty_fill_from_vented_gives_its_flow_against_the_rated_chamber(flow):
    m = meter()
    fill_foot(m, flow=flow)
    assert m.fills_measured == 1
    assert m.pump_percent() == pytest.approx(100 * flow, abs=1.5)


def test_a_fill_that_ends_early_is_measured_over_what_it_covered_but_not_under_15_mmhg():
    m = meter()
    fill_foot(m, flow=0.8, until_mmhg=25.0)  # 5 -> 25 mmHg: 20 mmHg, compared over the same band
    assert m.fills_measured == 1 and m.pump_percent() == pytest.approx(80, abs=1.5)
    m = meter()
    fill_foot(m, until_mmhg=19.0)  # 14 mmHg of band: too little against the noise
    assert m.fills_measured == 0


@pytest.mark.parametrize("case", ["starts_high", "slowed_pump", "two_valves", "vent_open", "paused"])
def test_fills_that_do_not_show_the_pumps_flow_are_not_measured(case):
    m = meter()
    if case == "starts_high":  # a top-up or a refill: not from a low pressure
        fill_foot(m, start_mmhg=6.0)
    elif case == "slowed_pump":
        fill_foot(m, duty=0.99)
    elif case == "two_valves":  # the pump's flow shared out: neither chamber shows it
        for i in range(200):
            m(tick(i * DT, {"left_foot": i * 0.2, "left_calf": i * 0.2}, fill=("left_foot", "left_calf"), vent=()))
        m(tick(4.0, {"left_foot": 40.0, "left_calf": 40.0}, vent=()))
    elif case == "vent_open":
        fill_foot(m, vent=("left_foot", "left_calf"))
    else:
        fill_foot(m, mode=Mode.PAUSED)
    assert m.fills_measured == 0


def hold(m: ServiceMeter, *, seconds: float, leak_per_s: float, p0=50.0, t0=0.0, zone="left_foot") -> float:
    t = t0
    while t < t0 + seconds:
        p = p0 * math.exp(-leak_per_s * (t - t0))
        m(tick(t, {zone: p, "left_calf": 0.0}, vent=("left_calf",), target={zone: p0}))
        t += DT
    m(tick(t, {zone: 0.0, "left_calf": 0.0}, vent=("left_foot", "left_calf")))  # vented: the hold ends
    return t + DT


def test_a_hold_gives_its_leak_down_per_mmhg_so_holds_at_other_pressures_agree():
    m = meter()
    t = hold(m, seconds=4.0, leak_per_s=0.02, p0=80.0)
    hold(m, seconds=6.0, leak_per_s=0.02, p0=30.0, t0=t)
    entry = m.chambers()["left_foot"]
    assert entry.leak_per_s == pytest.approx(0.02, rel=0.03)
    assert entry.leak_s == pytest.approx(3.0 + 5.0, abs=0.1)  # each after its 1 s settling
    assert entry.fills == 0 and entry.fill_ratio is None


def test_a_hold_too_short_to_judge_after_settling_is_not_measured():
    m = meter()
    hold(m, seconds=2.4, leak_per_s=0.05)  # 1.4 s after the settling: under the 1.5 s needed
    assert m.chambers() == {}
    hold(m, seconds=2.6, leak_per_s=0.05, t0=10.0)
    assert m.chambers()["left_foot"].leak_per_s == pytest.approx(0.05, rel=0.03)


def test_a_new_session_starts_from_nothing():
    m = meter()
    fill_foot(m)
    m.start()
    assert m.fills_measured == 0 and m.chambers() == {} and m.pump_percent() is None
