"""Attacks on the technician socket from a local client: NaN durations, deep nesting, floods.

Each runs on the simulated machine with its real socket, and each asserts the machine's scan
cycle kept its rate: the attack cost the attacker its request, nothing more.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile

import pytest

from tests.hostile.rig import ask, run_with_socket


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999", "-1", "0", "1e6", "\"0.5\"", "true"])
def test_nan_stream_interval_is_refused_and_no_tick_is_late(tmp_path, value):
    async def attack(sup, path, data):
        reader, writer = await asyncio.open_unix_connection(path)
        line = b'{"request":"stream","interval_s":' + value.encode() + b'}\n'
        data["answer"] = await ask(reader, writer, line)
        await asyncio.sleep(15.0)  # machine time: the stall once came back every few seconds
        data["ping"] = await ask(reader, writer, {"request": "ping"})
        writer.close()

    run = run_with_socket(tmp_path / "state", attack)
    assert run.data["answer"]["ok"] is False
    error = run.data["answer"]["error"]
    assert "interval_s" in error, error
    assert run.data["ping"]["ok"] is True, "the connection still answers"
    run.assert_no_late_tick()


class LoopGaps:
    """A task ticking every 5 ms on the loop under test; the longest gap is how long the loop
    was held up (the scan cycle would have been held up as long)."""

    def __init__(self, period_s: float = 0.005) -> None:
        self.period_s = period_s
        self.max_gap_s = 0.0
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(self.period_s)
            now = loop.time()
            self.max_gap_s = max(self.max_gap_s, now - last)
            last = now

    def __enter__(self) -> "LoopGaps":
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc) -> None:
        self._task.cancel()


@pytest.fixture
async def api(tmp_path):
    from controller.interfaces.socket_api import SocketApi
    from controller.machine.hub import MachineHub
    from controller.model.config import SocketSettings
    from tests.fake_machine import FakeMachine

    sock_dir = tempfile.mkdtemp(prefix="lt-", dir="/tmp")
    hub = MachineHub()
    machine = FakeMachine(hub)
    task = asyncio.create_task(machine.run())
    server = SocketApi(SocketSettings(path=f"{sock_dir}/s.sock", group=None), hub, drain_timeout_s=5.0)
    await server.start()
    yield server
    await server.close()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    shutil.rmtree(sock_dir, ignore_errors=True)


@pytest.mark.looptime(False)
async def test_a_flood_of_20000_unread_requests_then_a_hang_up_does_not_hold_the_loop(api):
    reader, writer = await asyncio.open_unix_connection(api.path)
    writer.transport.set_write_buffer_limits(high=1 << 30)  # the attacker never waits
    writer.write(b'{"request":"status"}\n' * 20_000)
    await asyncio.sleep(1.0)  # the server reads until this client's outbox is full, then stops reading
    assert len(api.outboxes) == 1 and len(api.outboxes[0]) == api.outbox_size
    with LoopGaps() as gaps:
        writer.transport.abort()  # hang up with ~20 000 requests still queued
        for _ in range(200):
            await asyncio.sleep(0.01)
            if not api.outboxes:
                break
        await asyncio.sleep(0.2)
    assert not api.outboxes, "the connection was cleaned up"
    print(f"longest loop gap {gaps.max_gap_s * 1000:.1f} ms")
    assert gaps.max_gap_s < 0.04, f"the loop was held up {gaps.max_gap_s * 1000:.0f} ms (a scan period is 20 ms)"
    # and the server still serves others
    reader, writer = await asyncio.open_unix_connection(api.path)
    assert (await ask(reader, writer, {"request": "ping"}))["ok"] is True
    writer.close()


@pytest.mark.parametrize("line", [
    b'{"request":' + b"[" * 1500 + b"]" * 1500 + b"}",
    b"[" * 1500 + b"]" * 1500,
    b'{"command":"stop","id":' + b'{"a":' * 1500 + b"1" + b"}" * 1500 + b"}",
    b'{"request":"command","command":{"command":"manual","output":"pump","value":' + b"[" * 40 + b"]" * 40 + b"}}",
    b"\xff\xfe\x00garbage",
], ids=["deep_request", "deep_array", "deep_id", "deep_value", "not_utf8"])
def test_a_deeply_nested_or_binary_request_is_answered_and_the_connection_stays(tmp_path, line):
    async def attack(sup, path, data):
        reader, writer = await asyncio.open_unix_connection(path)
        data["answer"] = await ask(reader, writer, line + b"\n")
        data["ping"] = await ask(reader, writer, {"request": "ping"})
        writer.close()
        await asyncio.sleep(3.0)

    run = run_with_socket(tmp_path / "state", attack, program=None, max_runtime_s=30)
    assert run.data["answer"]["ok"] is False and run.data["answer"]["error"]
    assert run.data["ping"]["ok"] is True
    run.assert_no_late_tick()


@pytest.mark.parametrize("command", ["stop", "selftest"])
@pytest.mark.parametrize("value", ["NaN", "Infinity", "-1", "0", "1e9", "\"30\""])
def test_a_nan_command_timeout_is_refused_and_no_tick_is_late(tmp_path, command, value):
    async def attack(sup, path, data):
        reader, writer = await asyncio.open_unix_connection(path)
        line = b'{"request":"command","command":{"command":"' + command.encode() + b'"},"timeout_s":' + value.encode() + b"}\n"
        data["answer"] = await ask(reader, writer, line)
        await asyncio.sleep(10.0)
        writer.close()

    run = run_with_socket(tmp_path / "state", attack, program=None, max_runtime_s=60)
    assert run.data["answer"]["ok"] is False and "timeout_s" in run.data["answer"]["error"]
    run.assert_no_late_tick()
