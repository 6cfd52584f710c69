"""Heating while off, right after a switch-off: the sensors' lag is not a stuck switch.

The plant matrix found it: a light pad on a strong element seen through the variation
envelope's slowest sensors (``sim/plants/corner_light_strong_laggy.toml``) locked out with
``heater_runaway`` on its first warm-up, because its sensors read 2 °C more within 14 s of the
switch-off while they caught up with the surface. The check now counts samples from
``heating_off_settle_s`` after a switch-off (never after a heater that was not on).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.params import load_sim_params
from sim.thermal import PadThermal
from tests.safety.rig import CFG, LIM, THERMAL_DT, SafetyRig

PAD = "left_calf"
DT = THERMAL_DT
PLANT = Path(__file__).resolve().parents[2] / "sim" / "plants" / "corner_light_strong_laggy.toml"


def _warm_up_then_off(config) -> list:
    """Full power until the pad's surface (what the person feels) reaches 40 °C, then off, as
    the PID did on that unit; the sensors lag it by 16 s and 32 s. Returns the faults."""
    params = load_sim_params(PLANT)
    pad = PadThermal(params.pads, params.ambient_c)
    rig = SafetyRig(config, dt_s=DT)
    rig.heat_targets[PAD] = 40.0
    rig.duty[PAD] = 1.0
    faults = []
    for _ in range(round(400 / DT)):
        pad.step(DT, rig.duty[PAD] if rig.relay else 0.0)
        rig.temps[PAD] = (pad.thermistor_c, pad.digital_c)
        if pad.surface_c >= 40.0:
            rig.duty[PAD] = 0.0
        faults += [f for f in rig.tick() if f.code == "heater_runaway"]
    assert rig.duty[PAD] == 0.0 and pad.surface_c < 41.0
    return faults


def test_the_envelopes_laggiest_light_pad_switched_off_at_target_is_no_runaway():
    assert _warm_up_then_off(CFG) == []


def test_without_the_settle_the_same_switch_off_would_lock_out():
    """The scenario above is the one the settle is for (the test is not vacuous)."""
    no_settle = CFG.model_copy(update={"limits": LIM.model_copy(update={"heating_off_settle_s": 0.0})})
    assert [f.code for f in _warm_up_then_off(no_settle)][:1] == ["heater_runaway"]


def test_a_switch_stuck_at_switch_off_is_caught_20_s_after_the_settle():
    """On at full power, then the duty goes to 0 but the pad keeps warming at 0.1 °C/s: samples
    count from 30 s after the switch-off, so the 2 °C rise is complete 20 s after that."""
    rig = SafetyRig(CFG, dt_s=DT)
    rig.duty[PAD] = 1.0
    rig.temps[PAD] = (35.0, 35.0)
    rig.tick()
    rig.duty[PAD] = 0.0
    off_t = rig.t + DT

    def stuck(r):
        v = 35.0 + 0.1 * (r.t + DT - off_t)
        r.temps[PAD] = (v, v)

    fault = rig.run(120.0, "heater_runaway", stuck)
    assert fault is not None
    expected = off_t + LIM.heating_off_settle_s + LIM.heating_off_rise_c / 0.1
    assert fault.t_s == pytest.approx(expected, abs=DT)


def test_a_heater_never_on_has_no_settle():
    rig = SafetyRig(CFG, dt_s=DT)
    rig.temps[PAD] = (30.0, 30.0)
    rig.tick()
    start = rig.t

    def stuck(r):
        v = 30.0 + 0.1 * (r.t + DT - start)
        r.temps[PAD] = (v, v)

    fault = rig.run(60.0, "heater_runaway", stuck)
    assert fault is not None and fault.t_s == pytest.approx(start + 20.0, abs=DT)


def test_the_settle_is_a_limit_a_config_may_only_shorten():
    from controller.model.limits import BOUNDS
    assert BOUNDS["heating_off_settle_s"] == (30.0, "max") and LIM.heating_off_settle_s == 30.0
