"""The state stream: live for a watcher, and harmless when the watcher stops reading."""

from __future__ import annotations

import asyncio
import json
import socket
import time

from controller.interfaces.socket_api import SocketApi
from controller.model.config import SocketSettings
from tests.fake_machine import make_state, wait_for


async def test_a_stream_sends_the_current_state_then_changes_and_events(connect, machine):
    watcher = await connect()
    answer = await watcher.ask({"request": "stream", "interval_s": 0.05})
    assert answer["ok"] is True and answer["streaming"] is True
    first = await watcher.read()
    assert first["state"]["mode"] == "idle"

    other = await connect()
    assert (await other.ask({"command": "start", "program": "quick_circulation"}))["ok"]
    seen_event = seen_running = False
    async with asyncio.timeout(5):
        while not (seen_event and seen_running):
            line = await watcher.read()
            seen_event |= line.get("event", {}).get("type") == "session_start"
            seen_running |= line.get("state", {}).get("mode") == "running"
    # the streaming connection still answers requests
    await watcher.send({"request": "ping"})
    async with asyncio.timeout(5):
        while "pong" not in await watcher.read():
            pass


async def test_state_lines_are_rate_limited_to_the_requested_interval(connect, machine, hub):
    watcher = await connect()
    await watcher.ask({"request": "stream", "interval_s": 0.2})
    states = 0

    async def count():
        nonlocal states
        while True:
            if "state" in await watcher.read():
                states += 1

    counter = asyncio.create_task(count())
    for _ in range(50):  # 50 snapshots over ~0.5 s: ten times faster than the client asked for
        machine.publish()
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    counter.cancel()
    assert 2 <= states <= 6, states


async def test_a_client_that_leaves_takes_its_subscriptions_with_it(connect, hub):
    watcher = await connect()
    await watcher.ask({"request": "stream"})
    await watcher.read()
    assert len(hub._state_subs) == 1
    await watcher.close()
    await wait_for(lambda: not hub._state_subs and not hub._event_subs)


async def test_a_client_that_never_reads_does_not_stall_the_machine(hub, short_dir, caplog):
    path = f"{short_dir}/slow.sock"
    api = SocketApi(SocketSettings(path=path, group=None), hub, outbox_size=4, drain_timeout_s=1.5)
    async with api:
        # a raw socket with a small receive buffer that sends one request and never reads again
        stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.setblocking(False)
        await asyncio.get_running_loop().sock_connect(stuck, path)
        stuck.sendall(b'{"request": "stream", "interval_s": 0.02}\n')
        await wait_for(lambda: len(hub._state_subs) == 1)
        stuck_box = api.outboxes[0]

        # the loop below plays the machine (no fake machine's small states in between): every
        # state is big, so a few lines fill the kernel's buffers
        big = make_state(program_name="x" * 50_000)
        line_bytes = len(json.dumps({"state": big.json_ready()})) + 1
        busy_s = 0.0
        for i in range(10_000):
            if i % 50 == 0:
                await asyncio.sleep(0.002)  # let the stream task run, as the scan cycle would between ticks
            t0 = time.perf_counter()
            hub.publish_state(big)
            busy_s += time.perf_counter() - t0
            assert len(stuck_box) <= 4
            assert stuck_box.pending_bytes() <= 10 * line_bytes, "memory held for a stuck client stays bounded"
            assert all(s._queue.qsize() <= 4 for s in hub._state_subs)
            if i == 5_000:  # other clients are served while this one is stuck
                reader, writer = await asyncio.open_unix_connection(path)
                writer.write(b'{"request": "ping"}\n')
                assert b"pong" in await asyncio.wait_for(reader.readline(), 1)
                assert len(api.outboxes) == 2, "the stuck client is still connected"
        assert busy_s < 1.0, f"publishing 10 000 snapshots took {busy_s:.2f} s of CPU"
        assert stuck_box.dropped > 0, "the stuck client's oldest states were dropped"

        # and the stuck client is cut off once it has not drained for the timeout
        await wait_for(lambda: len(api.outboxes) == 1, timeout=5)
        assert "has not read for 1.5 s: disconnecting" in caplog.text
        assert hub._state_subs == [], "its subscription went with it"
        writer.close()
        stuck.close()
