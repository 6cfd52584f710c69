"""Property-based fuzzing of every edge where text becomes numbers: the config loader, the
program loader, the socket protocol and the MQTT command parser, with random and adversarial
input (NaN, infinity, overflow, deep nesting, binary, wrong types, huge numbers).

The properties: no exception but the edge's own refusal escapes; nothing accepted carries a
non-finite number; and on a running simulated machine, a random stream of such requests on
the socket never makes a tick late.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.interfaces import socket_api
from controller.interfaces.mqtt import MqttBridge
from controller.machine.hub import MachineHub
from controller.model.bounded_json import JsonRefused, loads as bounded_loads
from controller.model.commands import COMMAND_NAMES, CommandError, Source, parse_command
from controller.model.config import DEFAULT_CONFIG_PATH, ConfigError, MqttSettings, SocketSettings, load_config
from programs.library import load_program
from programs.schema import ProgramError
from tests.fake_machine import CHAMBERS, PADS, ROLLERS, FakeMachine
from tests.hostile.rig import run_with_socket
from tests.programs.test_program_files import _toml_value, good

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- strategies ----------------------------------------------------------------------------

SPECIAL_FLOATS = [math.nan, math.inf, -math.inf, 1e308, -1.0, 0.0, -0.0, 5e-324]
hostile_floats = st.one_of(st.sampled_from(SPECIAL_FLOATS), st.floats(allow_nan=True, allow_infinity=True))
hostile_numbers = st.one_of(hostile_floats, st.integers(), st.integers(min_value=10**30, max_value=10**60))
json_leaves = st.one_of(st.none(), st.booleans(), hostile_numbers, st.text(max_size=20))
json_values = st.recursive(json_leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)


@st.composite
def deep_text(draw) -> str:
    # hypothesis favours small integers: name the depths that matter (the parsers' recursion
    # limit is ~1000, an MQTT payload holds ~2000 levels in 4 kB)
    n = draw(st.one_of(st.sampled_from([33, 999, 1001, 1500, 2000, 5000]), st.integers(min_value=1, max_value=5000)))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    inner = "1" if opener != "[" else ""
    return opener * n + inner + closer * n


@st.composite
def command_objects(draw, names=COMMAND_NAMES) -> dict:
    cmd = {"command": draw(st.one_of(st.sampled_from(names), json_values))}
    fields = ["id", "program", "intensity", "heat", "on", "output", "value", "pad", "target_c", "fault", "zone",
              "varicose_veins", "local_only"]
    for name in draw(st.lists(st.sampled_from(fields), max_size=4, unique=True)):
        cmd[name] = draw(st.one_of(json_values, st.sampled_from(["quick_circulation", "pump", "left_calf"]),
                                   st.integers(1, 5)))
    return cmd


@st.composite
def socket_lines(draw, names=COMMAND_NAMES) -> bytes:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.binary(max_size=200)).replace(b"\n", b" ")
    if kind == 1:
        return draw(deep_text()).encode()
    if kind == 2:
        return json.dumps(draw(command_objects(names))).encode()
    request = {"request": draw(st.one_of(st.sampled_from(socket_api.REQUESTS), json_values))}
    if kind == 3:
        request["request"] = "stream"
        request["interval_s"] = draw(st.one_of(st.sampled_from(SPECIAL_FLOATS), hostile_numbers, json_values))
    if kind == 4:
        request["command"] = draw(command_objects(names))
        request["timeout_s"] = draw(st.one_of(st.sampled_from(SPECIAL_FLOATS), hostile_numbers, json_values))
    if draw(st.booleans()):
        request["id"] = draw(json_values)
    return json.dumps(request).encode()  # json.dumps writes NaN, Infinity: exactly the attack


def all_floats_finite(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(all_floats_finite(v) for v in value.values())
    if isinstance(value, (list, tuple, set)):
        return all(all_floats_finite(v) for v in value)
    return True


# --- the config loader ---------------------------------------------------------------------

DEFAULT = DEFAULT_CONFIG_PATH.read_text()
ASSIGNMENTS = [m for m in re.finditer(r"(?m)^(\s*[A-Za-z_][\w]*\s*=\s*)(.+)$", DEFAULT)]
toml_values = st.one_of(hostile_numbers.map(_toml_value), st.sampled_from(["nan", "inf", "-inf", "+nan", "1e999"]),
                        deep_text().map(lambda t: t.replace('{"a":', "{a=")), st.text(max_size=30).map(json.dumps),
                        st.binary(max_size=30).map(lambda b: b.decode("latin-1")))


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(ASSIGNMENTS) - 1), toml_values), min_size=1, max_size=3))
def test_fuzzed_config_files_load_finite_or_are_refused(edits):
    text = DEFAULT
    for index, value in sorted(edits, key=lambda e: -ASSIGNMENTS[e[0]].start()):
        m = ASSIGNMENTS[index]
        text = text[:m.start(2)] + value + text[m.end(2):] if len(text) == len(DEFAULT) else text
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "machine.toml"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        try:
            cfg = load_config(path)
        except ConfigError:
            return
    assert all_floats_finite(cfg.model_dump())


# --- the program loader --------------------------------------------------------------------

def _leaf_paths(value, prefix=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaf_paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaf_paths(v, prefix + (i,))
    yield prefix


PROGRAM_PATHS = [p for p in _leaf_paths(good()) if p and p != ("id",)]
toml_safe = st.recursive(st.one_of(st.booleans(), hostile_numbers.filter(lambda x: not isinstance(x, int)
                                                                          or abs(x) < 2**63),
                                   st.text(max_size=10)),
                         lambda inner: st.lists(inner, max_size=3), max_leaves=6)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(PROGRAM_PATHS), toml_safe), min_size=1, max_size=3))
def test_fuzzed_program_files_load_finite_or_are_refused(edits):
    data = good()
    for path, value in edits:
        target = data
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    with tempfile.TemporaryDirectory() as d:
        file = Path(d) / "sample.toml"
        file.write_text("\n".join(f"{k} = {_toml_value(v)}" for k, v in data.items()) + "\n")
        try:
            program = load_program(file)
        except ProgramError:
            return
    assert all_floats_finite(program.model_dump())


@FUZZ
@given(deep_text())
def test_deeply_nested_program_and_config_files_are_refused_not_a_recursion_error(text):
    toml = "x = " + text.replace('{"a":', "{a=")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "sample.toml"
        path.write_text(toml)
        try:
            load_program(path)
        except ProgramError:
            pass
        try:
            load_config(path)
        except ConfigError:
            pass


# --- the MQTT command parser ---------------------------------------------------------------

mqtt_payloads = st.one_of(st.binary(max_size=300), deep_text().map(str.encode),
                          command_objects().map(lambda c: json.dumps(c).encode()),
                          json_values.map(lambda v: json.dumps(v).encode()))


@FUZZ
@given(mqtt_payloads)
def test_fuzzed_mqtt_commands_parse_finite_or_raise_only_command_error(payload):
    try:
        cmd = parse_command(payload, Source.MQTT, 4096)
    except CommandError as err:
        assert str(err)
        return
    assert all_floats_finite(cmd.model_dump())
    assert not cmd.local_only, "a technician command got in over MQTT"


@FUZZ
@given(st.lists(mqtt_payloads, min_size=1, max_size=10))
def test_fuzzed_mqtt_payloads_never_escape_the_bridge_and_every_one_is_answered(payloads):
    async def main():
        hub = MachineHub()
        bridge = MqttBridge(MqttSettings(host="127.0.0.1", port=1, device_id="fuzz", max_commands_per_s=1000),
                            hub, pad_names=PADS, chamber_names=CHAMBERS, roller_names=ROLLERS)
        refused_before = 0
        for payload in payloads:
            bridge._on_command(payload)  # raises nothing, whatever it is
            refused_now = bridge.stats["refused"]
            assert refused_now >= refused_before
            refused_before = refused_now
        for task in list(bridge._in_flight):
            task.cancel()
        for _, body in bridge._outbox:
            answer = json.loads(body)  # every result is strict JSON
            assert answer["ok"] is False and answer["error"]
        assert bridge.stats["refused"] + len(bridge._in_flight) <= len(payloads)

    asyncio.run(main())


# --- the socket protocol -------------------------------------------------------------------

class _StubWriter:
    def get_extra_info(self, name):
        return None


@FUZZ
@given(st.lists(socket_lines(), min_size=1, max_size=8))
def test_fuzzed_socket_requests_always_get_a_strict_answer(lines):
    async def main():
        hub = MachineHub()
        machine = FakeMachine(hub)
        machine_task = asyncio.create_task(machine.run())
        api = socket_api.SocketApi(SocketSettings(path="/nonexistent/x.sock", group=None), hub)
        try:
            for line in lines:
                conn = socket_api._Connection(api, None, _StubWriter())
                answer = await asyncio.wait_for(conn._answer(line), 5)
                for task in conn.stream_tasks:
                    task.cancel()
                if answer is None:  # a blank line, or a stream that started (its answer is queued)
                    assert not line.strip() or conn.stream_tasks
                    continue
                assert isinstance(answer.get("ok"), bool)
                assert answer["ok"] or answer.get("error")
                encoded = socket_api.encode(answer)
                bounded_loads(encoded, max_bytes=1 << 24)  # strict JSON: no NaN in any answer
        finally:
            machine_task.cancel()
            await asyncio.gather(machine_task, return_exceptions=True)

    asyncio.run(main())


@FUZZ
@given(st.one_of(hostile_numbers, json_values))
def test_stream_intervals_are_finite_and_in_range_or_refused(value):
    try:
        interval = socket_api.seconds_field(value, "interval_s", socket_api.MIN_STREAM_INTERVAL_S,
                                            socket_api.MAX_STREAM_INTERVAL_S)
    except ValueError as err:
        assert "interval_s" in str(err)
        return
    assert math.isfinite(interval) and socket_api.MIN_STREAM_INTERVAL_S <= interval <= socket_api.MAX_STREAM_INTERVAL_S


@FUZZ
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200), deep_text(), json_values.map(json.dumps)))
def test_bounded_json_refuses_or_returns_finite_json(data):
    try:
        value = bounded_loads(data, max_bytes=64 * 1024, max_depth=32)
    except JsonRefused:
        return
    assert all_floats_finite(value)


# --- on a running simulated machine --------------------------------------------------------

MACHINE_SAFE_COMMANDS = tuple(n for n in COMMAND_NAMES if n != "sim_inject")  # injecting a bus hang is the point of it


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(socket_lines(MACHINE_SAFE_COMMANDS), min_size=30, max_size=60))
def test_a_running_machine_keeps_its_scan_rate_under_fuzzed_socket_requests(lines):
    async def attack(sup, path, data):
        writers = []
        for start in range(0, len(lines), 5):  # several clients: each may start one stream
            _reader, writer = await asyncio.open_unix_connection(path, limit=1 << 22)
            writer.write(b"\n".join(lines[start:start + 5]) + b"\n")
            await writer.drain()
            writers.append(writer)
        await asyncio.sleep(5.0)
        for writer in writers:
            writer.close()
        await asyncio.sleep(1.0)

    with tempfile.TemporaryDirectory() as d:
        run = run_with_socket(Path(d) / "state", attack, program="warm_up", max_runtime_s=60)
    run.assert_no_late_tick()
