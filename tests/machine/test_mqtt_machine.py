"""The home hub and the real daemon on the simulator, through a real broker (real time: sockets
do not fast-forward). A separate paho client plays the hub."""

import json
import threading
import time
import signal
import subprocess
import sys

import paho.mqtt.client as mqtt
import pytest

from bench.broker import LocalBroker

DEVICE = "e2e1"
BASE = f"legtherapy/{DEVICE}"


class Hub:
    """A paho client that records every message; waits scan what arrived (in any order) and
    block on new messages with a timeout — never a fixed sleep."""

    def __init__(self, host, port):
        self.history: list[tuple[str, bytes]] = []
        self.cond = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="e2e-hub")
        self.client.on_message = self._on_message
        # (re)subscribe on every connect: paho reconnects by itself after a broker restart
        self.client.on_connect = lambda c, u, f, rc, p=None: c.subscribe([(f"{BASE}/#", 1), ("homeassistant/#", 1)])
        self.client.connect(host, port)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg):
        with self.cond:
            self.history.append((msg.topic, msg.payload))
            self.cond.notify_all()

    def mark(self) -> int:
        with self.cond:
            return len(self.history)

    def wait_for(self, predicate, timeout=20.0, since=0):
        end = time.monotonic() + timeout
        i = since
        with self.cond:
            while True:
                while i < len(self.history):
                    topic, payload = self.history[i]
                    i += 1
                    if predicate(topic, payload):
                        return topic, payload
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching MQTT message in {timeout} s")
                self.cond.wait(left)

    def state(self, predicate, timeout=20.0, since=0):
        _, payload = self.wait_for(lambda t, p: t == f"{BASE}/state" and predicate(json.loads(p)), timeout, since)
        return json.loads(payload)

    def send(self, payload: dict):
        self.client.publish(f"{BASE}/cmd", json.dumps(payload), qos=1)

    def result(self, cmd_id, timeout=20.0):
        _, p = self.wait_for(lambda t, p: t == f"{BASE}/cmd/result" and json.loads(p).get("id") == cmd_id, timeout)
        return json.loads(p)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def broker(tmp_path):
    from tests.mqtt.conftest import broker_kind

    b = LocalBroker(broker_kind(), workdir=tmp_path)  # mosquitto in CI, or the test fails
    b.start()
    yield b
    b.close()


@pytest.fixture
def daemon(tmp_path, broker):
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller.app.cli", "run", "--sim", "--speed", "1", "--mqtt-host", broker.host,
         "--mqtt-port", str(broker.port), "--device-id", DEVICE, "--state-dir", str(tmp_path / "state"),
         "--log-level", "WARNING"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    yield proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_hub_starts_a_program_and_watches_state_move(broker, daemon):
    hub = Hub(*broker)
    try:
        hub.wait_for(lambda t, p: t == f"{BASE}/availability" and p == b"online")
        hub.wait_for(lambda t, p: t.startswith("homeassistant/") and t.endswith("/config"))
        hub.state(lambda s: s["mode"] == "idle")
        hub.send({"command": "start", "program": "quick_circulation", "intensity": 3, "id": "go"})
        res = hub.result("go")
        assert res["ok"] is True, res
        hub.state(lambda s: s["mode"] == "running" and s["program"] == "quick_circulation")
        hub.state(lambda s: s["chambers"]["left_foot"]["pressure_mmhg"] > 10, timeout=30)
        # bad input: a clear result, the machine keeps running
        hub.client.publish(f"{BASE}/cmd", b"{oops", qos=1)
        _, p = hub.wait_for(lambda t, p: t == f"{BASE}/cmd/result" and "JSON" in (json.loads(p).get("error") or ""))
        hub.send({"command": "reset_lockout", "id": "nope"})
        res = hub.result("nope")
        assert res["ok"] is False and "technician socket" in res["error"]
        hub.send({"command": "set_intensity", "intensity": 9, "id": "big"})
        assert "intensity" in hub.result("big")["error"]
        before = hub.state(lambda s: s["mode"] == "running", since=hub.mark())
        # the broker goes away mid-session and comes back: the machine carries on
        broker.stop()
        broker.start()
        since = hub.mark()
        hub.wait_for(lambda t, p: t == f"{BASE}/availability" and p == b"online", timeout=60, since=since)
        hub.wait_for(lambda t, p: t.startswith("homeassistant/") and t.endswith("/config"), timeout=30, since=since)
        s = hub.state(lambda s: True, timeout=30, since=since)
        assert s["mode"] == "running" and s["elapsed_s"] > before["elapsed_s"]
        hub.send({"command": "stop", "id": "halt"})
        assert hub.result("halt")["ok"]
        hub.state(lambda s: s["mode"] == "stopped")
        # killed hard: the broker publishes the last will
        since = hub.mark()
        daemon.kill()
        daemon.wait(timeout=20)
        hub.wait_for(lambda t, p: t == f"{BASE}/availability" and p == b"offline", timeout=60, since=since)
    finally:
        hub.close()
