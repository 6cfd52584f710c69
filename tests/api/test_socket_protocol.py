"""The technician socket speaks newline-delimited JSON and survives whatever a client sends."""

from __future__ import annotations

import asyncio
import grp
import json
import logging
import os
import socket
import stat

import pytest

from controller.interfaces.socket_api import MAX_LINE_BYTES, SocketApi, SocketApiError
from controller.model.config import SocketSettings


async def test_status_answers_with_the_machine_snapshot(connect, machine):
    client = await connect()
    answer = await client.ask({"request": "status"})
    assert answer["ok"] is True
    assert answer["state"]["mode"] == "idle"
    assert set(answer["state"]["chambers"]) >= {"left_foot", "left_calf", "left_thigh"}


async def test_ping_programs_and_fault_log(connect):
    client = await connect()
    assert await client.ask({"request": "ping", "id": "p1"}) == {"ok": True, "pong": True, "id": "p1"}
    programs = await client.ask({"request": "programs"})
    assert [p["id"] for p in programs["programs"]] == ["quick_circulation", "deep_tissue", "lymphatic"]
    faults = await client.ask({"request": "faults"})
    assert faults["ok"] and faults["faults"][0]["code"] == "over_temp"


async def test_a_command_reaches_the_machine_and_its_result_comes_back(connect, machine):
    client = await connect()
    answer = await client.ask({"request": "command", "command": {"command": "start", "program": "quick_circulation",
                                                                   "id": "c-1"}})
    assert answer == {"ok": True, "id": "c-1", "error": None, "data": None}
    cmd, source, peer = machine.received[-1]
    assert cmd.command == "start" and source.value == "socket" and peer == f"uid:{os.getuid()}"


async def test_a_bare_command_object_is_a_command_request(connect, machine):
    client = await connect()
    await client.ask({"command": "start", "program": "quick_circulation"})
    answer = await client.ask({"command": "stop"})
    assert answer["ok"] is True
    assert [c.command for c, _, _ in machine.received] == ["start", "stop"]


async def test_the_machines_refusal_reason_is_passed_on(connect):
    client = await connect()
    answer = await client.ask({"command": "pause"})
    assert answer["ok"] is False and "nothing to pause" in answer["error"]


async def test_an_invalid_command_is_refused_with_what_was_wrong(connect, machine):
    client = await connect()
    answer = await client.ask({"command": "start", "program": "quick_circulation", "intensity": 9, "id": "x"})
    assert answer["ok"] is False and answer["id"] == "x"
    assert "intensity" in answer["error"]
    answer = await client.ask({"request": "command", "command": {"command": "launch"}})
    assert "unknown command 'launch'" in answer["error"] and "start" in answer["error"]
    assert machine.received == []


@pytest.mark.parametrize("bad, expected", [
    (b"{not json\n", "not valid JSON"),
    (b"[1, 2]\n", "must be a JSON object"),
    (b'{"request": "reboot"}\n', "unknown request 'reboot'"),
    (b'{"hello": 1}\n', "missing field 'request'"),
    (b'{"request": "command", "command": "stop"}\n', "must be an object"),
])
async def test_a_bad_request_gets_an_error_and_the_connection_stays_usable(connect, bad, expected):
    client = await connect()
    answer = await client.ask(bad)
    assert answer["ok"] is False and expected in answer["error"]
    assert (await client.ask({"request": "ping"}))["ok"] is True


async def test_an_over_long_line_is_refused_and_its_rest_skipped(connect):
    client = await connect()
    # sent in pieces, so the server sees the limit pass before the newline arrives
    await client.send(b'{"request": "status", "pad": "' + b"x" * MAX_LINE_BYTES)
    await client.send(b"y" * MAX_LINE_BYTES + b'"}\n')
    answer = await client.read()
    assert answer["ok"] is False and "longer than 65536 bytes" in answer["error"]
    assert await client.ask({"request": "ping"}) == {"ok": True, "pong": True}


async def test_an_over_long_line_arriving_at_once_is_refused_once(connect):
    client = await connect()
    await client.send(b'{"request": "status", "pad": "' + b"x" * (2 * MAX_LINE_BYTES) + b'"}\n{"request": "ping"}\n')
    answer = await client.read()
    assert "longer than" in answer["error"]
    assert await client.read() == {"ok": True, "pong": True}


async def test_every_command_is_logged_with_the_senders_uid(connect, caplog):
    caplog.set_level(logging.INFO, logger="legtherapy.api")
    client = await connect()
    await client.ask({"command": "stop"})
    assert f"command stop from uid {os.getuid()}" in caplog.text


async def test_the_socket_file_is_group_readable_and_writable_only(server, sock_path):
    assert stat.S_IMODE(os.stat(sock_path).st_mode) == 0o660
    assert stat.S_ISSOCK(os.stat(sock_path).st_mode)


def _a_group_not_our_own() -> grp.struct_group:
    """A group the socket would not get by itself: not the process's group, so only a chown can
    hand the file to it (root may chown to any group, a user to the groups it is in)."""
    usable = [g for g in grp.getgrall() if g.gr_gid != os.getgid()
              and (os.geteuid() == 0 or g.gr_gid in os.getgroups())]
    assert usable, "the test needs root or a supplementary group (CI runs as root)"
    return usable[0]


async def test_the_socket_is_handed_to_the_configured_group(hub, short_dir):
    group = _a_group_not_our_own()
    path = f"{short_dir}/g.sock"
    async with SocketApi(SocketSettings(path=path, group=group.gr_name), hub):
        assert os.stat(path).st_gid == group.gr_gid != os.getgid()
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
    assert not os.path.exists(path), "close() removes the socket file"


async def test_a_missing_group_is_a_warning_naming_the_fix_not_a_failure(hub, short_dir, caplog):
    caplog.set_level(logging.WARNING, logger="legtherapy.api")
    path = f"{short_dir}/w.sock"
    async with SocketApi(SocketSettings(path=path, group="no_such_group_lt"), hub):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
    assert "sudo groupadd no_such_group_lt" in caplog.text


async def test_a_stale_socket_file_is_replaced(hub, short_dir):
    path = f"{short_dir}/stale.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(path)
    dead.close()  # the file stays behind, nobody listens: a crashed daemon's leftover
    async with SocketApi(SocketSettings(path=path, group=None), hub):
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(b'{"request": "ping"}\n')
        assert b"pong" in await asyncio.wait_for(reader.readline(), 5)
        writer.close()


async def test_a_second_daemon_on_the_same_socket_is_refused(server, hub, sock_path):
    with pytest.raises(SocketApiError, match="already listening"):
        await SocketApi(SocketSettings(path=sock_path, group=None), hub).start()


async def test_a_regular_file_in_the_way_is_not_deleted(hub, short_dir):
    path = f"{short_dir}/notasocket"
    with open(path, "w") as f:
        f.write("keep me")
    with pytest.raises(SocketApiError, match="not a socket"):
        await SocketApi(SocketSettings(path=path, group=None), hub).start()
    assert open(path).read() == "keep me"


async def test_clients_beyond_the_limit_are_refused_politely(hub, machine, short_dir):
    path = f"{short_dir}/m.sock"
    async with SocketApi(SocketSettings(path=path, group=None), hub, max_clients=1):
        r1, w1 = await asyncio.open_unix_connection(path)
        w1.write(b'{"request": "ping"}\n')
        assert b"pong" in await asyncio.wait_for(r1.readline(), 5)
        r2, w2 = await asyncio.open_unix_connection(path)
        answer = json.loads(await asyncio.wait_for(r2.readline(), 5))
        assert answer["ok"] is False and "too many clients" in answer["error"]
        assert await asyncio.wait_for(r2.readline(), 5) == b"", "the refused client is closed"
        w1.write(b'{"request": "ping"}\n')
        assert b"pong" in await asyncio.wait_for(r1.readline(), 5), "the first client is unaffected"
        w1.close()
        w2.close()
