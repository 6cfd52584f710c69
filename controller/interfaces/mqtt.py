"""The MQTT bridge: the machine's state out, remote commands in, through one broker.

Why it is shaped like this:

* The broker is optional equipment. The machine and its panel must keep working while the
  broker is down, slow or flooded, so nothing here is ever awaited by the scan cycle: state
  and events come from the hub's non-blocking fan-out, and commands reach the machine only
  through ``hub.submit``, whose queue is bounded.
* aiomqtt's client cannot reconnect by itself; leaving and re-entering ``async with`` is the
  reconnect. Each (re)connect re-subscribes and re-publishes ``online``, discovery and the
  current state, because a restarted broker without persistence has forgotten them.
  Attempts back off 1 s, 2 s, 4 s ... 30 s, and start over at 1 s after a connection that
  held for a while (a broker that accepts and then drops us, e.g. a duplicate client id,
  must not be hammered). While waiting, a broker that was *unreachable* (nothing answered on
  its port) is probed every ``PROBE_INTERVAL_S``: once it answers, the next attempt starts at
  once (but never sooner than ``BACKOFF_FIRST_S`` after the last), so the link is back within
  about a second of the broker instead of up to 30 s later. A broker that answers but refuses
  or drops us gets the full backoff.
* The link survives any payload: every incoming message is handled inside its own guard, and
  commands are bounded in size and depth before any parse (``parse_command``, ``bounded_json``);
  binary, non-UTF-8, deep or huge payloads get a refusal on ``cmd/result``, nothing more.
* ``publish`` raises when the link is gone. Publishers never swallow that silently: the error
  ends the connection and the loop reconnects; results waiting to go out stay in a small
  bounded outbox, state is simply re-read (only the latest matters).
* Everything that can grow is bounded: a token bucket in front of command parsing, a cap on
  commands in flight, a fixed-size outbox, a fixed-size incoming queue (drops counted).
* A remote source can never clear a lockout or drive an output: ``parse_command`` with
  ``Source.MQTT`` refuses those, and the refusal goes back on ``cmd/result``.
* Retained messages on ``cmd`` are refused: a retained ``start`` would restart the machine on
  every reconnect.

Topics, under ``{base_topic}/{device_id}/``: ``availability`` (retained ``online``/``offline``,
also the last will), ``state`` (retained JSON of the hub's ``State``, noisy values
held within deadbands: ``state_filter``), ``event`` (JSON, not retained), ``cmd``
(JSON command in), ``cmd/result`` (``{"id", "ok", "error"[, "data"]}``); Home Assistant
discovery on ``{discovery_prefix}/device/{device_id}/config`` (retained), re-sent when
``{discovery_prefix}/status`` says ``online``. ``controller.interfaces.discovery.topics`` spells them.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import math
import socket
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Iterable

import aiomqtt

from controller.model.bounded_json import JsonRefused, loads as bounded_loads
from controller.model.commands import MAX_COMMAND_DEPTH, CommandError, CommandResult, Source, parse_command
from controller.model.config import MqttSettings
from controller.interfaces.discovery import discovery_messages, topics
from controller.interfaces.state_filter import StateFilter, changed
from controller.machine.hub import MachineHub, Subscription

__all__ = ["Backoff", "MqttBridge", "TokenBucket", "client_options", "software_version"]


def software_version() -> str:
    """The installed package's version, shown in Home Assistant's device page."""
    try:
        return version("legtherapy")
    except PackageNotFoundError:
        return "0+unknown"


class Backoff:
    """Delays between connection attempts: ``first``, doubling, capped at ``cap``."""

    def __init__(self, first: float, cap: float) -> None:
        self.first, self.cap = first, cap
        self._next = first

    def next(self) -> float:
        delay, self._next = self._next, min(self._next * 2.0, self.cap)
        return delay

    def reset(self) -> None:
        self._next = self.first

    @property
    def upcoming(self) -> float:
        """The delay ``next()`` will return."""
        return self._next


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; ``take`` never waits."""

    def __init__(self, rate: float, burst: float, clock) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self._clock = clock
        self._tokens = self.burst
        self._last = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


def client_options(settings: MqttSettings, *, will_topic: str) -> dict[str, Any]:
    """Keyword arguments for ``aiomqtt.Client``: identity, credentials, TLS and last will."""
    options: dict[str, Any] = {
        "hostname": settings.host,
        "port": settings.port,
        "identifier": settings.client_id or f"legtherapy-{settings.device_id}",
        "username": settings.username,
        "password": settings.password,
        # retained, so anyone who subscribes later still learns that we are gone
        "will": aiomqtt.Will(will_topic, b"offline", qos=1, retain=True),
        # a clean session: commands sent while we were away are stale, never replay them
        "clean_session": True,
        "keepalive": 30,
        # commands and results are tiny packets: without this, Nagle's algorithm meeting delayed
        # ACKs adds ~40 ms to every exchange
        "socket_options": ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
        # no aiomqtt-level timeouts (asyncio.wait_for): callers bound their waits with asyncio.timeout
        "timeout": math.inf,
    }
    if settings.tls is not None:
        options["tls_params"] = aiomqtt.TLSParameters(
            ca_certs=settings.tls.ca_file, certfile=settings.tls.certfile, keyfile=settings.tls.keyfile)
    return options


class _DroppingQueue(asyncio.Queue):
    """aiomqtt's incoming queue: full means drop and count (aiomqtt would log every drop)."""

    on_drop = staticmethod(lambda: None)

    def put_nowait(self, item: Any) -> None:
        if self.full():
            self.on_drop()
            return
        super().put_nowait(item)


class MqttBridge:
    """Connects one machine hub to one MQTT broker; ``await run()`` until cancelled."""

    BACKOFF_FIRST_S = 1.0
    BACKOFF_MAX_S = 30.0
    #: while the broker is unreachable, how often to knock on its port during a backoff wait
    PROBE_INTERVAL_S = 0.5
    PROBE_TIMEOUT_S = 1.0
    #: a connection that held this long counts as good: the next backoff starts over
    GOOD_CONNECTION_S = 10.0
    #: state goes out at most this often during a session, however fast the machine ticks
    STATE_MIN_GAP_S = 0.5
    #: and at most this often otherwise (idle, ended, fault): nothing there moves faster
    STATE_IDLE_GAP_S = 1.0
    PUBLISH_TIMEOUT_S = 5.0
    CONNECT_TIMEOUT_S = 10.0
    #: commands waiting for the machine; the hub queue (64) keeps room for the panel and socket
    MAX_IN_FLIGHT = 16
    OUTBOX_SIZE = 64
    INCOMING_QUEUE_SIZE = 1024
    FLOOD_NOTICE_GAP_S = 1.0

    def __init__(
        self,
        settings: MqttSettings,
        hub: MachineHub,
        *,
        pad_names: Iterable[str],
        chamber_names: Iterable[str],
        roller_names: Iterable[str],
        sw_version: str | None = None,
        log: logging.Logger = logging.getLogger("legtherapy.mqtt"),
    ) -> None:
        self.settings = settings
        self.hub = hub
        self.pad_names = list(pad_names)
        self.chamber_names = list(chamber_names)
        self.roller_names = list(roller_names)
        self.sw_version = sw_version or software_version()
        self.log = log
        self.topics = topics(settings)
        self.stats: dict[str, int] = dict.fromkeys(
            ("received", "accepted", "refused", "dropped_flood", "dropped_incoming", "dropped_results",
             "published_state", "published_state_bytes", "published_events", "published_results",
             "published_discovery",
             "connections", "reconnects", "connect_failures", "probe_hits"), 0)
        #: set while connected and subscribed (tests and the CLI's status line read it)
        self.connected = asyncio.Event()
        burst = max(1.0, 2.0 * settings.max_commands_per_s)
        self._bucket = TokenBucket(settings.max_commands_per_s, burst, self._now)
        self._in_flight: set[asyncio.Task] = set()
        self._outbox: collections.deque[tuple[str, bytes]] = collections.deque(maxlen=self.OUTBOX_SIZE)
        self._outbox_ready = asyncio.Event()
        self._discovery_wanted = asyncio.Event()
        self._state_kick = asyncio.Event()
        self._unsent_event: dict | None = None
        self._state_filter = StateFilter()
        self._last_state: dict | None = None  # the last state payload published
        self._connected_at: float | None = None
        self.backoff = Backoff(self.BACKOFF_FIRST_S, self.BACKOFF_MAX_S)
        self._flood_unreported = 0
        self._last_flood_notice = -math.inf

    # --- the connection loop ------------------------------------------------------------

    async def run(self) -> None:
        """Connect, serve, reconnect with backoff; forever (cancel to stop)."""
        events = self.hub.subscribe_events(maxsize=256)
        backoff = self.backoff = Backoff(self.BACKOFF_FIRST_S, self.BACKOFF_MAX_S)
        try:
            while True:
                self._connected_at = None
                try:
                    await self._session(events)
                except asyncio.CancelledError:
                    raise
                except Exception as err:  # noqa: BLE001 - the bridge must outlive any broker trouble
                    if self._connected_at is None:
                        self.stats["connect_failures"] += 1
                    if _is_mqtt_error(err):
                        self.log.warning("MQTT %s:%s: %s", self.settings.host, self.settings.port, _describe(err))
                    else:
                        self.log.exception("unexpected error in the MQTT bridge")
                if self._connected_at is not None and self._now() - self._connected_at >= self.GOOD_CONNECTION_S:
                    backoff.reset()
                delay = backoff.next()
                # Never connected this time, and nothing answers on the port: the broker is down,
                # so watch for it to come back instead of sleeping the whole backoff.
                probing = self._connected_at is None and not await self._broker_answers()
                self.log.info("MQTT: next connection attempt in %.0f s%s", delay,
                              " (sooner once the broker answers)" if probing else "")
                await self._wait_before_retry(delay, probing)
        finally:
            events.close()
            for task in list(self._in_flight):
                task.cancel()

    async def _wait_before_retry(self, delay_s: float, probing: bool) -> None:
        """Sleep ``delay_s``; when ``probing``, end early once the broker answers again (but
        not before ``BACKOFF_FIRST_S``, so even a flapping broker sees at most one try a second)."""
        if not probing:
            await asyncio.sleep(delay_s)
            return
        start = self._now()
        await asyncio.sleep(min(delay_s, self.BACKOFF_FIRST_S))
        while (left := start + delay_s - self._now()) > 0:
            if await self._broker_answers():
                self.stats["probe_hits"] += 1
                return
            await asyncio.sleep(min(self.PROBE_INTERVAL_S, left))

    async def _broker_answers(self) -> bool:
        """Does anything accept a TCP connection on the broker's port? (No MQTT is spoken.)"""
        try:
            async with asyncio.timeout(self.PROBE_TIMEOUT_S):
                _reader, writer = await asyncio.open_connection(self.settings.host, self.settings.port)
        except (OSError, TimeoutError):
            return False
        writer.close()
        try:
            async with asyncio.timeout(self.PROBE_TIMEOUT_S):
                await writer.wait_closed()
        except (OSError, TimeoutError):
            pass
        return True

    async def _session(self, events: Subscription) -> None:
        """One connection, from connect to the error that ends it.

        Every wait here is bounded by ``asyncio.timeout`` rather than by aiomqtt's own timeouts:
        those use ``asyncio.wait_for``, which on Python 3.11 can swallow a cancellation that
        coincides with completion, and a bridge that lost its cancellation would never stop.
        (The same reason keeps ``asyncio.TaskGroup`` out of here: on 3.11 a failing child can
        leave the parent task marked as cancelling.)
        """
        client = aiomqtt.Client(**client_options(self.settings, will_topic=self.topics["availability"]),
                                queue_type=self._incoming_queue_type(),
                                max_queued_incoming_messages=self.INCOMING_QUEUE_SIZE,
                                logger=self.log.getChild("client"))
        try:
            async with asyncio.timeout(self.CONNECT_TIMEOUT_S):
                await client.__aenter__()
        except TimeoutError:
            raise aiomqtt.MqttError(f"no answer from the broker within {self.CONNECT_TIMEOUT_S:g} s") from None
        try:
            await self._serve(client, events)
        finally:
            self.connected.clear()
            try:
                async with asyncio.timeout(2.0):
                    await client.__aexit__(None, None, None)
            except Exception:  # noqa: BLE001 - the connection is going away either way
                pass

    async def _serve(self, client: aiomqtt.Client, events: Subscription) -> None:
        tasks: list[asyncio.Task] = []
        try:
            async with asyncio.timeout(self.PUBLISH_TIMEOUT_S):
                await client.subscribe(self.topics["cmd"], qos=1, timeout=math.inf)
                await client.subscribe(self.topics["ha_status"], qos=1, timeout=math.inf)
            self._connected_at = self._now()
            self.stats["connections"] += 1
            if self.stats["connections"] > 1:
                self.stats["reconnects"] += 1
            self.log.info("MQTT connected to %s:%s as %s", self.settings.host, self.settings.port,
                          client.identifier)
            self._discovery_wanted.clear()
            await self._publish_discovery(client)
            await self._publish(client, self.topics["availability"], b"online", retain=True)
            self.connected.set()
            tasks = [asyncio.create_task(coro, name=f"mqtt-{coro.__name__.strip('_')}") for coro in (
                self._read(client), self._state_loop(client), self._event_loop(client, events),
                self._outbox_loop(client), self._discovery_loop(client))]
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()
            raise aiomqtt.MqttError("bridge task ended unexpectedly")
        except asyncio.CancelledError:
            # Stopping cleanly: a clean disconnect discards the last will, so say it ourselves.
            self.connected.clear()
            try:
                await self._publish(client, self.topics["availability"], b"offline", retain=True, timeout=2.0)
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
            raise
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _incoming_queue_type(self) -> type[asyncio.Queue]:
        stats = self.stats

        class Incoming(_DroppingQueue):
            @staticmethod
            def on_drop() -> None:
                stats["dropped_incoming"] += 1

        return Incoming

    # --- in: commands and Home Assistant's birth message ----------------------------------

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            try:
                self._on_message(message)
            except Exception:  # noqa: BLE001 - no payload may end the link; the sender is told if it can be
                self.log.exception("MQTT message on %s could not be handled", message.topic)
                self._refuse(None, "internal error while reading this message (see the machine's log)")

    def _on_message(self, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        payload = _as_bytes(message.payload)
        if topic == self.topics["cmd"]:
            self._on_command(payload, retained=bool(message.retain))
        elif topic == self.topics["ha_status"]:
            if payload.strip().lower() == b"online":
                self._discovery_wanted.set()

    def _on_command(self, payload: bytes, *, retained: bool = False) -> None:
        """Triage one incoming command without awaiting anything, so reading never stalls."""
        self.stats["received"] += 1
        if not self._bucket.take():
            self.stats["dropped_flood"] += 1
            self._flood_unreported += 1
            now = self._now()
            if now - self._last_flood_notice >= self.FLOOD_NOTICE_GAP_S:
                self._last_flood_notice = now
                self._queue_result(None, False, (
                    f"rate limited: more than {self.settings.max_commands_per_s:g} commands/s; "
                    f"{self._flood_unreported} dropped since the last notice"))
                self._flood_unreported = 0
            return
        limit = self.settings.max_payload_bytes
        if retained:
            self._refuse(_raw_id(payload, limit),
                         "retained command ignored: publish commands without the retain flag")
            return
        try:
            cmd = parse_command(payload, Source.MQTT, limit)
        except CommandError as err:
            self.log.debug("MQTT command refused: %s", err)
            self._refuse(_raw_id(payload, limit), str(err))
            return
        if len(self._in_flight) >= self.MAX_IN_FLIGHT:
            self._refuse(cmd.id, f"busy: {len(self._in_flight)} commands already in progress, try again")
            return
        task = asyncio.create_task(self._execute(cmd), name=f"mqtt-cmd-{cmd.command}")
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _execute(self, cmd: Any) -> None:
        try:
            result = await self.hub.submit(cmd, Source.MQTT, peer="mqtt")
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - a remote client always gets an answer
            self.log.exception("command %r failed inside the machine", cmd)
            result = CommandResult.refused(cmd, f"internal error: {err}")
        self.stats["accepted" if result.ok else "refused"] += 1
        self._queue_result(result.id, result.ok, result.error, result.data)

    def _refuse(self, cmd_id: Any, reason: str) -> None:
        self.stats["refused"] += 1
        self._queue_result(cmd_id, False, reason)

    def _queue_result(self, cmd_id: Any, ok: bool, error: str | None, data: dict | None = None) -> None:
        body: dict[str, Any] = {"id": cmd_id, "ok": ok, "error": error}
        if data is not None:
            body["data"] = data
        if len(self._outbox) == self._outbox.maxlen:
            self.stats["dropped_results"] += 1  # the deque drops the oldest
        self._outbox.append((self.topics["cmd_result"], _to_json(body)))
        self._outbox_ready.set()

    # --- out: state, events, results, discovery -----------------------------------------

    async def _publish(self, client: aiomqtt.Client, topic: str, payload: bytes, *, retain: bool = False,
                       qos: int = 1, timeout: float | None = None) -> None:
        timeout = self.PUBLISH_TIMEOUT_S if timeout is None else timeout
        try:
            async with asyncio.timeout(timeout):
                await client.publish(topic, payload, qos=qos, retain=retain, timeout=math.inf)
        except TimeoutError:
            raise aiomqtt.MqttError(f"publish to {topic} not acknowledged within {timeout:g} s") from None

    async def _publish_discovery(self, client: aiomqtt.Client) -> None:
        try:
            programs = list(self.hub.programs())
        except Exception:  # noqa: BLE001 - discovery without a program list beats none
            self.log.exception("listing programs for discovery failed")
            programs = []
        for topic, payload in discovery_messages(self.settings, self.pad_names, self.chamber_names,
                                                 self.roller_names, programs, self.sw_version):
            await self._publish(client, topic, _to_json(payload), retain=True)
        self.stats["published_discovery"] += 1

    async def _discovery_loop(self, client: aiomqtt.Client) -> None:
        while True:
            await self._discovery_wanted.wait()
            self._discovery_wanted.clear()
            await self._publish_discovery(client)
            self._state_kick.set()  # Home Assistant restarted: give it the state right away too

    async def _state_loop(self, client: aiomqtt.Client) -> None:
        """Publish on a meaningful change (``StateFilter``: noise inside the deadbands is not
        one), at most every ``STATE_MIN_GAP_S`` in a session and every ``STATE_IDLE_GAP_S``
        otherwise, and at least every ``state_interval_s`` (the heartbeat); the first one
        right after connecting."""
        interval = self.settings.state_interval_s
        last_sent = -math.inf
        self._last_state = None
        while True:
            snapshot = self.hub.snapshot()
            payload = self._state_filter.payload(snapshot)
            now = self._now()
            if self._state_kick.is_set() or changed(payload, self._last_state) or now - last_sent >= interval:
                self._state_kick.clear()
                body = _to_json(payload)
                await self._publish(client, self.topics["state"], body, retain=True, qos=0)
                self.stats["published_state"] += 1
                self.stats["published_state_bytes"] += len(body)
                self._last_state, last_sent = payload, now
                await self._state_gap(snapshot.mode)
                continue
            await self._wait_for_state(interval - (now - last_sent))

    async def _state_gap(self, mode) -> None:
        """The pause after a state message; a change of mode (a start, a stop, a fault) ends
        it at once, so a person sees what the machine does without the idle gap's delay."""
        end = self._now() + (self.STATE_MIN_GAP_S if mode.in_session else self.STATE_IDLE_GAP_S)
        while (left := end - self._now()) > 0:
            if self.hub.snapshot().mode != mode:
                return
            await self.hub.wait_changed(left)

    async def _wait_for_state(self, timeout: float) -> None:
        waiters = [asyncio.ensure_future(self.hub.wait_changed(timeout)),
                   asyncio.ensure_future(self._state_kick.wait())]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _event_loop(self, client: aiomqtt.Client, events: Subscription) -> None:
        while True:
            if self._unsent_event is None:
                self._unsent_event = await events.get()
            await self._publish(client, self.topics["event"], _to_json(self._unsent_event))
            self._unsent_event = None
            self.stats["published_events"] += 1

    async def _outbox_loop(self, client: aiomqtt.Client) -> None:
        while True:
            await self._outbox_ready.wait()
            self._outbox_ready.clear()
            while self._outbox:
                topic, payload = self._outbox.popleft()
                try:
                    await self._publish(client, topic, payload)
                except BaseException:
                    if len(self._outbox) < (self._outbox.maxlen or 0):
                        self._outbox.appendleft((topic, payload))  # try again after reconnecting
                    self._outbox_ready.set()
                    raise
                self.stats["published_results"] += 1

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()


# --- helpers ---------------------------------------------------------------------------------

def _as_bytes(payload: Any) -> bytes:
    """aiomqtt's payload as bytes (it is bytes off the wire; anything else is made text)."""
    if payload is None:
        return b""
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    return str(payload).encode("utf-8")


def _raw_id(payload: bytes, max_bytes: int) -> Any:
    """The ``id`` of a command that did not parse, so its sender can still match the answer."""
    try:
        data = bounded_loads(payload, max_bytes=max_bytes, max_depth=MAX_COMMAND_DEPTH)
    except JsonRefused:
        return None
    if not isinstance(data, dict):
        return None
    value = data.get("id")
    if isinstance(value, str):
        return value[:64]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _to_json(obj: Any) -> bytes:
    """Strict JSON (a NaN from a failed sensor becomes null, which every parser accepts)."""
    try:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False, default=str).encode()
    except ValueError:
        return json.dumps(_finite(obj), separators=(",", ":"), allow_nan=False, default=str).encode()


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _leaves(err: BaseException) -> list[BaseException]:
    if isinstance(err, BaseExceptionGroup):
        return [leaf for sub in err.exceptions for leaf in _leaves(sub)]
    return [err]


def _is_mqtt_error(err: BaseException) -> bool:
    return all(isinstance(leaf, (aiomqtt.MqttError, OSError)) for leaf in _leaves(err))


def _describe(err: BaseException) -> str:
    return "; ".join(f"{type(leaf).__name__}: {leaf}" for leaf in _leaves(err))
