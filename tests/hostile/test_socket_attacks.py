"""Attacks on the technician socket from a local client: NaN durations, deep nesting, floods.

Each runs on the simulated machine with its real socket, and each asserts the machine's scan
cycle kept its rate: the attack cost the attacker its request, nothing more.
"""

from __future__ import annotations

import asyncio

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
