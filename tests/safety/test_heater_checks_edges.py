"""The heater checks at their bounds: the heating check's 0.8 duty and target − 5 °C edges and
its goal reached exactly; heating while off judged on either sensor alone, never on an
implausible one, with the relay open too; and a pad over the trip after 30 s off is a lockout
(a stuck switch creeping up slower than 2 °C per 30 s)."""

from __future__ import annotations

import math

import pytest

from tests.safety.rig import LIM, THERMAL_DT, SafetyRig

PAD = "left_calf"
DT = THERMAL_DT


def heat_rig() -> SafetyRig:
    return SafetyRig(dt_s=DT)


def heating(rig, duty, temp, target=40.0):
    rig.heat_targets[PAD] = target
    rig.duty[PAD] = duty
    rig.temps[PAD] = (temp, temp)


@pytest.mark.parametrize("duty,fires", [(0.8, True), (0.79, False), (0.995, True)])
def test_the_heating_check_watches_from_duty_0_8(duty, fires):
    rig = heat_rig()
    heating(rig, duty, 25.0)
    armed = rig.t + DT
    fault = rig.run(150.0, "heater_no_gain")
    assert (fault is not None) is fires
    if fires:
        assert fault.t_s == armed + 100.0


@pytest.mark.parametrize("duty,words", [(1.0, "at full power"), (0.995, "at full power"), (0.9, "at 90% power")])
def test_the_message_says_the_power(duty, words):
    rig = heat_rig()
    heating(rig, duty, 25.0)
    fault = rig.run(150.0, "heater_no_gain")
    assert fault.message == f"left calf pad: 0.0 °C in 100 s {words}, at least 1 °C expected " \
                            "(pad not commissioned): element weak or sensor off the pad"


@pytest.mark.parametrize("temp,fires", [(34.99, True), (35.0, False)])
def test_the_heating_check_sleeps_from_5_c_below_the_target(temp, fires):
    rig = heat_rig()
    heating(rig, 1.0, temp)
    assert (rig.run(150.0, "heater_no_gain") is not None) is fires


def test_reaching_the_goal_exactly_starts_the_next_window():
    rig = heat_rig()
    heating(rig, 1.0, 25.0)
    rig.tick()
    t0 = rig.t
    assert rig.run(50.0, "heater_no_gain") is None
    rig.temps[PAD] = (26.0, 26.0)  # exactly the 1 °C the check asks for
    reached = rig.t + DT
    fault = rig.run(200.0, "heater_no_gain")
    assert t0 < reached and fault.t_s == reached + 100.0


def rising(start_t, rate, thermistor=True, digital=True, base=30.0):
    def each(r):
        v = base + rate * (r.t + DT - start_t)
        r.temps[PAD] = (v if thermistor else math.nan, v if digital else math.nan)
    return each


@pytest.mark.parametrize("thermistor,digital", [(True, False), (False, True)], ids=["thermistor only", "digital only"])
def test_heating_while_off_is_seen_on_the_one_sensor_that_reads(thermistor, digital):
    rig = heat_rig()
    rig.tick()
    fault = rig.run(60.0, "heater_runaway", rising(rig.t, 0.1, thermistor, digital))
    assert fault is not None and fault.t_s == pytest.approx(rig.t, abs=DT) and 19.5 <= fault.t_s <= 21.0


def test_heating_while_off_needs_both_sensors_to_rise_when_both_read():
    rig = heat_rig()
    rig.tick()
    start = rig.t

    def one_rises(r):
        v = 30.0 + 0.1 * (r.t + DT - start)
        r.temps[PAD] = (v, 30.0)  # the other sensor stays put: a drifting sensor, not heat

    assert rig.run(60.0, "heater_runaway", one_rises) is None


def test_an_open_relay_is_heater_off_whatever_duty_was_written():
    rig = heat_rig()
    rig.relay = False
    rig.duty[PAD] = 1.0
    rig.tick()
    assert rig.run(60.0, "heater_runaway", rising(rig.t, 0.1)) is not None


def test_a_pad_missing_from_the_outputs_is_heater_off():
    rig = heat_rig()
    del rig.duty[PAD]
    rig.tick()
    assert rig.run(60.0, "heater_runaway", rising(rig.t, 0.1)) is not None


@pytest.mark.parametrize("temps", [(45.0, 44.0), (44.0, 45.0)], ids=["thermistor", "digital sensor"])
def test_over_the_trip_after_30_s_off_is_a_runaway_lockout(temps):
    rig = heat_rig()
    rig.temps[PAD] = temps  # steady: no rise, so only the hot-while-off rule can see it
    first = rig.t + DT
    fault = rig.run(60.0, "heater_runaway")
    assert fault is not None and fault.t_s == first + LIM.heating_off_window_s
    assert fault.to_dict() == {
        "code": "heater_runaway", "severity": "lockout", "zone": PAD, "t_s": first + 30.0,
        "message": "left calf pad: 45.0 °C, over the 45 °C trip with its heater off for 30 s: heater switch stuck on?",
        "readings": {"temp_c": temps[0], "temp2_c": temps[1], "off_for_s": 30.0}}


def test_just_under_the_trip_after_30_s_off_is_no_runaway():
    rig = heat_rig()
    rig.temps[PAD] = (44.99, 44.99)
    assert rig.run(60.0, "heater_runaway") is None


def test_an_implausible_reading_over_the_trip_is_not_a_runaway():
    rig = heat_rig()
    rig.temps[PAD] = (90.0, 30.0)  # a shorted thermistor: the range check's, not a hot pad
    assert rig.run(60.0, "heater_runaway") is None


def test_the_off_window_restarts_when_the_heater_comes_on():
    rig = heat_rig()
    rig.temps[PAD] = (45.0, 45.0)
    assert rig.run(20.0, "heater_runaway") is None
    rig.duty[PAD] = 0.5
    rig.tick()
    rig.duty[PAD] = 0.0
    off_again = rig.t + DT
    fault = rig.run(60.0, "heater_runaway")
    assert fault.t_s == off_again + 30.0


def test_the_heater_switched_off_between_thermal_reads_starts_a_clean_off_window():
    """Between thermal reads the pad's reading is unchanged: switching the heater off then adds
    no new sample, and the off-window must be empty, not left over from before."""
    rig = SafetyRig(dt_s=1 / 64)
    rig.temps[PAD] = (30.0, 30.0)
    rig.tick()
    rig.frozen_pads.add(PAD)  # no thermal read for now
    rig.duty[PAD] = 0.6
    rig.tick()
    rig.duty[PAD] = 0.0
    for _ in range(10):
        assert "heater_runaway" not in {f.code for f in rig.tick()}
