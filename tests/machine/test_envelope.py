"""The variation envelope: units unlike the one the controllers were tuned on.

The heating check on every thermal corner of the envelope (pad mass 0.5-3x, heater power
70-130 %, sensor lag 1-4x, room 15-30 °C) driven by the simulator's pad: it passes every pad
heating at full power and still catches a broken element and a sensor off its pad. Then whole
programs on the shipped plants: the heavy pad no longer locks out, and a pressure the tired
pump cannot reach is said in words while the program completes."""

from __future__ import annotations

import re

import itertools

import pytest

from controller.model.config import load_config
from controller.model.limits import heating_check
from sim.params import PadParams
from sim.thermal import PadThermal
from tests.machine.simrun import run_sim, shared_run
from tests.safety.test_safety_heat import DT, PAD, heat_rig

CFG = load_config()
CHECK = heating_check(CFG.limits, None)
BASE = PadParams()
CORNERS = list(itertools.product((0.5, 3.0), (0.7, 1.3), (1.0, 4.0), (15.0, 30.0)))


def corner_pad(mass: float, power: float, lag: float, room_c: float, **update) -> PadThermal:
    params = BASE.slower(mass).model_copy(update={
        "heater_power_w": BASE.heater_power_w * power, "thermistor_lag_s": BASE.thermistor_lag_s * lag,
        "digital_sensor_lag_s": BASE.digital_sensor_lag_s * lag, "room_temp_c": room_c, **update})
    return PadThermal(params, room_c)


def heat_at_full_power(pad: PadThermal, target_c: float, seconds: float, sensor=None):
    """Full duty toward ``target_c`` through the safety monitor; the first heater_no_gain (or None)
    and the pad. ``sensor(pad)`` gives what the sensors read (default: the pad's own sensors)."""
    rig = heat_rig()
    rig.heat_targets[PAD] = target_c
    rig.duty[PAD] = 1.0
    rig.temps[PAD] = (pad.thermistor_c, pad.digital_c)

    def advance(r):
        pad.step(DT, 1.0)
        r.temps[PAD] = sensor(pad) if sensor else (pad.thermistor_c, pad.digital_c)
        if r.temps[PAD][0] >= target_c - CFG.limits.heating_check_margin_c:
            r.duty[PAD] = 0.5  # at the margin the PID comes off full power: the check disarms

    return rig.run(seconds, "heater_no_gain", advance)


@pytest.mark.parametrize("mass, power, lag, room_c", CORNERS)
@pytest.mark.parametrize("target_c", [38.0, 42.0])
def test_every_envelope_pad_heating_at_full_power_passes_the_heating_check(mass, power, lag, room_c, target_c):
    pad = corner_pad(mass, power, lag, room_c)
    assert heat_at_full_power(pad, target_c, 1800.0) is None
    assert pad.thermistor_c >= target_c - CFG.limits.heating_check_margin_c  # it got through the armed range


@pytest.mark.parametrize("mass, power, lag, room_c", CORNERS)
def test_a_sensor_off_its_pad_is_caught_in_one_window_on_every_envelope_pad(mass, power, lag, room_c):
    """The sensors lie in the room's air while the element heats the pad: the reading stays flat."""
    pad = corner_pad(mass, power, lag, room_c)
    fault = heat_at_full_power(pad, 42.0, 2 * CHECK.window_s, sensor=lambda p: (room_c, room_c))
    assert fault is not None and fault.t_s == pytest.approx(CHECK.window_s + DT)
    assert "sensor off the pad" in fault.message


@pytest.mark.parametrize("mass, power, lag, room_c", CORNERS)
def test_a_broken_element_is_caught_on_every_envelope_pad(mass, power, lag, room_c):
    """No heat at all: the leg still warms a cold pad for a while, then the check sees no gain
    (the slowest case, a light pad in a cold room, within 10 minutes)."""
    pad = corner_pad(mass, power, lag, room_c, heater_power_w=0.0)
    fault = heat_at_full_power(pad, 42.0, 600.0)
    assert fault is not None and fault.code == "heater_no_gain"


def run_plant(tmp_path, plant: str, program: str, intensity: int = 3):
    return run_sim(tmp_path, program=program, intensity=intensity, config=CFG, trace=False, plant=plant)[0].report


@pytest.mark.parametrize("plant", ["heavy_pad", "corner_slow_cold"])
def test_a_slow_pad_warms_through_a_program_without_a_lockout(tmp_path, plant):
    report = run_plant(tmp_path, plant, "warm_up")
    assert report["outcome"] == "completed"
    assert [f["code"] for f in report["faults"] if f["severity"] != "warning"] == []


def test_an_unreachable_pressure_is_said_in_words_and_the_program_completes(tmp_path):
    """A tired pump (60 % flow) on a large leaky sleeve, deep tissue at intensity 5."""
    report = run_plant(tmp_path, "tired_pump", "deep_tissue", intensity=5)
    assert report["outcome"] == "completed"
    warnings = [f for f in report["faults"] if f["code"] == "pressure_shortfall"]
    assert {f["zone"] for f in warnings} >= {"left_thigh", "right_thigh"}
    assert all(f["severity"] == "warning" for f in warnings)
    thigh = next(f for f in warnings if f["zone"] == "left_thigh")
    assert thigh["message"].startswith("left thigh chamber reached ")
    # said at its first short fill (the warm-up's lighter target, before the deep step's 82 mmHg)
    match = re.match(r"left thigh chamber reached (\d+) of (\d+) mmHg: .*pump.*leaks", thigh["message"])
    assert match and int(match.group(2)) - int(match.group(1)) > 3
    chamber = report["chambers"]["left_thigh"]
    assert chamber["fills_short"] >= 2 and chamber["worst_shortfall_mmhg"] > 3.0
    assert chamber["fills"] == chamber["fills_reached"] + chamber["fills_short"] + chamber["fills_cut_short"]
    assert [f["code"] for f in report["faults"] if f["severity"] != "warning"] == []


def test_the_default_unit_falls_short_nowhere(tmp_path_factory):
    report = shared_run(tmp_path_factory, "deep_tissue", 5)[0].report
    assert report["faults"] == []
    assert all(c["fills_short"] == 0 and c["worst_shortfall_mmhg"] == 0.0 for c in report["chambers"].values())
