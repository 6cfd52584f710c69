"""The command model at its edges (controller/model/commands.py): who may send what, and every
bound at the value the README states, as explicit examples (a boundary is tested on every run).

README (MQTT): remote commands can never clear a lockout or drive an output by hand:
``reset_lockout``, ``manual``, ``selftest``, ``calibrate_pressure``, ``autotune``, ``sim_inject``
are refused on MQTT with a reason; the same commands are taken from the panel, the technician
socket and the command line.
"""

from __future__ import annotations

import json

import pytest

from controller.model.commands import (
    COMMAND_NAMES,
    MAX_COMMAND_DEPTH,
    CommandError,
    CommandResult,
    Source,
    parse_command,
)

LOCAL_ONLY = {
    "reset_lockout": {"command": "reset_lockout"},
    "manual": {"command": "manual", "output": "pump", "value": 0.5},
    "selftest": {"command": "selftest"},
    "calibrate_pressure": {"command": "calibrate_pressure"},
    "autotune": {"command": "autotune", "pad": "left_calf"},
    "sim_inject": {"command": "sim_inject", "fault": "estop"},
    "confirm_profile": {"command": "confirm_profile"},  # relaxing the profile needs a person at the machine
    "commission": {"command": "commission"},
}
REMOTE_OK = {
    "start": {"command": "start", "program": "quick_circulation", "intensity": 3, "heat": True},
    "pause": {"command": "pause"},
    "resume": {"command": "resume"},
    "stop": {"command": "stop"},
    "set_intensity": {"command": "set_intensity", "intensity": 4},
    "set_heat": {"command": "set_heat", "on": False},
    "set_profile": {"command": "set_profile", "pregnancy": True},
    "ack": {"command": "ack"},
    "select_program": {"command": "select_program", "program": "quick_circulation"},
    "release_hold": {"command": "release_hold"},  # only ever gentler
    "skip_preheat": {"command": "skip_preheat"},
}
LOCAL_SOURCES = [Source.PANEL, Source.SOCKET, Source.CLI]
REFUSED_REMOTELY = "only accepted from the panel or the technician socket"


def test_the_two_lists_are_every_command():
    assert set(LOCAL_ONLY) | set(REMOTE_OK) == set(COMMAND_NAMES)
    assert len(COMMAND_NAMES) == len(set(COMMAND_NAMES)) == 19


@pytest.mark.parametrize("name", sorted(LOCAL_ONLY))
@pytest.mark.parametrize("as_bytes", [True, False], ids=["raw", "parsed"])
def test_technician_commands_are_refused_over_mqtt_with_the_reason(name, as_bytes):
    payload = LOCAL_ONLY[name]
    with pytest.raises(CommandError) as err:
        parse_command(json.dumps(payload).encode() if as_bytes else payload, Source.MQTT)
    assert str(err.value) == f"command {name!r} is {REFUSED_REMOTELY}"


@pytest.mark.parametrize("source", LOCAL_SOURCES, ids=lambda s: s.value)
@pytest.mark.parametrize("name", sorted(LOCAL_ONLY))
def test_technician_commands_are_taken_from_every_local_source(name, source):
    cmd = parse_command(LOCAL_ONLY[name], source)
    assert cmd.command == name and cmd.local_only is True


@pytest.mark.parametrize("source", [Source.MQTT, *LOCAL_SOURCES], ids=lambda s: s.value)
@pytest.mark.parametrize("name", sorted(REMOTE_OK))
def test_everyday_commands_are_taken_from_every_source(name, source):
    cmd = parse_command(json.dumps(REMOTE_OK[name]), source)
    assert cmd.command == name and cmd.local_only is False


def test_only_mqtt_is_remote():
    assert [s for s in Source if not s.is_local] == [Source.MQTT]


def test_the_local_flag_cannot_be_sent_and_is_never_echoed():
    for source in (Source.MQTT, Source.SOCKET):
        with pytest.raises(CommandError, match="^field 'local_only' is not part of a command$"):
            parse_command({"command": "stop", "local_only": False}, source)
    assert "local_only" not in parse_command({"command": "reset_lockout"}, Source.SOCKET).model_dump()


def refusal(payload, source=Source.MQTT) -> str:
    with pytest.raises(CommandError) as err:
        parse_command(payload, source)
    return str(err.value)


@pytest.mark.parametrize("intensity", [1, 2, 3, 4, 5])
def test_intensity_1_to_5_is_taken(intensity):
    assert parse_command({"command": "start", "program": "warm_up", "intensity": intensity}, Source.MQTT).intensity == intensity
    assert parse_command({"command": "set_intensity", "intensity": intensity}, Source.MQTT).intensity == intensity


@pytest.mark.parametrize("intensity,reason", [
    (0, "intensity: input should be greater than or equal to 1 (got 0)"),
    (6, "intensity: input should be less than or equal to 5 (got 6)"),
    (9, "intensity: input should be less than or equal to 5 (got 9)"),  # the README's example
    ("3", 'intensity: input should be a valid integer (got "3")'),
    (3.0, "intensity: input should be a valid integer (got 3.0)"),
    (True, "intensity: input should be a valid integer (got true)"),
])
def test_intensity_outside_1_to_5_or_not_an_integer_is_refused_naming_it(intensity, reason):
    assert refusal({"command": "start", "program": "warm_up", "intensity": intensity}) == reason


def test_start_defaults_and_program_ids():
    cmd = parse_command({"command": "start", "program": "a" * 64}, Source.MQTT)
    assert (cmd.intensity, cmd.heat, cmd.id, cmd.preheat) == (None, None, None, True)  # None: the machine's current setting
    assert refusal({"command": "start", "program": "a" * 65}).startswith("program: string should have at most 64")
    assert refusal({"command": "start", "program": ""}).startswith("program: string should have at least 1")
    assert refusal({"command": "start", "program": "Warm Up!"}).startswith("program: string should match pattern")


def test_an_id_of_64_characters_is_taken_65_refused():
    assert parse_command({"command": "stop", "id": "x" * 64}, Source.MQTT).id == "x" * 64
    assert refusal({"command": "stop", "id": "x" * 65}).startswith("id: string should have at most 64 characters")


@pytest.mark.parametrize("target_c", [30.0, 38.0, 42.0])
def test_autotune_targets_30_to_42_c_are_taken(target_c):
    assert parse_command({"command": "autotune", "pad": "left_calf", "target_c": target_c}, Source.SOCKET).target_c == target_c


@pytest.mark.parametrize("target_c,reason", [
    (29.9, "target_c: input should be greater than or equal to 30 (got 29.9)"),
    (42.1, "target_c: input should be less than or equal to 42 (got 42.1)"),
])
def test_autotune_targets_outside_30_to_42_c_are_refused(target_c, reason):
    assert refusal({"command": "autotune", "pad": "left_calf", "target_c": target_c}, Source.SOCKET) == reason


def test_autotune_defaults_to_38_c():
    assert parse_command({"command": "autotune", "pad": "left_calf"}, Source.SOCKET).target_c == 38.0


def test_a_payload_of_the_size_limit_is_parsed_one_byte_more_is_refused():
    base = json.dumps({"command": "stop", "id": ""})
    exact = base[:-1] + " " * (4096 - len(base)) + "}"
    assert len(exact) == 4096
    assert parse_command(exact, Source.MQTT).command == "stop"
    assert parse_command(exact.encode(), Source.MQTT).command == "stop"
    assert refusal(exact + " ") == "payload too large: 4097 bytes (limit 4096)"
    assert refusal((exact + " ").encode()) == "payload too large: 4097 bytes (limit 4096)"
    assert parse_command('{"command": "stop"}', Source.MQTT, max_bytes=19).command == "stop"
    with pytest.raises(CommandError, match=r"^payload too large: 20 bytes \(limit 19\)$"):
        parse_command('{"command": "stop"} ', Source.MQTT, max_bytes=19)


def test_a_missing_command_lists_the_commands():
    assert refusal(b"{}") == "missing field 'command' (one of: " + ", ".join(COMMAND_NAMES) + ")"
    assert refusal(b'{"command": null}') == "missing field 'command' (one of: " + ", ".join(COMMAND_NAMES) + ")"


def nested(depth: int):
    value = 1
    for _ in range(depth - 1):
        value = [value]
    return {"command": "stop", "x": value}  # the object is level 1


@pytest.mark.parametrize("as_text", [True, False], ids=["raw", "parsed"])
def test_nesting_to_the_depth_bound_reaches_validation_one_deeper_is_refused(as_text):
    at_bound = nested(MAX_COMMAND_DEPTH)
    beyond = nested(MAX_COMMAND_DEPTH + 1)
    to = json.dumps if as_text else (lambda p: p)
    assert refusal(to(at_bound)) == "x: unknown field"  # parsed: the depth bound let it through
    reason = refusal(to(beyond))
    assert reason.startswith("payload refused:") and "deeper than 4" in reason


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_an_already_parsed_payload_with_a_non_number_is_refused(bad):
    assert refusal({"command": "manual", "output": "pump", "value": bad}, Source.SOCKET) == \
        "payload refused: numbers must be finite (no NaN or Infinity)"


def test_an_already_parsed_payload_that_cannot_be_json_is_refused():
    assert refusal({"command": "stop", "id": {1, 2}}, Source.SOCKET).startswith("payload refused: Object of type set")


@pytest.mark.parametrize("payload,reason", [
    ([1, 2], 'payload must be a JSON object like {"command": "stop"}'),
    (b"[1, 2]", 'payload must be a JSON object like {"command": "stop"}'),
    ({"command": "dance"}, "unknown command 'dance' (one of: " + ", ".join(COMMAND_NAMES) + ")"),
    ({"command": "stop", "force": True}, "force: unknown field"),
    ({"command": "set_heat", "on": "yes"}, 'on: input should be a valid boolean (got "yes")'),
    ({"command": "set_profile", "pregnancy": 1}, "pregnancy: input should be a valid boolean (got 1)"),
    ({"command": "manual", "output": "pump"}, "value: field required (got null)"),
])
def test_malformed_commands_get_a_reason_naming_the_field(payload, reason):
    got = refusal(payload, Source.SOCKET)
    assert got == reason or (reason.startswith("value: field required") and got.startswith("value: field required"))


def test_several_problems_are_all_named():
    reason = refusal({"command": "start", "program": "", "intensity": 7})
    assert reason.split("; ") == ["program: string should have at least 1 character (got \"\")",
                                  "intensity: input should be less than or equal to 5 (got 7)"]


def test_a_structured_bad_value_is_named_by_its_type():
    assert refusal({"command": "set_heat", "on": [True]}) == "on: input should be a valid boolean (got list)"


def test_results_carry_the_id_and_the_reason():
    cmd = parse_command({"command": "stop", "id": "abc"}, Source.MQTT)
    assert CommandResult.accepted(cmd).model_dump() == {"id": "abc", "ok": True, "error": None, "data": None}
    assert CommandResult.accepted(cmd, {"n": 1}).data == {"n": 1}
    assert CommandResult.refused(cmd, "no").model_dump() == {"id": "abc", "ok": False, "error": "no", "data": None}
    assert CommandResult.refused(None, "no").id is None


def test_a_result_for_no_command_has_no_id():
    assert CommandResult.accepted(None).model_dump() == {"id": None, "ok": True, "error": None, "data": None}


def test_a_parsed_payload_too_deep_for_json_is_refused_naming_the_depth():
    deep: dict = {"command": "stop"}
    node = deep
    for _ in range(5000):
        node["x"] = {}
        node = node["x"]
    assert refusal(deep, Source.SOCKET) == "payload refused: nested deeper than 4 levels"


def test_a_long_bad_value_is_quoted_to_40_characters():
    reason = refusal({"command": "start", "program": "x" * 50 + "!"})
    assert reason.endswith('(got "' + "x" * 39 + ")")
