"""Where the ways in and out (MQTT, socket, panel) meet the machine.

The supervisor publishes a state snapshot each tick and events as they happen; each client
reads them at its own pace. Fan-out queues are bounded and drop the oldest item when a client
falls behind (counted), so a slow or dead client never stalls the scan cycle or grows memory.
Commands go the other way through one queue, each with a future for its result.

The snapshot is a ``controller.model.state.State`` (frozen, so every reader may keep it);
each interface turns it into JSON itself (``State.json_ready()``), at the edge.
Events: ``{"type": "fault" | "fault_cleared" | "session_start" | "session_end" | ..., "t_s": ...}``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from controller.model.commands import CommandResult, Source
from controller.model.state import State


class Subscription:
    """A bounded queue of items for one client; the oldest item is dropped when it is full."""

    def __init__(self, hub_list: list["Subscription"], maxsize: int) -> None:
        self._queue: asyncio.Queue = asyncio.Queue(maxsize)
        self._list = hub_list
        self.dropped = 0

    def put(self, item: Any) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(item)

    async def get(self) -> Any:
        return await self._queue.get()

    def get_nowait(self) -> Any:
        return self._queue.get_nowait()

    def empty(self) -> bool:
        return self._queue.empty()

    def close(self) -> None:
        if self in self._list:
            self._list.remove(self)

    def __aiter__(self):
        return self

    async def __anext__(self) -> Any:
        return await self.get()

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class PendingCommand:
    command: Any
    source: Source
    peer: str | None
    future: asyncio.Future = field(repr=False)


class MachineHub:
    """Snapshots and events out, commands in. One per machine; passed to every interface."""

    def __init__(self, command_queue_size: int = 64) -> None:
        self._snapshot: State = State.starting()
        self._changed = asyncio.Event()
        self._state_subs: list[Subscription] = []
        self._event_subs: list[Subscription] = []
        self.commands: asyncio.Queue[PendingCommand] = asyncio.Queue(command_queue_size)
        self.commands_dropped = 0
        #: technician-only views the supervisor fills in (fault log, program list)
        self.fault_log_reader = lambda: []
        self.program_lister = lambda: []
        self.history_reader = lambda: []
        #: the programs' ids in the library's order (the panel steps through them), set once
        self.program_ids: tuple[str, ...] = ()

    # --- publishing side (the supervisor) ---
    def publish_state(self, snapshot: State) -> None:
        self._snapshot = snapshot
        self._changed.set()
        self._changed = asyncio.Event()
        for sub in self._state_subs:
            sub.put(snapshot)

    def publish_event(self, event: dict) -> None:
        for sub in self._event_subs:
            sub.put(event)

    # --- reading side (interfaces) ---
    def snapshot(self) -> State:
        return self._snapshot

    async def wait_changed(self, timeout: float | None = None) -> State:
        """Wait for the next snapshot (or the timeout) and return the latest."""
        event = self._changed
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        return self._snapshot

    def subscribe_state(self, maxsize: int = 4) -> Subscription:
        sub = Subscription(self._state_subs, maxsize)
        self._state_subs.append(sub)
        return sub

    def subscribe_events(self, maxsize: int = 256) -> Subscription:
        sub = Subscription(self._event_subs, maxsize)
        self._event_subs.append(sub)
        return sub

    def fault_log(self) -> list[dict]:
        return self.fault_log_reader()

    def programs(self) -> list[dict]:
        return self.program_lister()

    def history(self) -> list[dict]:
        """The per-leg daily record, newest day first."""
        return self.history_reader()

    async def submit(self, command: Any, source: Source, peer: str | None = None,
                     timeout: float | None = 30.0) -> CommandResult:
        """Queue a validated command and wait for the machine's answer."""
        loop = asyncio.get_running_loop()
        pending = PendingCommand(command, source, peer, loop.create_future())
        try:
            self.commands.put_nowait(pending)
        except asyncio.QueueFull:
            self.commands_dropped += 1
            return CommandResult.refused(command, "machine busy: too many commands queued, try again")
        try:
            return await asyncio.wait_for(asyncio.shield(pending.future), timeout)
        except asyncio.TimeoutError:
            return CommandResult.refused(command, "no answer from the machine in time")
