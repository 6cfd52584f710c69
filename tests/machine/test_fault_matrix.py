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

# injection, program, accepted codes (the first fault must be one of them), detection bound (s after onset)
CASES = [
    ("heater_stuck_on:left_calf@120", "full_leg", {"heater_runaway", "overtemp"}, 400.0),
    # uncommissioned check (1 °C in 100 s): the leg itself warms an unheated pad for minutes, so an
    # open element is caught once that warming slows (~357 s on the default pad from 22 °C)
    ("heater_open:left_calf@2", "full_leg", {"heater_no_gain"}, 400.0),
    ("temp_sensor_open:left_calf@60", "full_leg", {"temp_sensor_range"}, 0.25 + PERIOD),
    ("temp_sensor_short:left_foot@60", "full_leg", {"temp_sensor_range", "overtemp"}, 0.25 + PERIOD),
    ("temp_sensor_drift:right_calf@30", "full_leg", {"temp_sensor_disagree"}, 120.0),
    ("chip_missing:left_calf@60", "full_leg", {"chip_error", "temp_stale"}, LIM.stale_reading_s + 0.25 + PERIOD),
    ("chip_missing:adc_left@60", "full_leg", {"chip_error", "pressure_sensor_range"}, LIM.stale_reading_s + 2 * PERIOD),
    ("bus_hang@60", "full_leg", {"tick_late", "chip_error", "temp_stale"}, 1.0),
    ("vent_valve_stuck_closed:left_foot@30", "full_leg", {"vent_failure", "hold_too_long"}, 60.0),
    ("fill_valve_stuck_open:left_calf@30", "full_leg",
     {"overpressure", "hold_too_long", "vent_failure", "fill_failure", "pressure_sensor_frozen"}, 120.0),
    ("leak:left_calf@30", "full_leg", {"fill_failure"}, 60.0),
    ("pump_dead@30", "full_leg", {"fill_failure"}, 60.0),
    ("pressure_sensor_frozen:left_foot@30", "full_leg", {"pressure_sensor_frozen"}, 60.0),
    ("roller_stall:left_calf@450", "full_leg", {"roller_overcurrent"}, LIM.roller_overcurrent_s + 0.6),
    ("estop@60", "full_leg", {"estop"}, PERIOD),
]


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


@pytest.mark.parametrize("injection,program,codes,bound_s", CASES, ids=[c[0] for c in CASES])
def test_injected_fault_is_caught_and_made_safe(tmp_path, injection, program, codes, bound_s):
    onset = float(injection.rsplit("@", 1)[1])
    state = tmp_path / "state"
    result, rows = run_sim(tmp_path, program=program, injections=[injection], max_runtime_s=onset + bound_s + 30,
                           state_dir=state)
    report = result.report
    assert report["outcome"] == "fault", report
    first = report["faults"][0]
    assert first["code"] in codes, report["faults"]
    assert first["message"]
    assert onset <= first["t_s"] <= onset + bound_s + 1e-6, (first, bound_s)
    # the tick that raised it already wrote safe outputs for its family (the gate is in the same tick)
    row = fault_rows(rows, first["code"])[0]
    assert abs(float(row["t_s"]) - first["t_s"]) < 1e-6
    assert_safe_for(row, first["code"])
    # and they stay safe to the end
    assert_safe_for(rows[-1], first["code"])
    # nothing past its trip beyond what the physics makes unavoidable
    for pad in report["pads"].values():
        assert pad["peak_c"] is None or pad["peak_c"] < LIM.overtemp_trip_c + 1.0
    for ch in report["chambers"].values():
        assert ch["peak_mmhg"] < LIM.overpressure_trip_mmhg
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
    result, rows = run_sim(tmp_path, program="full_leg", injections=["heater_stuck_on:left_foot@100"])
    # the trace rounds to 0.01 °C: a row reading 45.00 may be 44.996 in the controller
    hot = [r for r in rows if max(float(r["pad.left_foot.temp_c"]), float(r["pad.left_foot.temp2_c"])) >= LIM.overtemp_trip_c + 0.006]
    if hot:  # if the creep was caught as a runaway first, the pad never got there
        assert "overtemp" in hot[0]["faults"] or "heater_runaway" in hot[0]["faults"]
        assert_safe_for(hot[0], "overtemp")
    assert result.report["outcome"] == "fault"
    assert {f["code"] for f in result.report["faults"]} & {"overtemp", "heater_runaway"}


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
