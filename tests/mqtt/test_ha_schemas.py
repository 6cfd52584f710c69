"""Our discovery, checked by Home Assistant's own code instead of our reading of its docs.

Home Assistant 2024.1.6 (the newest release that installs on Python 3.11) runs in its own
venv (``ha_env``); ``ha_validate.py`` validates every component with that release's platform
``DISCOVERY_SCHEMA`` after merging the device payload the way device discovery (2024.11+)
does, and renders every template on real state JSON with Jinja, as Home Assistant does.

Keys a schema drops (``REMOVE_EXTRA``) are listed here with why they are still right:

* ``default_entity_id`` (``def_ent_id``): added in 2025.10 (the successor of the retired
  ``object_id``); older releases drop it and name the entity from the device and entity names.
* ``platform`` (``p``) and ``components`` (``cmps``): device discovery's own keys (2024.11),
  consumed before any platform schema sees the component; 2024.1's abbreviation table does not
  know them, nor ``def_ent_id``.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from controller.interfaces.discovery import QOS, discovery_messages
from controller.machine.hub import MachineHub
from controller.model.commands import Source, parse_command
from controller.model.config import MqttSettings, load_config
from controller.model.state import Mode
from programs.library import describe, load_library
from tests.fake_machine import FakeMachine, fault
from tests.mqtt.ha_env import ha_python

HERE = __import__("pathlib").Path(__file__).parent
#: every key Home Assistant 2024.1's schemas drop from our components, and nothing else
DROPPED_BY_2024_1 = ["default_entity_id"]
NEWER_ABBREVIATIONS = ["cmps", "def_ent_id", "p"]


def states() -> list[dict]:
    """Real state JSON: idle, running, a fault, and after a session."""
    machine = FakeMachine(MachineHub())
    idle = machine.state().json_ready()
    machine.mode, machine.program = Mode.RUNNING, "deep_tissue"
    running = machine.state().json_ready()
    machine.mode, machine.faults = Mode.FAULT, [fault("overtemp", zone="left_calf", message="pad at 45.3 °C")]
    faulted = machine.state().json_ready()
    after = {**idle, "last_session": {"program": "deep_tissue", "outcome": "completed", "minutes": 20.0,
                                      "reason": "program completed"},
             "service": {"pump_percent": 58.3, "reference": "rated", "pump_percent_before": 99.1,
                         "sessions_before": 20, "sessions": 21, "problem": None,
                         "leaks": {"left_thigh": {"leak_mmhg_per_s": 0.8, "times_commissioned": None}}},
             "pump_percent": 58.3, "minutes_today": {"left": 20.0, "right": 12.5}}
    return [idle, running, faulted, after]


@pytest.fixture(scope="module")
def checked():
    config = load_config()
    library, _ = load_library(limits=config.limits)
    payload = discovery_messages(MqttSettings(device_id="leg_1"), config.pad_names, config.chamber_names,
                                 config.roller_names, [describe(p) for p in library.values()], "1.2.3")[0][1]
    stripped = json.loads(json.dumps(payload))
    for component in stripped["cmps"].values():
        del component["qos"]  # the same payload relying on the root's qos alone
    python = ha_python()
    result = {}
    for name, body in (("ours", payload), ("root_qos_only", stripped)):
        run = subprocess.run([str(python), str(HERE / "ha_validate.py")], input=json.dumps(
            {"payload": body, "states": states()}), capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
        result[name] = json.loads(run.stdout)
    result["payload"] = payload
    return result


def test_it_is_home_assistant_2024_1(checked):
    assert checked["ours"]["version"].startswith("2024.1.")
    assert checked["ours"]["newer_abbreviations"] == NEWER_ABBREVIATIONS


def test_every_component_passes_its_platforms_discovery_schema(checked):
    components = checked["ours"]["components"]
    assert len(components) == len(checked["payload"]["cmps"]) >= 25
    errors = {cid: c["error"] for cid, c in components.items() if c["error"]}
    assert not errors


def test_the_schemas_drop_only_the_keys_listed_above(checked):
    dropped = {cid: c["dropped"] for cid, c in checked["ours"]["components"].items()}
    assert {cid: d for cid, d in dropped.items() if d != DROPPED_BY_2024_1} == {}


def test_every_control_and_sensor_is_at_qos_1_which_the_root_alone_does_not_give(checked):
    assert {c["qos"] for c in checked["ours"]["components"].values()} == {QOS} == {1}
    # device discovery does not pass the root's qos on (before 2026.6): without ours, QoS 0
    assert {c["qos"] for c in checked["root_qos_only"]["components"].values()} == {0}


def test_every_template_renders_on_real_states(checked):
    renders = checked["ours"]["renders"]
    for cid, options in renders.items():
        for option, texts in options.items():
            assert len(texts) == len(states()), (cid, option)
            assert all(t and "Undefined" not in t for t in texts), (cid, option, texts)
            if option == "json_attributes_template":
                assert all(isinstance(json.loads(t), dict) for t in texts), (cid, texts)
    idle, running, faulted, after = ({cid: o["value_template"][i] for cid, o in renders.items()
                                      if "value_template" in o} for i in range(4))
    assert idle["program"] == running["program"] == "quick_circulation", \
        "the select shows the chosen program, idle or running, never 'unknown'"
    assert (idle["mode"], running["mode"], faulted["problem"]) == ("idle", "running", "ON")
    assert idle["last_session"] == "None"
    assert after["last_session"] == "deep_tissue: completed, 20.0 min"
    # the service record's pump health and the daily record's minutes: unknown until measured
    assert (idle["pump_health"], idle["left_minutes_today"], idle["right_minutes_today"]) == ("None", "0", "0")
    assert (after["pump_health"], after["left_minutes_today"], after["right_minutes_today"]) == \
        ("58.3", "20.0", "12.5")
    assert json.loads(renders["pump_health"]["json_attributes_template"][3])["pump_percent_before"] == 99.1
    assert json.loads(renders["pump_health"]["json_attributes_template"][0]) == {}
    attributes = json.loads(renders["last_session"]["json_attributes_template"][3])
    assert attributes == {"program": "deep_tissue", "outcome": "completed", "minutes": 20.0,
                          "reason": "program completed"}


#: binary sensors' pl_on/pl_off are the states they read, not commands Home Assistant sends
BINARY_SENSORS = ("problem", "profile_confirmed", "profile_pending")


def test_every_command_home_assistant_would_send_is_accepted_and_none_starts_by_choosing(checked):
    commands = checked["ours"]["commands"]
    sent = [(cid, text) for cid, options in commands.items() for texts in options.values() for text in texts
            if cid not in BINARY_SENSORS]
    assert len(sent) >= 10
    parsed = {cid: [] for cid, _ in sent}
    for cid, text in sent:
        parsed[cid].append(parse_command(text, Source.MQTT))
    assert all(cmd.command == "select_program" for cmd in parsed["program"])
    assert [(c.command, c.program, c.intensity, c.heat) for c in parsed["start"]] == [("start", None, None, None)]
