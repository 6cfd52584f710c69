"""Home Assistant discovery: the payload a Home Assistant instance would accept and use.

The schema facts below are Home Assistant's documented MQTT discovery rules (device-based
discovery, the abbreviation tables, each platform's required options, the units each
device_class allows); the tests hold our payload to them without needing Home Assistant.
"""

from __future__ import annotations

import json
import re

import pytest

from controller.model.commands import CommandError, Source, parse_command
from controller.model.config import MqttSettings, load_config
from controller.interfaces.discovery import discovery_messages, topics
from programs.library import describe, load_library
from tests.fake_machine import FakeMachine

# --- Home Assistant's documented schema (the parts we use) -------------------------------------

#: abbreviation -> full option name, for the keys of the payload root and of each component
ABBREVIATIONS = {
    "avty_t": "availability_topic", "pl_avail": "payload_available", "pl_not_avail": "payload_not_available",
    "cmd_t": "command_topic", "cmd_tpl": "command_template", "stat_t": "state_topic",
    "val_tpl": "value_template", "uniq_id": "unique_id", "def_ent_id": "default_entity_id",
    "obj_id": "object_id", "dev_cla": "device_class", "unit_of_meas": "unit_of_measurement",
    "stat_cla": "state_class", "ent_cat": "entity_category", "ic": "icon", "json_attr_t": "json_attributes_topic",
    "json_attr_tpl": "json_attributes_template", "pl_on": "payload_on", "pl_off": "payload_off",
    "stat_on": "state_on", "stat_off": "state_off", "pl_prs": "payload_press", "ops": "options",
    "sug_dsp_prc": "suggested_display_precision", "exp_aft": "expire_after", "en": "enabled_by_default",
    "ret": "retain", "opt": "optimistic", "dev": "device", "o": "origin", "cmps": "components", "p": "platform",
}
#: options that have no abbreviation
UNABBREVIATED = {"name", "qos", "min", "max", "step", "mode"}
DEVICE_ABBREVIATIONS = {"ids": "identifiers", "name": "name", "mf": "manufacturer", "mdl": "model",
                        "sw": "sw_version", "hw": "hw_version", "sn": "serial_number", "cu": "configuration_url",
                        "sa": "suggested_area", "cns": "connections", "mdl_id": "model_id"}
ORIGIN_ABBREVIATIONS = {"name": "name", "sw": "sw_version", "url": "support_url"}

COMMON = {"platform", "name", "unique_id", "default_entity_id", "icon", "entity_category", "qos",
          "json_attributes_topic", "json_attributes_template", "enabled_by_default"}
PLATFORMS = {  # platform: (required options, further allowed options)
    "sensor": ({"state_topic"}, {"value_template", "device_class", "unit_of_measurement", "state_class",
                                 "suggested_display_precision", "expire_after"}),
    "binary_sensor": ({"state_topic"}, {"value_template", "device_class", "payload_on", "payload_off",
                                        "expire_after"}),
    "button": ({"command_topic"}, {"command_template", "payload_press", "device_class", "retain"}),
    "select": ({"command_topic", "options"}, {"command_template", "state_topic", "value_template",
                                              "optimistic", "retain"}),
    "number": ({"command_topic"}, {"command_template", "state_topic", "value_template", "min", "max", "step",
                                   "mode", "unit_of_measurement", "device_class", "optimistic", "retain"}),
    "switch": ({"command_topic"}, {"state_topic", "value_template", "payload_on", "payload_off", "state_on",
                                   "state_off", "device_class", "optimistic", "retain"}),
}
SENSOR_UNITS = {  # device_class: the units Home Assistant accepts for it
    "temperature": {"°C", "°F", "K"},
    "pressure": {"Pa", "hPa", "kPa", "bar", "cbar", "mbar", "mmHg", "inHg", "psi"},
    "current": {"A", "mA"},
    "duration": {"d", "h", "min", "s", "ms"},
}
BINARY_SENSOR_CLASSES = {"problem", "running", "heat", "power", "safety", "connectivity"}
ENTITY_CATEGORIES = {"config", "diagnostic"}
STATE_CLASSES = {"measurement", "total", "total_increasing", "measurement_angle"}
ID_CHARS = re.compile(r"^[a-zA-Z0-9_-]+$")


# --- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def config():
    return load_config()


@pytest.fixture(scope="module")
def programs(config):
    library, errors = load_library(limits=config.limits)
    assert library, errors
    return [describe(p) for p in library.values()]


@pytest.fixture(scope="module")
def settings():
    return MqttSettings(device_id="legtherapy1")


@pytest.fixture(scope="module")
def messages(settings, config, programs):
    return discovery_messages(settings, config.pad_names, config.chamber_names, config.roller_names,
                              programs, "1.2.3")


@pytest.fixture(scope="module")
def payload(messages):
    assert len(messages) == 1, "one device-based discovery message for the whole machine"
    return messages[0][1]


@pytest.fixture(scope="module")
def components(payload):
    return payload["cmps"]


def expanded(options: dict) -> dict:
    return {ABBREVIATIONS.get(k, k): v for k, v in options.items()}


def by_platform(components, platform):
    return {k: expanded(c) for k, c in components.items() if c["p"] == platform}


# --- the message ---------------------------------------------------------------------------------

def test_one_retained_device_message_on_the_device_discovery_topic(messages, settings):
    topic, payload = messages[0]
    assert topic == f"homeassistant/device/{settings.device_id}/config" == topics(settings)["discovery"]
    assert re.fullmatch(r"homeassistant/device/[a-zA-Z0-9_-]+/config", topic)
    text = json.dumps(payload)  # JSON-serialisable as is
    # What a broker limits is the bytes on the wire: the bridge sends compact JSON. Brokers'
    # defaults are far above this (mosquitto: no limit, EMQX: 1 MB); the bound only guards
    # against runaway growth of the one retained message (41 components: ~16.4 kB).
    wire = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
    assert len(wire) < 32_768, "small enough for any broker's default packet limit"


def test_device_and_origin_blocks_are_complete(payload):
    dev, origin = payload["dev"], payload["o"]
    assert set(dev) <= set(DEVICE_ABBREVIATIONS) and set(origin) <= set(ORIGIN_ABBREVIATIONS)
    assert dev["ids"] and dev["name"] and dev["mf"] and dev["mdl"]
    assert dev["sw"] == origin["sw"] == "1.2.3"
    assert origin["name"]


def test_availability_is_bound_to_the_bridges_availability_topic(payload, settings):
    assert payload["avty_t"] == topics(settings)["availability"] == "legtherapy/legtherapy1/availability"
    assert (payload["pl_avail"], payload["pl_not_avail"]) == ("online", "offline")  # what the bridge sends


def test_abbreviations_are_used_consistently_and_every_key_is_known(payload, components):
    known = set(ABBREVIATIONS) | UNABBREVIATED
    full_forms_with_abbreviation = set(ABBREVIATIONS.values()) - UNABBREVIATED
    for where, options in [("root", payload), *components.items()]:
        assert set(options) <= known, f"{where}: unknown keys {set(options) - known}"
        assert not set(options) & full_forms_with_abbreviation, f"{where}: mixes long and short keys"
        assert "obj_id" not in options and "object_id" not in options, f"{where}: retired object_id"


# --- each entity ---------------------------------------------------------------------------------

def test_every_component_has_a_platform_its_required_options_and_nothing_foreign(components):
    for key, raw in components.items():
        assert ID_CHARS.match(key), key
        options = expanded(raw)
        platform = options["platform"]
        assert platform in PLATFORMS, f"{key}: platform {platform!r}"
        required, allowed = PLATFORMS[platform]
        assert required <= set(options), f"{key}: missing {required - set(options)}"
        assert set(options) <= COMMON | required | allowed, f"{key}: {set(options) - COMMON - required - allowed}"


def test_unique_ids_are_unique_and_default_entity_ids_name_their_platform(components, settings, config, programs):
    unique_ids = [c["uniq_id"] for c in components.values()]
    assert len(unique_ids) == len(set(unique_ids))
    for key, c in components.items():
        assert re.fullmatch(rf"{c['p']}\.[a-z0-9_]+", c["def_ent_id"]), c["def_ent_id"]
    other = discovery_messages(MqttSettings(device_id="second_machine"), config.pad_names, config.chamber_names,
                               config.roller_names, programs, "1.2.3")[0][1]["cmps"]
    assert not {c["uniq_id"] for c in other.values()} & set(unique_ids), "two machines never share ids"


def test_device_classes_units_and_state_classes_are_valid_pairs(components):
    for key, c in by_platform(components, "sensor").items():
        cls, unit = c.get("device_class"), c.get("unit_of_measurement")
        if cls is not None:
            assert cls in SENSOR_UNITS, f"{key}: device_class {cls!r}"
            assert unit in SENSOR_UNITS[cls], f"{key}: {unit!r} is not a {cls} unit"
        if "state_class" in c:
            assert c["state_class"] in STATE_CLASSES and unit, f"{key}: measurement needs a unit"
    for key, c in by_platform(components, "binary_sensor").items():
        assert c.get("device_class", "problem") in BINARY_SENSOR_CLASSES
    for c in map(expanded, components.values()):
        assert c.get("entity_category", "diagnostic") in ENTITY_CATEGORIES


def test_the_machine_shows_a_temperature_per_pad_and_a_pressure_per_chamber(components, config):
    sensors = by_platform(components, "sensor")
    temps = {k: c for k, c in sensors.items() if c.get("device_class") == "temperature"}
    pressures = {k: c for k, c in sensors.items() if c.get("device_class") == "pressure"}
    assert len(temps) == len(config.pad_names) and len(pressures) == len(config.chamber_names)
    assert all(c["unit_of_measurement"] == "°C" and c["state_class"] == "measurement" for c in temps.values())
    assert all(c["unit_of_measurement"] == "mmHg" for c in pressures.values())
    for zone in config.pad_names:
        assert any(f'pads["{zone}"].temp_c' in c["value_template"] for c in temps.values()), zone
    for zone in config.chamber_names:
        assert any(f'chambers["{zone}"].pressure_mmhg' in c["value_template"] for c in pressures.values()), zone


def test_state_templates_read_fields_the_state_snapshot_has(components, settings, config):
    from controller.machine.hub import MachineHub

    snapshot = FakeMachine(MachineHub()).state().json_ready()  # the JSON the bridge publishes
    path = re.compile(r'value_json((?:\.[a-z_]+|\["[^"]+"\])+)')
    for key, c in map(lambda kv: (kv[0], expanded(kv[1])), components.items()):
        for option in ("value_template", "json_attributes_template"):
            for match in path.finditer(c.get(option, "")):
                node = snapshot
                for name, quoted in re.findall(r'\.([a-z_]+)|\["([^"]+)"\]', match.group(1)):
                    node = node[name or quoted]  # KeyError: the template reads a field that is not there
        if "state_topic" in c:
            assert c["state_topic"] == topics(settings)["state"], key
        if "json_attributes_topic" in c:
            assert c["json_attributes_topic"] == topics(settings)["state"], key


def test_every_control_sends_a_command_the_machine_accepts_from_mqtt(components, settings, programs):
    cmd_topic = topics(settings)["cmd"]
    controls = {k: expanded(c) for k, c in components.items() if "cmd_t" in c}
    assert {"program", "start", "pause", "resume", "stop", "intensity", "heat"} <= set(controls)
    assert all(c["command_topic"] == cmd_topic for c in controls.values())

    def parses(text: str):
        return parse_command(text, Source.MQTT, settings.max_payload_bytes)

    for key, c in by_platform(components, "button").items():
        assert parses(c["payload_press"]).command == key
    start = parses(controls["start"]["payload_press"])
    assert (start.program, start.intensity, start.heat) == (None, None, None), \
        "Start starts the chosen program with the machine's own intensity and heat"

    heat = controls["heat"]
    assert parses(heat["payload_on"]).on is True and parses(heat["payload_off"]).on is False
    assert (heat["state_on"], heat["state_off"]) == ("ON", "OFF")
    assert "heat_on" in heat["value_template"]

    select = controls["program"]
    assert select["options"] == [p["id"] for p in programs]
    assert select["command_template"].count("{{") == 1 and "{{ value }}" in select["command_template"]
    for option in select["options"]:
        cmd = parses(select["command_template"].replace("{{ value }}", option))
        assert (cmd.command, cmd.program) == ("select_program", option), "choosing never starts"

    number = controls["intensity"]
    assert (number["min"], number["max"], number["step"]) == (1, 5, 1)
    assert number["command_template"].count("{{") == 1 and "{{ value|int }}" in number["command_template"]
    for value in range(1, 6):
        assert parses(number["command_template"].replace("{{ value|int }}", str(value))).intensity == value
    with pytest.raises(CommandError):  # a hand-edited value out of range is still refused by the machine
        parses(number["command_template"].replace("{{ value|int }}", "9"))


def test_the_problem_sensor_carries_the_fault_text(components):
    problem = expanded(components["problem"])
    assert problem["platform"] == "binary_sensor" and problem["device_class"] == "problem"
    assert "value_json.problem" in problem["value_template"]
    assert (problem.get("payload_on", "ON"), problem.get("payload_off", "OFF")) == ("ON", "OFF")
    assert "problem_text" in problem["json_attributes_template"]
    text = expanded(components["problem_text"])
    assert text["platform"] == "sensor" and "problem_text" in text["value_template"]
    mode = expanded(components["mode"])
    assert mode["value_template"] == "{{ value_json.mode }}"


def test_no_control_can_clear_a_lockout_or_drive_an_output(payload):
    text = json.dumps(payload)
    for local_only in ("reset_lockout", "manual", "calibrate_pressure", "autotune", "selftest", "sim_inject"):
        assert local_only not in text


def test_without_programs_there_is_no_program_picker_but_the_rest_works(settings, config):
    (topic, payload), = discovery_messages(settings, config.pad_names, config.chamber_names,
                                           config.roller_names, [], "1.2.3")
    assert "program" not in payload["cmps"] and "start" not in payload["cmps"]
    assert {"pause", "resume", "stop", "intensity", "heat"} <= set(payload["cmps"])


@pytest.mark.parametrize("pads", [["left foot", "left_foot"], ['le"ft'], ["{{ 7*7 }}"], [""]])
def test_zone_names_that_would_break_templates_or_ids_are_refused(settings, pads):
    with pytest.raises(ValueError, match="discovery"):
        discovery_messages(settings, pads, [], [], [], "1")
