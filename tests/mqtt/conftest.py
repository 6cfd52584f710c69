"""A real MQTT broker for the bridge tests.

mosquitto when it is installed (CI installs it and sets LEGTHERAPY_REQUIRE_MOSQUITTO=1, so a
missing mosquitto there fails loudly instead of quietly testing against something else);
otherwise amqtt's broker, which ships with the test dependencies. LEGTHERAPY_TEST_BROKER=amqtt
forces the fallback (to check it on a machine that has mosquitto).

Broker tests run in real time: sockets do not fast-forward under looptime.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from bench.broker import LocalBroker, find_mosquitto


def pytest_configure(config: pytest.Config) -> None:
    # Harmless when the looptime plugin registers it too; avoids an unknown-mark warning when it is absent.
    config.addinivalue_line("markers", "looptime: configure the fake fast-forwarding loop time.")


def mosquitto_required() -> bool:
    """In CI (``CI=true``, or ``LEGTHERAPY_REQUIRE_MOSQUITTO=1``) the broker is mosquitto or the test fails."""
    return (os.environ.get("LEGTHERAPY_REQUIRE_MOSQUITTO") == "1"
            or os.environ.get("CI", "").lower() == "true")


def broker_kind() -> str | None:
    """The broker to run: None picks mosquitto when installed, else amqtt. Where mosquitto is
    required, a missing one (or a forced amqtt) fails the test: never a quiet fallback."""
    forced = os.environ.get("LEGTHERAPY_TEST_BROKER")
    if mosquitto_required():
        if not find_mosquitto():
            pytest.fail("mosquitto is required here (CI=true or LEGTHERAPY_REQUIRE_MOSQUITTO=1) but not "
                        "installed (apt-get install mosquitto)", pytrace=False)
        if forced and forced != "mosquitto":
            pytest.fail(f"LEGTHERAPY_TEST_BROKER={forced} contradicts the mosquitto requirement", pytrace=False)
        return "mosquitto"
    return forced or None


@pytest.fixture
def make_broker(tmp_path):
    """Start more brokers (e.g. a TLS one): ``make_broker(tls={...})``; all closed afterwards."""
    brokers: list[LocalBroker] = []

    def make(**options) -> LocalBroker:
        workdir = tmp_path / f"broker{len(brokers)}"
        workdir.mkdir()
        broker = LocalBroker(broker_kind(), workdir=workdir, **options)
        brokers.append(broker)
        broker.start()
        return broker

    yield make
    for broker in brokers:
        broker.close()


@pytest.fixture
def mqtt_broker(make_broker):
    """A running broker on a free loopback port: unpacks as ``(host, port)``; has ``stop()``,
    ``start()`` (same port) and their ``async_`` forms for use inside a running test."""
    return make_broker()


class Rig:
    """A fake machine behind a running bridge, and a probe client watching the broker."""

    def __init__(self, broker: LocalBroker, settings, hub, machine, bridge, probe) -> None:
        self.broker, self.settings, self.hub, self.machine, self.bridge, self.probe = (
            broker, settings, hub, machine, bridge, probe)
        self.topics = bridge.topics
        self.bridge_task: asyncio.Task | None = None
        self._n = 0

    def send(self, payload, *, retain: bool = False, probe=None) -> None:
        (probe or self.probe).publish(self.topics["cmd"], payload, retain=retain)

    async def command(self, payload: dict, timeout: float = 10.0, probe=None) -> dict:
        """Send a command with a fresh id and return its result."""
        self._n += 1
        payload = {"id": f"t{self._n}", **payload}
        probe = probe or self.probe
        start = len(probe.messages)
        self.send(payload, probe=probe)
        seen = await probe.wait_topic(self.topics["cmd_result"], start=start, timeout=timeout,
                                      where=lambda r: r["id"] == payload["id"])
        return seen.json()

    async def result_for(self, cmd_id, start: int = 0, timeout: float = 10.0) -> dict:
        seen = await self.probe.wait_topic(self.topics["cmd_result"], start=start, timeout=timeout,
                                           where=lambda r: r["id"] == cmd_id)
        return seen.json()


@pytest.fixture
async def rig(mqtt_broker):
    from controller.model.config import MqttSettings
    from controller.machine.hub import MachineHub
    from controller.interfaces.mqtt import MqttBridge
    from bench.mqtt_probe import MqttProbe
    from tests.fake_machine import CHAMBERS, PADS, ROLLERS, FakeMachine

    host, port = mqtt_broker
    settings = MqttSettings(host=host, port=port, device_id="testrig", state_interval_s=2.0)
    hub = MachineHub()
    machine = FakeMachine(hub)
    bridge = MqttBridge(settings, hub, pad_names=PADS, chamber_names=CHAMBERS, roller_names=ROLLERS,
                        sw_version="9.9.9-test")
    machine_task = asyncio.create_task(machine.run(), name="fake-machine")
    async with MqttProbe(host, port) as probe:
        r = Rig(mqtt_broker, settings, hub, machine, bridge, probe)
        r.bridge_task = asyncio.create_task(bridge.run(), name="mqtt-bridge")
        try:
            await probe.wait_topic(r.topics["availability"], b"online", timeout=15)
            yield r
        finally:
            for task in (r.bridge_task, machine_task):
                task.cancel()
            await asyncio.gather(r.bridge_task, machine_task, return_exceptions=True)
