"""Stand-ins for the MQTT tests and the latency bench: a machine, a broker and a client.

* ``FakeMachine`` plays the supervisor's part towards a ``MachineHub``: it ticks (publishing
  a snapshot each tick, like the real 50 Hz scan cycle), consumes ``hub.commands`` and answers
  each command's future, keeps a mode (idle / running / paused) and emits session events. The
  MQTT bridge can then be tested without the real supervisor; the lead's end-to-end test uses
  the real simulated machine.
* ``LocalBroker`` runs a real broker on a free loopback port as a subprocess: mosquitto when it
  is installed, else amqtt's broker. It can be stopped and started again on the same port,
  which is how the tests take the broker away from a running bridge.
* ``MqttProbe`` is an independent paho-mqtt client on its own thread: it records everything it
  sees and lets a test await a matching message with a timeout.

Run as a script (``python -m tests.mqtt.fake_machine --port N``) it is a whole machine behind a
bridge in its own process, so a test can kill it with SIGKILL and watch the last will arrive.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from controller.model.commands import CommandResult
from controller.machine.hub import MachineHub

PADS = ("left_foot", "left_calf", "right_foot", "right_calf")
CHAMBERS = ("left_foot", "left_calf", "left_thigh", "right_foot", "right_calf", "right_thigh")
ROLLERS = ("left_foot", "left_calf", "right_foot", "right_calf")
PROGRAMS = (
    {"id": "quick_circulation", "name": "Quick circulation", "duration_s": 180.0, "summary": "3-minute routine",
     "for_whom": ["standing jobs"], "category": "circulation", "deep": False},
    {"id": "lymphatic", "name": "Lymphatic drainage", "duration_s": 1200.0, "summary": "gentle, slow waves",
     "for_whom": ["swelling"], "category": "drainage", "deep": False},
    {"id": "deep_tissue", "name": "Deep tissue", "duration_s": 900.0, "summary": "strong pressure",
     "for_whom": ["athletes"], "category": "deep", "deep": True},
)


class FakeMachine:
    """Just enough machine to answer commands and show it is alive."""

    def __init__(self, hub: MachineHub, *, tick_s: float = 0.02, programs=PROGRAMS,
                 on_apply: Callable[[Any], None] | None = None) -> None:
        self.hub = hub
        self.tick_s = tick_s
        self.programs = [dict(p) for p in programs]
        self.on_apply = on_apply
        hub.program_lister = lambda: [dict(p) for p in self.programs]
        self.mode = "idle"
        self.program: str | None = None
        self.intensity = 3
        self.heat_on = False
        self.elapsed_s = 0.0
        self.applied: list[Any] = []  # every command that reached the machine, in order
        self.ticks = 0
        self.max_tick_gap_s = 0.0
        #: clear it to stop answering commands (a machine stuck in a long operation)
        self.answering = asyncio.Event()
        self.answering.set()
        self._seq = 0

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._tick_loop())
            tg.create_task(self._command_loop())

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            now = loop.time()
            if self.ticks:
                self.max_tick_gap_s = max(self.max_tick_gap_s, now - last)
            last = now
            if self.mode == "running":
                self.elapsed_s += self.tick_s
            self.ticks += 1
            self.hub.publish_state(self.snapshot())
            await asyncio.sleep(self.tick_s)

    async def _command_loop(self) -> None:
        while True:
            pending = await self.hub.commands.get()
            await self.answering.wait()
            result = self.apply(pending.command)
            if not pending.future.done():
                pending.future.set_result(result)

    def apply(self, cmd: Any) -> CommandResult:
        self.applied.append(cmd)
        result = self._apply(cmd)
        if result.ok and self.on_apply is not None:
            self.on_apply(cmd)
        return result  # the next tick's snapshot shows it, as on the real machine

    def _apply(self, cmd: Any) -> CommandResult:
        name = cmd.command
        if name == "start":
            if self.mode in ("running", "paused"):
                return CommandResult.refused(cmd, f"a program is already {self.mode}; stop it first")
            if cmd.program not in {p["id"] for p in self.programs}:
                return CommandResult.refused(cmd, f"unknown program {cmd.program!r}")
            self.mode, self.program, self.intensity, self.heat_on = "running", cmd.program, cmd.intensity, cmd.heat
            self.elapsed_s = 0.0
            self._event("session_start", program=cmd.program)
        elif name == "pause":
            if self.mode != "running":
                return CommandResult.refused(cmd, f"nothing to pause (machine is {self.mode})")
            self.mode = "paused"
        elif name == "resume":
            if self.mode != "paused":
                return CommandResult.refused(cmd, f"nothing to resume (machine is {self.mode})")
            self.mode = "running"
        elif name == "stop":
            if self.mode in ("running", "paused"):
                self._event("session_end", program=self.program, reason="stopped")
            self.mode, self.program = "idle", None
        elif name == "set_intensity":
            self.intensity = cmd.intensity
        elif name == "set_heat":
            self.heat_on = cmd.on
        elif name in ("set_profile", "ack"):
            pass
        else:  # local-only commands never get this far from MQTT; the fake refuses them anyway
            return CommandResult.refused(cmd, f"{name!r} is not supported by the fake machine")
        return CommandResult.accepted(cmd)

    def _event(self, kind: str, **fields: Any) -> None:
        self.hub.publish_event({"type": kind, "t_s": round(self.elapsed_s, 3), **fields})

    def snapshot(self) -> dict:
        self._seq += 1
        running = self.mode == "running"
        duration = next((p["duration_s"] for p in self.programs if p["id"] == self.program), None)
        return {
            "seq": self._seq,
            "t_s": round(self.ticks * self.tick_s, 3),
            "mode": self.mode,
            "program": self.program,
            "program_name": next((p["name"] for p in self.programs if p["id"] == self.program), None),
            "phase": "waves" if self.program else None,
            "phase_index": 0 if self.program else None,
            "elapsed_s": round(self.elapsed_s, 1),
            "remaining_s": round(duration - self.elapsed_s, 1) if duration else None,
            "intensity": self.intensity,
            "heat_on": self.heat_on,
            "profile": {"varicose_veins": False, "wound_or_infection": False, "suspected_clot": False,
                        "pregnancy": False},
            "relay_closed": running,
            "pump_duty": 0.6 if running else 0.0,
            "pads": {z: {"temp_c": 36.0 if self.heat_on else 24.0, "temp2_c": 36.1 if self.heat_on else 24.1,
                         "target_c": 38.0 if self.heat_on else None, "duty": 0.3 if self.heat_on else 0.0}
                     for z in PADS},
            "chambers": {z: {"pressure_mmhg": 30.0 if running else 0.0, "target_mmhg": 40.0 if running else 0.0,
                             "fill_open": False, "vent_open": not running} for z in CHAMBERS},
            "rollers": {z: {"speed": 0.5 if running else 0.0, "current_a": 0.8 if running else 0.0}
                        for z in ROLLERS},
            "faults": [],
            "lockout": False,
            "problem": False,
            "problem_text": None,
        }


# --- a real broker ------------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def find_mosquitto() -> str | None:
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin:/opt/homebrew/sbin")


class LocalBroker:
    """A broker subprocess on ``host:port``; ``stop()`` and ``start()`` keep the same port.

    Unpacks as ``host, port``. ``kind`` is ``"mosquitto"`` or ``"amqtt"``. Nothing is
    persisted: a restarted broker has forgotten every retained message, as after a crash.
    """

    def __init__(self, kind: str | None = None, host: str = "127.0.0.1", port: int | None = None,
                 workdir: str | Path | None = None, tls: dict[str, str] | None = None) -> None:
        """``tls``: ``{"cafile", "certfile", "keyfile"}`` paths for a TLS-only listener that asks
        clients for a certificate signed by ``cafile``."""
        mosquitto = find_mosquitto()
        self.kind = kind or ("mosquitto" if mosquitto else "amqtt")
        if self.kind == "mosquitto" and not mosquitto:
            raise RuntimeError("mosquitto is not installed")
        self.host = host
        self.port = port or free_port(host)
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="legtherapy-broker-"))
        self.log_path = self.workdir / f"{self.kind}.log"
        self._proc: subprocess.Popen | None = None
        if self.kind == "mosquitto":
            conf = self.workdir / "mosquitto.conf"
            # run as root (CI), mosquitto would switch to its own user, which cannot read our temp files
            user = "root" if os.geteuid() == 0 else "mosquitto"
            text = (f"listener {self.port} {self.host}\nallow_anonymous true\npersistence false\nuser {user}\n"
                    "set_tcp_nodelay true\n"
                    "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n")
            if tls:
                text += (f"cafile {tls['cafile']}\ncertfile {tls['certfile']}\nkeyfile {tls['keyfile']}\n"
                         "require_certificate true\n")
            conf.write_text(text)
            self._argv = [mosquitto, "-c", str(conf)]
        else:
            conf = self.workdir / "amqtt.yaml"
            listener = f"listeners:\n  default:\n    type: tcp\n    bind: {self.host}:{self.port}\n"
            if tls:  # amqtt verifies a client certificate when one is offered (CERT_OPTIONAL)
                listener += (f"    ssl: true\n    cafile: {tls['cafile']}\n    certfile: {tls['certfile']}\n"
                             f"    keyfile: {tls['keyfile']}\n")
            conf.write_text(listener + "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
                            "    allow_anonymous: true\n")
            self._argv = [sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(conf)]

    def __iter__(self):
        return iter((self.host, self.port))

    def __repr__(self) -> str:
        return f"<LocalBroker {self.kind} {self.host}:{self.port} {'running' if self.running else 'stopped'}>"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 20.0) -> None:
        if self.running:
            return
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(self._argv, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        self._wait_until_listening(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL); its clients see their connection drop."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    async def async_start(self) -> None:
        """``start`` without blocking the event loop the machine and the bridge run on."""
        await asyncio.to_thread(self.start)

    async def async_stop(self) -> None:
        await asyncio.to_thread(self.stop)

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def _wait_until_listening(self, timeout: float) -> None:
        # The one place a test waits on wall-clock time: a subprocess opening its port.
        deadline = time.monotonic() + timeout
        while True:
            if self._proc is None or self._proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited while starting:\n{self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"{self.kind} did not listen on {self.host}:{self.port} "
                                       f"within {timeout} s:\n{self.log_tail()}") from None
                time.sleep(0.05)


# --- an independent client ----------------------------------------------------------------------


@dataclass
class Seen:
    topic: str
    payload: bytes
    retain: bool
    t: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return json.loads(self.payload)

    @property
    def text(self) -> str:
        return self.payload.decode(errors="replace")


class MqttProbe:
    """A paho-mqtt client on its own thread that records what it sees; use ``async with``."""

    def __init__(self, host: str, port: int, subscriptions=("#",), client_id: str | None = None) -> None:
        import paho.mqtt.client as paho

        self.host, self.port = host, port
        self.subscriptions = list(subscriptions)
        self.messages: list[Seen] = []
        self._paho = paho
        self._client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id or "",
                                   clean_session=True)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._client.reconnect_delay_set(min_delay=1, max_delay=1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._subscribed = threading.Event()

    async def __aenter__(self) -> "MqttProbe":
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(self._client.connect, self.host, self.port, 30)
        sock = self._client.socket()
        if isinstance(sock, socket.socket):  # small packets, measured latencies: no Nagle delay
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._client.loop_start()
        if not await asyncio.to_thread(self._subscribed.wait, 10):
            raise AssertionError(f"probe could not subscribe on {self.host}:{self.port}")
        return self

    async def __aexit__(self, *exc) -> None:
        self._loop = None
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)

    def _on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        for topic in self.subscriptions:
            client.subscribe(topic, qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties=None) -> None:
        self._subscribed.set()

    def _on_message(self, client, userdata, message) -> None:
        self.messages.append(Seen(message.topic, bytes(message.payload), bool(message.retain)))
        loop = self._loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._notify)
            except RuntimeError:  # the test's loop has closed
                pass

    def _notify(self) -> None:
        self._wake.set()
        self._wake = asyncio.Event()

    def publish(self, topic: str, payload: bytes | str | dict, *, qos: int = 1, retain: bool = False) -> None:
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != self._paho.MQTT_ERR_SUCCESS:
            raise AssertionError(f"probe publish to {topic} failed: rc={info.rc}")

    def on(self, topic: str, start: int = 0) -> list[Seen]:
        return [m for m in self.messages[start:] if m.topic == topic]

    async def wait_for(self, predicate: Callable[[Seen], bool], timeout: float = 10.0, *, start: int = 0,
                       what: str = "a matching message") -> Seen:
        """The first message from index ``start`` on that matches, waiting up to ``timeout``."""
        i = start
        try:
            async with asyncio.timeout(timeout):
                while True:
                    wake = self._wake
                    while i < len(self.messages):
                        message = self.messages[i]
                        i += 1
                        if predicate(message):
                            return message
                    await wake.wait()
        except TimeoutError:
            recent = ", ".join(f"{m.topic}={m.text[:60]!r}" for m in self.messages[-8:])
            raise AssertionError(f"no {what} within {timeout} s; last messages: {recent}") from None

    async def wait_topic(self, topic: str, payload: bytes | str | None = None, timeout: float = 10.0, *,
                         start: int = 0, where: Callable[[Any], bool] | None = None) -> Seen:
        """A message on ``topic`` (with this exact payload, or whose JSON satisfies ``where``)."""
        if isinstance(payload, str):
            payload = payload.encode()

        def match(m: Seen) -> bool:
            if m.topic != topic or (payload is not None and m.payload != payload):
                return False
            if where is not None:
                try:
                    return bool(where(m.json()))
                except (ValueError, KeyError, TypeError):
                    return False
            return True

        what = f"message on {topic}" + (f" = {payload!r}" if payload is not None else "")
        return await self.wait_for(match, timeout, start=start, what=what)


# --- a whole machine in its own process -----------------------------------------------------------


async def _serve(host: str, port: int, device_id: str) -> None:
    from controller.model.config import MqttSettings
    from controller.interfaces.mqtt import MqttBridge

    hub = MachineHub()
    machine = FakeMachine(hub)
    bridge = MqttBridge(MqttSettings(host=host, port=port, device_id=device_id), hub,
                        pad_names=PADS, chamber_names=CHAMBERS, roller_names=ROLLERS)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(machine.run())
        tg.create_task(bridge.run())
        await bridge.connected.wait()
        print("CONNECTED", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="a fake machine behind an MQTT bridge")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("MQTT_PORT", "1883")))
    parser.add_argument("--device-id", default="legtherapy1")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.host, args.port, args.device_id))


if __name__ == "__main__":
    main()
