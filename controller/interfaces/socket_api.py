"""The technician's local socket: newline-delimited JSON over a Unix socket.

The socket file's owner, group and mode are the access control (technicians over SSH join the
``legtherapy`` group), so there is no login here; the peer's uid, read from the kernel
(SO_PEERCRED), is logged with every command so the fault log can be matched to a person.

The machine comes first: nothing a client does (or fails to do) may stall the scan cycle. The
hub's subscriptions already drop the oldest item for a slow reader; on top of that every client
has a bounded outbox that drops the oldest *state* line when full, and a client whose socket has
not drained for ``drain_timeout_s`` is disconnected. A client that floods requests without
reading answers only stalls its own connection (we stop reading from it).

Requests are hostile until parsed: a line is bounded in size (``MAX_LINE_BYTES``) and depth
(``REQUEST_MAX_DEPTH``) before the JSON parser sees it (``bounded_json``), NaN and Infinity are
refused, and every number a request carries (``interval_s``, ``timeout_s``) must be finite and
in range or the answer is ``ok: false`` naming the field. The loop yields after every request,
so a burst of thousands of requests in one read interleaves with the scan cycle instead of
holding it up, and reading stops once the client's outbox has given up on it. A request line
that is begun must be finished within ``LINE_DEADLINE_S``.

Requests (one JSON object a line, one answer a line):
``ping``, ``status``, ``command`` (or a bare command object), ``faults``, ``programs`` and
``stream`` (then ``{"state": ...}`` lines at most every ``interval_s`` plus ``{"event": ...}``
lines until the client closes).
"""

from __future__ import annotations

import asyncio
import grp
import json
import logging
import math
import os
import socket
import stat
import struct
from collections import deque
from typing import Any, AsyncIterator

from controller.model.bounded_json import JsonRefused, loads as bounded_loads
from controller.model.commands import CommandError, Source, parse_command
from controller.model.config import SocketSettings
from controller.machine.hub import MachineHub
from controller.model.state import State

REQUESTS = ("ping", "status", "command", "faults", "programs", "stream", "history")
MAX_LINE_BYTES = 64 * 1024
MAX_CLIENTS = 16
OUTBOX_SIZE = 64
DRAIN_TIMEOUT_S = 5.0
STREAM_INTERVAL_S = 0.25
MIN_STREAM_INTERVAL_S = 0.02
MAX_STREAM_INTERVAL_S = 60.0
#: a request is a flat object with one nested command: nothing legitimate nests deeper
REQUEST_MAX_DEPTH = 8
#: a request line that has begun must end within this (a client dribbling bytes holds a slot)
LINE_DEADLINE_S = 30.0
#: self-test, autotune, calibration and commissioning take minutes; everything else answers within a tick or two
LONG_COMMANDS = ("selftest", "autotune", "calibrate_pressure", "commission")
COMMAND_TIMEOUT_S = 30.0
LONG_COMMAND_TIMEOUT_S = 7200.0  # autotune: up to its warm-up (<= 50 min) and cycles (<= 60 min) deadlines
MAX_COMMAND_TIMEOUT_S = 7200.0

_TOO_LONG = object()  # marks a request line that was cut off for being over MAX_LINE_BYTES


class SocketApiError(RuntimeError):
    """The socket could not be set up; the text names the fix."""


def encode(obj: dict) -> bytes:
    return json.dumps(obj, separators=(",", ":"), default=str).encode() + b"\n"


def peer_uid(writer: asyncio.StreamWriter) -> int:
    """The connecting process's uid from the kernel (-1 where the platform has no SO_PEERCRED)."""
    sock = writer.get_extra_info("socket")
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except (AttributeError, OSError):
        return -1
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


class Outbox:
    """Lines waiting for one client. State lines may be dropped; answers and events wait."""

    def __init__(self, writer: asyncio.StreamWriter, label: str, log: logging.Logger,
                 maxsize: int = OUTBOX_SIZE, drain_timeout_s: float = DRAIN_TIMEOUT_S) -> None:
        self._writer = writer
        self._label = label
        self._log = log
        self.maxsize = maxsize
        self.drain_timeout_s = drain_timeout_s
        self._items: deque[tuple[bytes, bool]] = deque()  # (line, droppable)
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._finishing = False
        self.closed = False
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def pending_bytes(self) -> int:
        """Bytes held for this client, queued here and in the transport: what a stuck client costs."""
        transport = self._writer.transport
        held = transport.get_write_buffer_size() if not transport.is_closing() else 0
        return held + sum(len(line) for line, _ in self._items)

    def offer_state(self, line: bytes) -> None:
        """Queue a state line without waiting: when full, the oldest state line makes room."""
        if len(self._items) >= self.maxsize and not self._drop_oldest_state():
            self.dropped += 1  # full of answers and events: this state is the one to go
            return
        self._append(line, True)

    async def put(self, line: bytes) -> None:
        """Queue a line that must not be lost; waits while the outbox is full of such lines."""
        while len(self._items) >= self.maxsize and not self._drop_oldest_state():
            if self.closed:
                return
            self._room.clear()
            await self._room.wait()
        self._append(line, False)

    def finish(self) -> None:
        """Write what is queued, then stop (the client has closed its side)."""
        self._finishing = True
        self._ready.set()

    def _drop_oldest_state(self) -> bool:
        for i, (_, droppable) in enumerate(self._items):
            if droppable:
                del self._items[i]
                self.dropped += 1
                return True
        return False

    def _append(self, line: bytes, droppable: bool) -> None:
        if self.closed:
            return
        self._items.append((line, droppable))
        self._ready.set()

    async def run(self) -> None:
        """Write queued lines in batches; give up on a client that does not read."""
        try:
            while not (self._finishing and not self._items):
                await self._ready.wait()
                self._ready.clear()
                if not self._items:
                    continue
                batch = b"".join(line for line, _ in self._items)
                self._items.clear()
                self._room.set()
                self._writer.write(batch)
                try:
                    await asyncio.wait_for(self._writer.drain(), self.drain_timeout_s)
                except asyncio.TimeoutError:
                    self._log.warning("%s has not read for %g s: disconnecting it", self._label,
                                      self.drain_timeout_s)
                    self._writer.transport.abort()
                    return
        except (ConnectionError, OSError):
            return
        finally:
            self.closed = True
            self._items.clear()
            self._room.set()


class SocketApi:
    """The Unix-socket server. ``start()``/``close()``, or ``serve_forever()``."""

    def __init__(self, settings: SocketSettings, hub: MachineHub, *, path_override: str | None = None,
                 log: logging.Logger = logging.getLogger("legtherapy.api"), max_clients: int = MAX_CLIENTS,
                 drain_timeout_s: float = DRAIN_TIMEOUT_S, outbox_size: int = OUTBOX_SIZE) -> None:
        self.settings = settings
        self.hub = hub
        self.path = path_override or settings.path
        self.log = log
        self.max_clients = max_clients
        self.drain_timeout_s = drain_timeout_s
        self.outbox_size = outbox_size
        self._server: asyncio.AbstractServer | None = None
        self._inode: int | None = None
        self._clients: set[asyncio.Task] = set()
        self.outboxes: list[Outbox] = []  # live clients' outboxes (tests look at their size)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._prepare_path()
        self._server = await asyncio.start_unix_server(self._on_connect, path=self.path)
        st = os.stat(self.path)
        self._inode = st.st_ino
        os.chmod(self.path, self.settings.mode)
        self._set_group()
        self.log.info("technician socket listening at %s (mode %o)", self.path, self.settings.mode)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._clients):
            task.cancel()
        if self._clients:
            await asyncio.gather(*self._clients, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        try:  # remove the file only if it is still ours (a second daemon may have replaced it)
            if self._inode is not None and os.stat(self.path).st_ino == self._inode:
                os.unlink(self.path)
        except FileNotFoundError:
            pass

    async def serve_forever(self) -> None:
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.close()

    async def __aenter__(self) -> "SocketApi":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def _prepare_path(self) -> None:
        parent = os.path.dirname(os.path.abspath(self.path))
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as err:
            raise SocketApiError(f"cannot create the socket directory {parent}: {err.strerror} "
                                 "(set socket.path in the config to a writable place, or run as the service user)") from None
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise SocketApiError(f"{self.path} exists and is not a socket: remove it or set another socket.path")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(0.5)
        try:
            probe.connect(self.path)
        except OSError:
            os.unlink(self.path)  # stale: left behind by a daemon that died
            self.log.info("removed stale socket %s", self.path)
            return
        finally:
            probe.close()
        raise SocketApiError(f"another daemon is already listening at {self.path}: "
                             "stop it first (systemctl stop legtherapy)")

    def _set_group(self) -> None:
        group = self.settings.group
        if not group:
            return
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            self.log.warning("group %r does not exist, so only the daemon's own user can use %s "
                             "(create it: sudo groupadd %s)", group, self.path, group)
            return
        try:
            os.chown(self.path, -1, gid)
        except OSError as err:
            self.log.warning("cannot give %s to group %r: %s (run the daemon as a member of the group)",
                             self.path, group, err.strerror)

    # ------------------------------------------------------------------ connections
    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if len(self._clients) >= self.max_clients:
            self.log.warning("refused a client: %d already connected", len(self._clients))
            writer.write(encode({"ok": False, "error": f"too many clients ({self.max_clients} connected): "
                                 "close another legctl session and try again"}))
            try:
                await asyncio.wait_for(writer.drain(), 1.0)
            except (asyncio.TimeoutError, ConnectionError, OSError):
                pass
            writer.close()
            return
        self._clients.add(task)
        try:
            await _Connection(self, reader, writer).serve()
        except asyncio.CancelledError:
            pass  # close() ends every connection; asyncio's stream callback must not see it as an error
        finally:
            self._clients.discard(task)


class _Connection:
    """One client: reads requests in order, answers each, and may carry a state stream."""

    def __init__(self, api: SocketApi, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.api = api
        self.hub = api.hub
        self.log = api.log
        self.reader = reader
        self.writer = writer
        self.uid = peer_uid(writer)
        self.outbox = Outbox(writer, f"client uid {self.uid}", api.log, api.outbox_size, api.drain_timeout_s)
        self.stream_tasks: list[asyncio.Task] = []

    async def serve(self) -> None:
        self.api.outboxes.append(self.outbox)
        pump = asyncio.create_task(self.outbox.run())
        reading = asyncio.create_task(self._read_loop())
        try:
            # ends when the client closes, or when the outbox gives up on a client that does not read
            await asyncio.wait({pump, reading}, return_when=asyncio.FIRST_COMPLETED)
            if not pump.done():  # the client closed: let the last answers go out
                for task in self.stream_tasks:
                    task.cancel()
                self.outbox.finish()
                await asyncio.wait({pump}, timeout=self.outbox.drain_timeout_s)
        finally:
            for task in (*self.stream_tasks, reading, pump):
                task.cancel()
            await asyncio.gather(*self.stream_tasks, reading, pump, return_exceptions=True)
            self.api.outboxes.remove(self.outbox)
            self.writer.close()

    async def _read_loop(self) -> None:
        try:
            async for line in read_lines(self.reader):
                if self.outbox.closed:
                    return  # gone, or not reading: what it sent after that gets no work from us
                try:
                    answer = await self._answer(line)
                except Exception:  # noqa: BLE001 - one bad request must not end the connection silently
                    self.log.exception("request from uid %d failed", self.uid)
                    answer = {"ok": False, "error": "internal error while answering this request (see the daemon's log)"}
                if answer is not None:
                    await self.outbox.put(encode(answer))
                await asyncio.sleep(0)  # one request at a time: the scan cycle runs in between
        except LineDeadline:
            self.log.warning("client uid %d left a request line unfinished for %g s: disconnecting",
                             self.uid, LINE_DEADLINE_S)
            await self.outbox.put(encode({"ok": False, "error": f"request line not finished within "
                                          f"{LINE_DEADLINE_S:g} s: disconnecting"}))
        except (ConnectionError, OSError):
            pass

    async def _answer(self, line: Any) -> dict | None:
        if line is _TOO_LONG:
            return {"ok": False, "error": f"request line longer than {MAX_LINE_BYTES} bytes: ignored; "
                    "send one JSON object per line"}
        if not line.strip():
            return None
        try:
            req = bounded_loads(line, max_bytes=MAX_LINE_BYTES, max_depth=REQUEST_MAX_DEPTH)
        except JsonRefused as err:
            return {"ok": False, "error": f"request refused: {err}; send one JSON object per line, "
                    "like {\"request\": \"status\"}"}
        if not isinstance(req, dict):
            return {"ok": False, "error": "request must be a JSON object like {\"request\": \"status\"}, "
                    f"not a JSON {type(req).__name__}"}
        kind = req.get("request")
        if kind is None and isinstance(req.get("command"), str):
            return await self._command(req, req)  # shorthand: a bare command object
        answer = await self._dispatch(kind, req)
        if "id" in req and kind != "command" and isinstance(answer, dict):
            answer.setdefault("id", req["id"])
        return answer

    async def _dispatch(self, kind: Any, req: dict) -> dict:
        if kind == "ping":
            return {"ok": True, "pong": True}
        if kind == "status":
            return {"ok": True, "state": self.hub.snapshot().json_ready()}
        if kind == "faults":
            return {"ok": True, "faults": self.hub.fault_log()}
        if kind == "programs":
            return {"ok": True, "programs": self.hub.programs()}
        if kind == "history":
            return {"ok": True, "history": self.hub.history()}
        if kind == "command":
            payload = req.get("command")
            if not isinstance(payload, dict):
                return {"ok": False, "error": "field 'command' must be an object like {\"command\": \"stop\"}"}
            return await self._command(payload, req)
        if kind == "stream":
            return await self._start_stream(req)
        if kind is None:
            return {"ok": False, "error": "missing field 'request' (one of: " + ", ".join(REQUESTS) + ")"}
        return {"ok": False, "error": f"unknown request {kind!r} (one of: " + ", ".join(REQUESTS) + ")"}

    async def _command(self, payload: dict, req: dict) -> dict:
        name = payload.get("command")
        self.log.info("command %s from uid %d", name, self.uid)
        try:
            cmd = parse_command(payload, Source.SOCKET)
        except CommandError as err:
            return {"ok": False, "id": payload.get("id"), "error": str(err), "data": None}
        if "timeout_s" in req and req["timeout_s"] is not None:
            try:
                timeout = seconds_field(req["timeout_s"], "timeout_s", 0.0, MAX_COMMAND_TIMEOUT_S, low_open=True)
            except ValueError as err:
                return {"ok": False, "id": payload.get("id"), "error": str(err), "data": None}
        else:
            timeout = LONG_COMMAND_TIMEOUT_S if name in LONG_COMMANDS else COMMAND_TIMEOUT_S
        result = await self.hub.submit(cmd, Source.SOCKET, peer=f"uid:{self.uid}", timeout=timeout)
        return result.model_dump(mode="json")

    async def _start_stream(self, req: dict) -> dict | None:
        if self.stream_tasks:
            return {"ok": False, "error": "this connection is already streaming: open another one"}
        try:
            interval = seconds_field(req.get("interval_s", STREAM_INTERVAL_S), "interval_s",
                                     MIN_STREAM_INTERVAL_S, MAX_STREAM_INTERVAL_S)
        except ValueError as err:
            return {"ok": False, "error": str(err)}
        answer = {"ok": True, "streaming": True, "interval_s": interval}
        if "id" in req:
            answer["id"] = req["id"]
        await self.outbox.put(encode(answer))  # before any state line
        states = self.hub.subscribe_state()
        events = self.hub.subscribe_events()
        first = self.hub.snapshot()  # sent at once, so a viewer has something to show
        self.stream_tasks = [asyncio.create_task(self._stream_states(states, first, interval)),
                             asyncio.create_task(self._stream_events(events))]
        return None

    async def _stream_states(self, sub, snapshot: State, interval: float) -> None:
        with sub:
            while True:
                self.outbox.offer_state(encode({"state": snapshot.json_ready()}))
                await asyncio.sleep(interval)
                snapshot = await sub.get()
                while not sub.empty():  # only the newest matters to a viewer
                    snapshot = sub.get_nowait()

    async def _stream_events(self, sub) -> None:
        with sub:
            async for event in sub:
                await self.outbox.put(encode({"event": event}))


class LineDeadline(Exception):
    """A client began a request line and did not finish it within ``LINE_DEADLINE_S``."""


def seconds_field(value: Any, name: str, low_s: float, high_s: float, *, low_open: bool = False) -> float:
    """A request's duration field as a float, or ``ValueError`` naming the field and the range.

    NaN and infinity are refused: a NaN handed to ``asyncio.sleep`` or ``wait_for`` puts a NaN
    deadline in the event loop's timer heap, which then fires other timers (the scan cycle's)
    seconds late."""
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
          and (value > low_s if low_open else value >= low_s) and value <= high_s)
    if not ok:
        low = f"more than {low_s:g}" if low_open else f"at least {low_s:g}"
        shown = json.dumps(value)[:40] if isinstance(value, (int, float, str, bool, type(None))) else type(value).__name__
        raise ValueError(f"{name} must be a finite number of seconds, {low} and at most {high_s:g} (got {shown})")
    return float(value)


async def read_lines(reader: asyncio.StreamReader, line_deadline_s: float = LINE_DEADLINE_S) -> AsyncIterator[Any]:
    """Request lines, or ``_TOO_LONG`` once for a line over the limit (its rest is skipped).

    Raises ``LineDeadline`` when a begun line is not finished within ``line_deadline_s``."""
    loop = asyncio.get_running_loop()
    buf = bytearray()
    discarding = False
    line_started_s: float | None = None
    while True:
        if buf or discarding:
            line_started_s = loop.time() if line_started_s is None else line_started_s
            left_s = line_started_s + line_deadline_s - loop.time()
            try:
                async with asyncio.timeout(max(left_s, 0.0)):
                    chunk = await reader.read(65536)
            except TimeoutError:
                raise LineDeadline() from None
        else:
            line_started_s = None
            chunk = await reader.read(65536)
        if not chunk:
            if buf and not discarding:
                yield bytes(buf)
            return
        buf += chunk
        while True:
            end = buf.find(b"\n")
            if end < 0:
                if len(buf) > MAX_LINE_BYTES:
                    if not discarding:
                        yield _TOO_LONG
                    discarding = True
                    buf.clear()
                break
            line = bytes(buf[:end])
            del buf[:end + 1]
            line_started_s = None
            if discarding:
                discarding = False
                continue
            yield _TOO_LONG if len(line) > MAX_LINE_BYTES else line
