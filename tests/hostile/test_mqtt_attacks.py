"""Attacks over MQTT: payloads built to break the parser, and a broker that goes away.

Real broker, real time (sockets do not fast-forward). Each attack payload is sent once a
second as in the report; after each, a valid command must still be answered at once on the
same link: no traceback, no dropped connection, no growing backoff.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from controller.model.config import MqttSettings
from controller.machine.hub import MachineHub
from controller.interfaces.mqtt import MqttBridge
from bench.mqtt_probe import MqttProbe
from tests.fake_machine import CHAMBERS, PADS, ROLLERS, FakeMachine

pytestmark = [pytest.mark.looptime(False)]

ATTACKS = {
    "nested_1500": ("[" * 1500 + "]" * 1500).encode(),
    "nested_object_1500": ('{"a":' * 1500 + "1" + "}" * 1500).encode(),
    "nested_inside_command": ('{"command":"stop","id":' + "[" * 1500 + "]" * 1500 + "}").encode(),
    "oversized": b'{"command":"stop","id":"' + b"x" * 200_000 + b'"}',
    "binary": bytes(range(256)) * 4,
    "not_utf8": b'{"command":"stop","id":"\xff\xfe"}',
    "nan": b'{"command":"set_intensity","intensity":NaN}',
    "overflow": b'{"command":"manual","output":"pump","value":1e999}',
    "empty": b"",
    "huge_int": b'{"command":"set_intensity","intensity":' + b"9" * 5000 + b"}",
}


#: each payload goes with a valid start and stop: three commands every SPACING_S keep to 15/s,
#: under the bridge's command rate limit (20/s), so every refusal is the payload's own
SPACING_S = 0.2


async def test_every_hostile_cmd_payload_is_refused_and_the_link_stays_up(rig, caplog):
    """The report's reproduction (a payload sent again and again, once a second), with all ten
    payloads on one link: three rounds, each payload once a round, 0.2 s apart. Each one is
    refused (``ok: false``), the next valid command is answered at once, and the link never
    drops or reconnects."""
    caplog.set_level(logging.WARNING)
    await rig.probe.wait_topic(rig.topics["state"])
    connections = rig.bridge.stats["connections"]
    loop = asyncio.get_running_loop()
    for round_ in range(3):
        for name in sorted(ATTACKS):
            began_s = loop.time()
            start = len(rig.probe.messages)
            rig.send(ATTACKS[name])
            refusal = (await rig.probe.wait_topic(rig.topics["cmd_result"], start=start, timeout=5)).json()
            assert refusal["ok"] is False and "rate limited" not in refusal["error"], (name, round_, refusal)
            answer = await rig.command({"command": "start", "program": "lymphatic"}, timeout=2)
            assert answer["ok"] is True, (name, round_, answer)  # the next valid command is answered at once
            await rig.command({"command": "stop"}, timeout=2)
            assert rig.bridge.connected.is_set(), (name, round_)
            assert rig.bridge.stats["connections"] == connections, f"the link dropped and reconnected after {name}"
            await asyncio.sleep(max(0.0, began_s + SPACING_S - loop.time()))
    assert rig.bridge.stats["connect_failures"] == 0
    assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records), caplog.text


async def test_the_link_is_back_within_2_s_of_the_broker_returning(mqtt_broker):
    """Before: the bridge slept out its backoff (4 s here, up to 30 s) after the broker was back."""
    host, port = mqtt_broker
    hub = MachineHub()
    machine = FakeMachine(hub)
    bridge = MqttBridge(MqttSettings(host=host, port=port, device_id="returns"), hub,
                        pad_names=PADS, chamber_names=CHAMBERS, roller_names=ROLLERS)
    tasks = [asyncio.create_task(machine.run()), asyncio.create_task(bridge.run())]
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(15):
            await bridge.connected.wait()
        await mqtt_broker.async_stop()
        async with asyncio.timeout(20):  # attempts after 1 s and 2 s fail: the next wait is 4 s
            while bridge.stats["connect_failures"] < 3:
                await asyncio.sleep(0.02)
        assert bridge.backoff.upcoming >= 8.0
        await mqtt_broker.async_start()
        back_s = loop.time()
        async with asyncio.timeout(10):
            await bridge.connected.wait()
        took_s = loop.time() - back_s
        print(f"reconnected {took_s:.2f} s after the broker returned")
        assert took_s < 2.0, f"reconnected {took_s:.1f} s after the broker returned"
        async with MqttProbe(host, port) as probe:
            await probe.wait_topic(bridge.topics["availability"], b"online", timeout=5)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_broker_that_answers_but_refuses_us_still_gets_the_full_backoff(mqtt_broker):
    """The probe must not turn backoff into hammering: a broker that answers on its port but
    refuses us (bad credentials, a duplicate id) is reachable, so the bridge waits out its backoff."""
    async def refusing(reader, writer):
        await reader.read(1024)  # the CONNECT
        writer.write(bytes([0x20, 0x02, 0x00, 0x05]))  # CONNACK: not authorised
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(refusing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    hub = MachineHub()
    bridge = MqttBridge(MqttSettings(host="127.0.0.1", port=port, device_id="refused"), hub,
                        pad_names=PADS, chamber_names=CHAMBERS, roller_names=ROLLERS)
    task = asyncio.create_task(bridge.run())
    try:
        await asyncio.sleep(3.5)  # attempts at 0, 1 and 3 s; the next is 4 s later
        assert bridge.stats["connect_failures"] == 3, bridge.stats
        assert bridge.stats["probe_hits"] == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        server.close()
        await server.wait_closed()
