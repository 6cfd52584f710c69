"""The published state is an interface: Home Assistant templates, scripts and ``legctl`` read
its JSON (MQTT ``state``, the socket's ``status`` and ``stream``). Its keys and values stay as
they are; new keys may be added (then added here), none renamed or dropped."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from controller.control.runner import Runner
from controller.machine.snapshot import TickRecord, build_snapshot
from controller.model.config import load_config
from controller.model.faults import FAULT_CODES, Fault, Severity
from controller.model.outputs import Outputs
from controller.model.readings import PadReading, Readings
from controller.model.state import ChamberState, FaultCode, Mode, PadState, RollerState, State
from controller.model.values import MACHINE_VALUES, ZONE_VALUES, Zone
from programs.library import load_library
from tests.machine.simrun import run_sim

#: the state's keys, in the order they are published
STATE_KEYS = ["seq", "t_s", "mode", "program", "program_name", "phase", "phase_index", "elapsed_s", "remaining_s",
              "intensity", "heat_on", "profile", "relay_closed", "pump_duty", "estop", "pads", "chambers", "rollers",
              "faults", "lockout", "selected_program", "last_session", "profile_confirmed", "profile_pending",
              "notice", "notices", "service", "minutes_today", "problem", "problem_text", "notice_text",
              "pump_percent"]
PAD_KEYS = ["temp_c", "temp2_c", "target_c", "duty"]
CHAMBER_KEYS = ["pressure_mmhg", "target_mmhg", "fill_open", "vent_open"]
ROLLER_KEYS = ["speed", "current_a"]
FAULT_KEYS = ["code", "severity", "zone", "t_s", "message"]
MODES = {"starting", "idle", "running", "paused", "completed", "stopped", "fault", "lockout"}


@pytest.fixture(scope="module")
def runner():
    config = load_config()
    library, _ = load_library(limits=config.limits)
    runner = Runner(config, library)
    runner.start("quick_circulation", 4, True, 100.0)
    runner.step(112.3456)
    return runner


def one_tick(runner, *, lockout=False) -> State:
    """A tick with the awkward cases: a NaN and an infinite reading, long decimals, a warning."""
    readings = Readings(t_s=112.34567,
                        pads={"left_foot": PadReading(36.4567, 36.123, 112.0),
                              "left_calf": PadReading(math.nan, 35.9951, 112.0)},
                        pressure_mmhg={"left_foot": 38.46, "left_thigh": math.inf}, pressure_t_s={},
                        roller_current_a={"left_calf": 0.41234}, estop_tripped=False)
    outputs = Outputs(heater_duty={"left_foot": 0.45678}, fill_open={"left_foot": True},
                      vent_open={"left_foot": False}, pump_duty=0.61234, roller_speed={"left_calf": -0.33333},
                      relay_closed=True)
    stop = Fault.make("fill_failure", "left_thigh", 110.12345, "left thigh chamber did not fill")
    faults = [stop, Fault.make("chip_error", "pad:left_calf", 111.0, "left calf pad sensor chip keeps failing"),
              dataclasses.replace(stop, code="from_a_newer_version", severity=Severity.WARNING, message="a warning")]
    record = TickRecord(112.34567, runner.mode, readings, outputs, {"left_foot": 40.0, "left_calf": None},
                        {"left_foot": 40.04}, tuple(f.code for f in faults), ())
    return build_snapshot(7, record, runner, faults, lockout, "Quick circulation")


def test_the_published_json_of_one_tick_is_exactly_what_it_always_was(runner):
    """Written from the dict the snapshot builder returned before the typed model: every key,
    every rounding, NaN and infinity as null, warnings kept out of ``problem``."""
    published = one_tick(runner).json_ready()
    assert published == {
        "seq": 7, "t_s": 112.346, "mode": "running", "program": "quick_circulation",
        "program_name": "Quick circulation", "phase": "upward strokes", "phase_index": 0,
        "elapsed_s": 12.3, "remaining_s": 167.7, "intensity": 4, "heat_on": True,
        "profile": {"varicose_veins": False, "wound_or_infection": False, "suspected_clot": False,
                    "pregnancy": False, "numbness_or_poor_circulation": False, "unsure_or_recent_surgery": False,
                    "wound_or_infection_left": False, "wound_or_infection_right": False,
                    "numbness_or_poor_circulation_left": False, "numbness_or_poor_circulation_right": False},
        "relay_closed": True, "pump_duty": 0.612, "estop": False,
        "pads": {"left_foot": {"temp_c": 36.46, "temp2_c": 36.12, "target_c": 40.0, "duty": 0.457},
                 "left_calf": {"temp_c": None, "temp2_c": 36.0, "target_c": None, "duty": 0.0}},
        "chambers": {"left_foot": {"pressure_mmhg": 38.5, "target_mmhg": 40.0, "fill_open": True,
                                   "vent_open": False},
                     "left_thigh": {"pressure_mmhg": None, "target_mmhg": 0.0, "fill_open": False,
                                    "vent_open": True}},
        "rollers": {"left_calf": {"speed": -0.333, "current_a": 0.412}},
        "faults": [{"code": "fill_failure", "severity": "stop", "zone": "left_thigh", "t_s": 110.123,
                    "message": "left thigh chamber did not fill"},
                   {"code": "chip_error", "severity": "stop", "zone": "pad:left_calf", "t_s": 111.0,
                    "message": "left calf pad sensor chip keeps failing"},
                   {"code": "from_a_newer_version", "severity": "warning", "zone": "left_thigh", "t_s": 110.123,
                    "message": "a warning"}],
        "lockout": False, "selected_program": "quick_circulation", "last_session": None,
        "profile_confirmed": False, "profile_pending": None, "notice": None, "notices": [],
        "service": None, "minutes_today": {},
        "problem": True,
        "problem_text": "left thigh chamber did not fill; left calf pad sensor chip keeps failing",
        "notice_text": "", "pump_percent": None,
    }
    assert list(published) == STATE_KEYS
    json.dumps(published, allow_nan=False)  # strict JSON as it is


def test_a_latched_lockout_shows_as_the_mode(runner):
    published = one_tick(runner, lockout=True).json_ready()
    assert published["mode"] == "lockout" and published["lockout"] is True


def test_legctl_reads_back_exactly_what_was_published(runner):
    state = one_tick(runner)
    again = State.model_validate(json.loads(json.dumps(state.json_ready())))
    assert again == state and again.json_ready() == state.json_ready()
    assert again.faults[0].code is FaultCode.FILL_FAILURE and again.faults[2].code == "from_a_newer_version"


def test_the_state_from_the_hub_before_the_first_tick_has_every_key():
    assert list(State.starting().json_ready()) == STATE_KEYS
    assert State.starting().mode == "starting"


def test_the_real_machine_publishes_these_keys_in_every_mode(tmp_path):
    """The machine on the simulator, through a session that an emergency stop ends."""
    published: list[dict] = []

    async def during(sup):
        publish = sup.hub.publish_state

        def keep(state):
            publish(state)
            published.append(json.loads(json.dumps(state.json_ready(), allow_nan=False)))

        sup.hub.publish_state = keep

    run_sim(tmp_path, program="quick_circulation", injections=["estop@5"], max_runtime_s=8, trace=False,
            during=during)
    assert {"running", "fault"} <= {s["mode"] for s in published}
    for s in published:
        assert list(s) == STATE_KEYS and s["mode"] in MODES
        assert all(list(p) == PAD_KEYS for p in s["pads"].values()) and len(s["pads"]) == 4
        assert all(list(c) == CHAMBER_KEYS for c in s["chambers"].values()) and len(s["chambers"]) == 6
        assert all(list(r) == ROLLER_KEYS for r in s["rollers"].values()) and len(s["rollers"]) == 4
        assert all(list(f) == FAULT_KEYS for f in s["faults"])
    assert any(f["code"] == "estop" for s in published for f in s["faults"])


# --- one description of each value --------------------------------------------------------------

def test_every_published_value_is_described_once_and_every_description_is_published():
    assert [v.key for v in MACHINE_VALUES] == STATE_KEYS
    for zone, model, keys in ((Zone.PAD, PadState, PAD_KEYS), (Zone.CHAMBER, ChamberState, CHAMBER_KEYS),
                              (Zone.ROLLER, RollerState, ROLLER_KEYS)):
        values = ZONE_VALUES[zone]
        assert [v.key for v in values] == list(model.model_fields) == keys
        assert all(v.zone is zone for v in values)


def test_the_enums_are_the_runners_modes_and_the_fault_tables_codes():
    assert {m.value for m in Mode} == MODES
    assert {c.value for c in FaultCode} == set(FAULT_CODES)
    assert {m for m in Mode if m.in_session} == {Mode.RUNNING, Mode.PAUSED}
    assert f"{Mode.PAUSED}" == "paused" and json.dumps([Mode.PAUSED]) == '["paused"]'
