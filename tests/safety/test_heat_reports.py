"""What the heat interlocks report, tick by tick: a fault is reported on every tick its cause
lasts (the monitor's contract: "a fault already latched comes back while it lasts"), also on
the ticks between thermal reads when the pad's reading has not changed; and a stuck heater's
rise is timed from the last moment the pad was at its low, not from the first."""

from __future__ import annotations

import math

import pytest

from tests.safety.rig import CFG, FAST_DT, LIM, THERMAL_DT, SafetyRig, codes

PAD = "left_calf"


@pytest.mark.parametrize("bad", [-math.inf, 90.0])
def test_a_sensor_out_of_range_is_reported_on_every_tick_while_its_reading_stands(bad):
    rig = SafetyRig(CFG, dt_s=FAST_DT)
    rig.tick()
    rig.temps[PAD] = (bad, 31.0)
    assert "temp_sensor_range" in codes(rig.tick())
    rig.frozen_pads.add(PAD)  # between thermal reads: the same reading, tick after tick
    for _ in range(round(0.5 / FAST_DT)):
        faults = [f for f in rig.tick() if f.code == "temp_sensor_range"]
        assert [f.zone for f in faults] == [PAD]


def test_a_rise_with_the_heater_off_is_timed_from_the_last_moment_at_the_low():
    rig = SafetyRig(CFG, dt_s=THERMAL_DT)
    rig.temps[PAD] = (30.0, 30.0)
    for _ in range(round(8.0 / THERMAL_DT)):  # 8 s flat at 30 °C, heater off
        assert "heater_runaway" not in codes(rig.tick())
    flat_until = rig.t
    rate = 0.1  # °C/s: a stuck switch

    def stuck(r: SafetyRig) -> None:
        v = 30.0 + rate * (r.t + THERMAL_DT - flat_until)
        r.temps[PAD] = (v, v)

    fault = rig.run(60.0, "heater_runaway", stuck)
    assert fault is not None
    assert fault.t_s == pytest.approx(flat_until + LIM.heating_off_rise_c / rate)
    assert fault.readings["over_s"] == pytest.approx(LIM.heating_off_rise_c / rate)
    assert fault.message.startswith("left calf pad: warmed 2.0 °C in 20 s with its heater off")


def test_a_rise_of_2_c_over_exactly_30_s_with_the_heater_off_trips():
    """The window is "within any 30 s": a low read exactly 30 s ago still counts."""
    rig = SafetyRig(CFG, dt_s=THERMAL_DT)
    rig.temps[PAD] = (30.0, 30.0)
    rig.tick()
    low_at = rig.t
    rig.temps[PAD] = (30.5, 30.5)  # a little warmer at once, then flat: 0.5 °C, no trip
    while rig.t + THERMAL_DT < low_at + LIM.heating_off_window_s:
        assert "heater_runaway" not in codes(rig.tick())
    rig.temps[PAD] = (30.0 + LIM.heating_off_rise_c,) * 2
    faults = [f for f in rig.tick() if f.code == "heater_runaway"]
    assert rig.t == low_at + LIM.heating_off_window_s
    assert len(faults) == 1 and faults[0].readings["rise_c"] == LIM.heating_off_rise_c
    assert faults[0].readings["over_s"] == LIM.heating_off_window_s


def test_pads_never_read_with_their_heaters_off_are_stale_after_1_s_and_nothing_else():
    """A board that has read no pad at all (every pad missing from the readings: no read time,
    no value): the monitor keeps running and says each pad is stale once 1 s has passed."""
    from controller.model.readings import Readings
    from controller.safety.monitor import SafetyMonitor

    monitor = SafetyMonitor(CFG)
    out = SafetyRig(CFG).outputs()  # heaters off, relay closed
    seen: list = []
    t = 0.0
    while t <= 1.5:
        readings = Readings(t_s=t, pads={}, pressure_mmhg={c: 0.0 for c in CFG.chamber_names},
                            pressure_t_s={c: t for c in CFG.chamber_names},
                            roller_current_a={r: 0.0 for r in CFG.roller_names}, estop_tripped=False,
                            thermal_fresh=True, errors=())
        faults = monitor.check(readings, out, t)
        assert {f.code for f in faults} <= {"temp_stale"}
        seen += [(f.zone, t) for f in faults]
        t += THERMAL_DT
    first = {zone: min(at for z, at in seen if z == zone) for zone, _ in seen}
    assert first == dict.fromkeys(CFG.pad_names, LIM.stale_reading_s)
