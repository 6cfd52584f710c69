"""An independent MQTT client that records what it sees, for the bench and the tests.

paho-mqtt on its own thread, so its timestamps do not depend on the event loop under
measurement; a caller awaits a matching message with a timeout.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable


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
