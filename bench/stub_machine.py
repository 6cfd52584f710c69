"""The smallest machine behind a hub: what the MQTT latency bench measures the bridge against.

It ticks at the scan cycle's 50 Hz, publishing a ``State`` each tick, and carries out every
command at once (start → running, pause → paused, ...), calling ``on_apply`` with it, so the
bench sees the bridge's and the broker's cost alone. ``mqtt_latency.real_machine`` is the whole
machine on the simulator, for the numbers a person would see.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from controller.machine.hub import MachineHub
from controller.model.commands import CommandResult
from controller.model.state import Mode, State

#: the mode each command leaves the stub in (commands not listed leave it as it is)
MODE_AFTER = {"start": Mode.RUNNING, "pause": Mode.PAUSED, "resume": Mode.RUNNING, "stop": Mode.IDLE}


class StubMachine:
    def __init__(self, hub: MachineHub, on_apply: Callable[[Any], None], tick_s: float = 0.02) -> None:
        self.hub = hub
        self.on_apply = on_apply
        self.tick_s = tick_s
        self.state = State.starting().model_copy(update={"mode": Mode.IDLE, "intensity": 3, "heat_on": True})

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._ticks())
            tg.create_task(self._commands())

    async def _ticks(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._publish(seq=self.state.seq + 1, t_s=round(loop.time(), 3))
            await asyncio.sleep(self.tick_s)

    async def _commands(self) -> None:
        while True:
            pending = await self.hub.commands.get()
            cmd = pending.command
            change: dict[str, Any] = {"mode": MODE_AFTER.get(cmd.command, self.state.mode)}
            if cmd.command == "set_intensity":
                change["intensity"] = cmd.intensity
            self._publish(**change)
            self.on_apply(cmd)
            if not pending.future.done():
                pending.future.set_result(CommandResult.accepted(cmd))

    def _publish(self, **change: Any) -> None:
        self.state = self.state.model_copy(update=change)
        self.hub.publish_state(self.state)
