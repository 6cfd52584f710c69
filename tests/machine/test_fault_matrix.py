"""The fault-injection matrix: every simulator fault, injected during a program phase where it
matters, ends in its fault code with safe outputs within the bound — judged from the trace
(outputs as the gate wrote them) and from the plant itself."""

import json

import pytest

from controller.model.config import load_config
from controller.storage.fault_store import FaultStore
from controller.model.faults import FAULT_CODES
from tests.machine.simrun import run_sim

CFG = load_config()
PERIOD = CFG.rates.period_s
LIM = CFG.limits

# The README's figures, written out (not read from the limits a mutant could change with them):
THERMAL_S = 0.24  # a pad is read every 12th tick at 50 Hz
STALE_S = 1.0  # stale reading; also how long two sensors may disagree
VENT_WINDOW_S, FILL_WINDOW_S, FROZEN_WINDOW_S = 5.0, 20.0, 3.0
OVERTEMP_C, OVERPRESSURE_MMHG, DISAGREE_C = 45.0, 150.0, 3.0
assert (OVERTEMP_C, OVERPRESSURE_MMHG, DISAGREE_C) == (OVERTEMP_C, OVERPRESSURE_MMHG,
                                                     LIM.sensor_disagree_c)
assert (THERMAL_S, STALE_S) == (CFG.rates.thermal_every_n_ticks * PERIOD, LIM.stale_reading_s)
assert (VENT_WINDOW_S, FILL_WINDOW_S, FROZEN_WINDOW_S) == (LIM.vent_window_s, LIM.fill_timeout_s,
                                                          LIM.pressure_frozen_window_s)
TICK = PERIOD + 1e-6  # detection is judged on tick boundaries


def since_onset(onset):
    return lambda rows, zone: onset


def _transitions(rows, column, to="1"):
    """Times at which a trace column switched to ``to``."""
    return [float(b["t_s"]) for a, b in zip(rows, rows[1:]) if a[column] != to and b[column] == to]


def last_fill_start(rows, zone, fault_t):
    """The start of the fill the fill check judged: the last time the zone's fill opened."""
    return max(t for t in _transitions(rows, f"chamber.{zone}.fill_open") if t <= fault_t)


def last_vent_start(rows, zone, fault_t):
    """The start of the vent the vent check judged: the last time the zone's vent opened."""
    return max(t for t in _transitions(rows, f"chamber.{zone}.vent_open") if t <= fault_t)


def air_moving_from(onset):
    """The first tick after ``onset`` with the zone's fill open and the pump running."""
    def start(rows, zone):
        return next(float(r["t_s"]) for r in rows if float(r["t_s"]) >= onset
                    and r[f"chamber.{zone}.fill_open"] == "1" and float(r["pump_duty"]) > 0)
    return start


def sensors_apart_since(rows, zone, fault_t):
    """Since when the pad's two sensors have been more than 3 °C apart without a break, up to
    the fault (the trace rounds to 0.01 °C, so "surely apart" is over 3.01 °C shown)."""
    start = None
    for r in rows:
        t = float(r["t_s"])
        if t > fault_t:
            break
        apart = abs(float(r[f"pad.{zone}.temp_c"]) - float(r[f"pad.{zone}.temp2_c"])) > DISAGREE_C + 0.01
        start = (start if start is not None else t) if apart else None
    return start


# injection, program, accepted codes (the first fault must be one of them), where the bound's
# clock starts (rows, fault zone) -> s, and the bound after that (the README's fault table)
CASES = [
    # "the trip" is the bound: it creeps to 45 °C in ~153 s (README) and the peak is checked
    # below (test_overtemp_is_cut_on_the_tick_it_is_seen); the time bound here only catches a
    # check that stops working
    ("heater_stuck_on:left_calf@120", "full_leg", {"heater_runaway", "overtemp"}, since_onset(120), 160.0),
    # uncommissioned check (1 °C in 100 s): the leg itself warms an unheated pad for minutes, so an
    # open element is caught once that warming slows (~357 s on the default pad from 22 °C)
    ("heater_open:left_calf@2", "full_leg", {"heater_no_gain"}, since_onset(2), 400.0),
    ("temp_sensor_open:left_calf@60", "full_leg", {"temp_sensor_range"}, since_onset(60), THERMAL_S + PERIOD),
    ("temp_sensor_short:left_foot@60", "full_leg", {"temp_sensor_range", "overtemp"}, since_onset(60),
     THERMAL_S + PERIOD),
    # the window: 3 °C apart for 1 s, judged on thermal reads
    ("temp_sensor_drift:right_calf@30", "full_leg", {"temp_sensor_disagree"}, lambda rows, zone: None,
     STALE_S + THERMAL_S + PERIOD),
    ("chip_missing:left_calf@60", "full_leg", {"temp_stale"}, since_onset(60), STALE_S + THERMAL_S + PERIOD),  # 1.26 s
    ("chip_missing:adc_left@60", "full_leg", {"chip_error", "pressure_sensor_range"}, since_onset(60),
     STALE_S + 2 * PERIOD),
    # one I2C timeout (0.5 s), then the tick is more than 3 periods late (README: 0.58 s)
    ("bus_hang@60", "full_leg", {"tick_late"}, since_onset(60), 0.58),  # I2C timeout + 4 periods
    # next vent + 5 s
    ("vent_valve_stuck_closed:left_foot@30", "full_leg", {"vent_failure"},
     lambda rows, zone: None, VENT_WINDOW_S),
    # next fill + 20 s (a stuck-open fill bleeds the pump's air: the chamber filling falls short)
    ("fill_valve_stuck_open:left_calf@30", "full_leg", {"fill_failure"}, lambda rows, zone: None, FILL_WINDOW_S),
    ("leak:left_calf@30", "full_leg", {"fill_failure"}, lambda rows, zone: None, FILL_WINDOW_S),
    ("pump_dead@30", "full_leg", {"fill_failure"}, lambda rows, zone: None, FILL_WINDOW_S),
    # 3 s of a reading stuck while air moves into the chamber
    ("pressure_sensor_frozen:left_foot@30", "full_leg", {"pressure_sensor_frozen"}, air_moving_from(30),
     FROZEN_WINDOW_S),
    # the soft-start ramp, then the stall current for 200 ms (README: 0.72 s)
    ("roller_stall:left_calf@450", "full_leg", {"roller_overcurrent"}, since_onset(450), 0.72),
    ("estop@60", "full_leg", {"estop"}, since_onset(60), PERIOD),
]
#: where the clock starts for the valve checks, from the fault itself (the zone it names)
CLOCK_FROM_FAULT = {"vent_failure": last_vent_start, "fill_failure": last_fill_start,
                    "temp_sensor_disagree": sensors_apart_since}


def fault_rows(rows, code):
    return [r for r in rows if code in r["faults"].split("|")]


def assert_safe_for(row, code):
    spec = FAULT_CODES[code]
    fam = spec.family
    if fam == "heat" or spec.relay_off or spec.severity.value == "lockout":
        assert all(float(row[f"pad.{z}.duty"]) == 0.0 for z in CFG.pad_names), row
    if fam == "pressure" or spec.relay_off or spec.severity.value == "lockout":
        assert float(row["pump_duty"]) == 0.0
        assert all(row[f"chamber.{z}.fill_open"] == "0" and row[f"chamber.{z}.vent_open"] == "1" for z in CFG.chamber_names)
    if fam == "roller" or spec.relay_off or spec.severity.value == "lockout":
        assert all(float(row[f"roller.{z}.speed"]) == 0.0 for z in CFG.roller_names)
    if spec.relay_off or spec.severity.value == "lockout":
        assert row["relay_closed"] == "0"


@pytest.mark.parametrize("injection,program,codes,clock,bound_s", CASES, ids=[c[0] for c in CASES])
def test_injected_fault_is_caught_and_made_safe(tmp_path, injection, program, codes, clock, bound_s):
    onset = float(injection.rsplit("@", 1)[1])
    state = tmp_path / "state"
    result, rows = run_sim(tmp_path, program=program, injections=[injection], max_runtime_s=onset + 400 + 30,
                           state_dir=state)
    report = result.report
    assert report["outcome"] == "fault", report
    first = report["faults"][0]
    assert first["code"] in codes, report["faults"]
    assert first["message"]
    start = clock(rows, first["zone"])
    if start is None:
        start = CLOCK_FROM_FAULT[first["code"]](rows, first["zone"], first["t_s"])
    assert onset <= first["t_s"], first
    assert first["t_s"] - start <= bound_s + TICK, (first, start, bound_s)
    # the tick that raised it already wrote safe outputs for its family (the gate is in the same tick)
    row = fault_rows(rows, first["code"])[0]
    assert abs(float(row["t_s"]) - first["t_s"]) < 1e-6
    assert_safe_for(row, first["code"])
    # and they stay safe to the end
    assert_safe_for(rows[-1], first["code"])
    # nothing past its trip beyond what the physics makes unavoidable
    for pad in report["pads"].values():
        assert pad["peak_c"] is None or pad["peak_c"] < OVERTEMP_C + 1.0
    for ch in report["chambers"].values():
        assert ch["peak_mmhg"] < OVERPRESSURE_MMHG
    assert_restart_keeps_log_and_lockout(tmp_path, state, report["faults"])


def assert_restart_keeps_log_and_lockout(tmp_path, state, faults):
    """A restart on the same state directory: the log still holds every fault raised, a lockout
    is still latched (idle, safe, refusing to start), and a stop fault is not (it never resumes)."""
    seen = {}

    async def during(sup):
        seen["lockout"] = sup.latch.has_lockout
        seen["mode"] = sup.runner.mode
        seen["log"] = sup.fault_log()

    _, rows = run_sim(tmp_path / "restart", state_dir=state, max_runtime_s=1.0, during=during)
    logged = {(e.get("code"), e.get("zone")) for e in seen["log"] if e.get("event") == "raise"}
    for f in faults:
        assert (f["code"], f["zone"]) in logged, (f, logged)
    locked = any(FAULT_CODES[f["code"]].severity.value == "lockout" for f in faults)
    assert seen["lockout"] == locked
    assert seen["mode"] == ("fault" if locked else "idle")
    if locked:
        assert all(r["relay_closed"] == "0" for r in rows)


def test_overtemp_is_cut_on_the_tick_it_is_seen(tmp_path):
    """README: 45 °C on either sensor trips, heaters off and relay off, on the thermal read that
    sees it. A stuck heater switch creeps the pad up to it (the heating-while-off check may trip
    on the same tick); the peak is the trip plus what one thermal period at full power adds."""
    result, rows = run_sim(tmp_path, program="full_leg", injections=["heater_stuck_on:left_foot@100"])
    # the trace rounds to 0.01 °C: a row reading 45.00 may be 44.996 in the controller
    def hottest(r):
        return max(float(r["pad.left_foot.temp_c"]), float(r["pad.left_foot.temp2_c"]))

    hot = [i for i, r in enumerate(rows) if hottest(r) >= OVERTEMP_C + 0.006]
    first = result.report["faults"][0]["code"]
    assert first in {"overtemp", "heater_runaway"}
    tripped = next(i for i, r in enumerate(rows) if first in r["faults"].split("|"))
    assert all(r["relay_closed"] == "0" for r in rows[tripped:])
    assert max(hottest(r) for r in rows) <= OVERTEMP_C + 0.15  # README bench: 45.11 °C
    assert result.report["outcome"] == "fault"
    # Either the heating-while-off check opened the relay before the trip was reached, or the
    # trip was cut on the very read that saw it: never a reading at the trip without the trip.
    assert not hot or tripped <= hot[0], "a reading at the trip went by without a trip"
    assert hottest(rows[tripped - 1]) < OVERTEMP_C + 0.006, "not tripped before it was reached"


def test_estop_makes_everything_safe_on_the_next_tick(tmp_path):
    result, rows = run_sim(tmp_path, program="full_leg", injections=["estop@450"])
    after = [r for r in rows if float(r["t_s"]) >= 450.0]
    assert "estop" in after[0]["faults"] or "estop" in after[1]["faults"]
    row = after[0] if "estop" in after[0]["faults"] else after[1]
    assert float(row["t_s"]) - 450.0 <= PERIOD + 1e-9
    assert_safe_for(row, "estop")


def test_lockout_survives_a_restart(tmp_path):
    state = tmp_path / "state"
    result, _ = run_sim(tmp_path / "a", program="full_leg", injections=["vent_valve_stuck_closed:left_foot@20"],
                        state_dir=state)
    assert result.report["faults"][0]["code"] in ("vent_failure", "hold_too_long")
    locked = [f for f in result.report["faults"] if FAULT_CODES[f["code"]].severity.value == "lockout"]
    assert locked, result.report["faults"]
    # restart on the same state directory: comes up idle, safe, still locked out, log intact
    seen = {}

    async def during(sup):
        seen["lockout"] = sup.latch.has_lockout
        seen["mode"] = sup.runner.mode
        from controller.model.commands import Source, Start

        seen["start"] = await sup.hub.submit(Start(command="start", program="warm_up"), Source.MQTT)

    result2, rows2 = run_sim(tmp_path / "b", state_dir=state, max_runtime_s=2.0, during=during)
    assert seen["lockout"] and seen["mode"] == "fault"
    assert not seen["start"].ok and "locked out" in seen["start"].error
    assert all(r["relay_closed"] == "0" for r in rows2)
    log = FaultStore(str(state)).read_log()
    assert any(e.get("event") == "raise" and e["fault"]["code"] == locked[0]["code"] for e in log)
    assert json.loads((state / "lockout.json").read_text())
