"""The one stand-in for the supervisor behind a ``MachineHub``, for the socket and MQTT tests.

The interfaces only see the hub, so they can be tested against a machine whose behaviour the
test controls (a failing self-test, a refused start, a machine that stops answering) without
the plant physics. It publishes real ``State`` snapshots (the model every interface reads),
with the runner's modes, so a test fake can no longer drift from what the machine publishes.

* ticks every ``tick_s`` (50 Hz by default, like the scan cycle), publishing a snapshot each
  tick and after each command;
* answers ``hub.commands`` in order (``answering`` cleared: it stops answering, like a
  machine busy with a long operation), keeps a mode, emits session events; its refusals are
  worded as the runner words them;
* remembers what reached it (``received``: command, source, peer).

Run as a script (``python -m tests.fake_machine --port N``) it is a whole machine behind an
MQTT bridge in its own process, so a test can kill it with SIGKILL and watch the last will.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any, Callable

from controller.machine.hub import MachineHub
from controller.model.commands import CommandResult
from controller.model.faults import Severity
from controller.model.state import ChamberState, FaultState, Mode, PadState, RollerState, State
from controller.model.profile import Profile

PADS = ("left_foot", "left_calf", "right_foot", "right_calf")
CHAMBERS = ("left_foot", "left_calf", "left_thigh", "right_foot", "right_calf", "right_thigh")
ROLLERS = ("left_foot", "left_calf", "right_foot", "right_calf")
PROGRAMS = (
    {"id": "quick_circulation", "name": "Quick circulation", "duration_s": 180.0, "summary": "the 3-minute routine",
     "for_whom": ["standing jobs"], "category": "circulation", "deep": False},
    {"id": "deep_tissue", "name": "Deep tissue", "duration_s": 1200.0, "summary": "strong pressure and friction",
     "for_whom": ["athletes"], "category": "deep", "deep": True},
    {"id": "lymphatic", "name": "Lymphatic drainage", "duration_s": 1200.0, "summary": "gentle, slow waves",
     "for_whom": ["swelling"], "category": "drainage", "deep": False},
)
FAULT_LOG = [{"time": "2024-05-01T10:00:00", "code": "over_temp", "severity": "lockout", "zone": "left_calf",
              "message": "left_calf pad at 45.3 °C"}]
PROFILE = Profile().flags()  # every flag off


def fault(code: str, severity: str | Severity = Severity.STOP, zone: str | None = None, t_s: float = 1.0,
          message: str | None = None) -> FaultState:
    """An active fault as the state shows it."""
    return FaultState(code=code, severity=severity, zone=zone, t_s=t_s, message=message or f"{code} ({zone})")


def make_state(mode: Mode | str = Mode.IDLE, *, pads: dict[str, dict] | None = None,
               chambers: dict[str, dict] | None = None, rollers: dict[str, dict] | None = None,
               **fields: Any) -> State:
    """A whole ``State`` of a quiet machine (nothing heating, filling or turning), changed by
    ``fields``; ``pads``/``chambers``/``rollers`` change single zones (``{"left_calf":
    {"target_c": 39.0}}``), the other zones keep the quiet values."""
    def zones(names, quiet: dict, changes: dict | None) -> dict[str, dict]:
        return {z: {**quiet, **(changes or {}).get(z, {})} for z in names}

    base: dict[str, Any] = dict(
        seq=1, t_s=0.2, mode=Mode(mode), program=None, program_name=None, phase=None, phase_index=None,
        elapsed_s=0.0, remaining_s=0.0, intensity=3, heat_on=True, profile=dict(PROFILE), relay_closed=False,
        pump_duty=0.0, estop=False, faults=(), lockout=False)
    base.update(fields)
    base["pads"] = {z: PadState(**v) for z, v in zones(
        PADS, {"temp_c": 24.0, "temp2_c": 24.1, "target_c": None, "duty": 0.0}, pads).items()}
    base["chambers"] = {z: ChamberState(**v) for z, v in zones(
        CHAMBERS, {"pressure_mmhg": 0.0, "target_mmhg": 0.0, "fill_open": False, "vent_open": True},
        chambers).items()}
    base["rollers"] = {z: RollerState(**v) for z, v in zones(
        ROLLERS, {"speed": 0.0, "current_a": 0.0}, rollers).items()}
    return State(**base)


class FakeMachine:
    """Just enough machine to answer commands and show it is alive."""

    def __init__(self, hub: MachineHub, *, tick_s: float = 0.02, programs=PROGRAMS,
                 on_apply: Callable[[Any], None] | None = None) -> None:
        self.hub = hub
        self.tick_s = tick_s
        self.programs = [dict(p) for p in programs]
        self.on_apply = on_apply  # called with each command the machine carried out
        hub.program_lister = lambda: [dict(p) for p in self.programs]
        hub.program_ids = tuple(p["id"] for p in self.programs)
        hub.fault_log_reader = lambda: [dict(e) for e in FAULT_LOG]
        self.mode = Mode.IDLE
        self.program: str | None = None
        self.selected_program: str | None = self.programs[0]["id"] if self.programs else None
        self.intensity = 3
        self.heat_on = True
        self.elapsed_s = 0.0
        self.selftest_fails = False
        self.faults: list[FaultState] = []
        self.received: list[tuple[Any, Any, str | None]] = []  # (command, source, peer), in order
        self.ticks = 0
        self.max_tick_gap_s = 0.0
        #: clear it to stop answering commands (a machine stuck in a long operation)
        self.answering = asyncio.Event()
        self.answering.set()
        self._seq = 0

    @property
    def applied(self) -> list[Any]:
        """Every command that reached the machine, in order."""
        return [command for command, _, _ in self.received]

    # ------------------------------------------------------------------ running
    async def run(self) -> None:
        self.publish()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._tick_loop())
            tg.create_task(self._command_loop())

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(self.tick_s)
            now = loop.time()
            self.max_tick_gap_s = max(self.max_tick_gap_s, now - last)
            last = now
            if self.mode is Mode.RUNNING:
                self.elapsed_s += self.tick_s
            self.ticks += 1
            self.publish()

    async def _command_loop(self) -> None:
        while True:
            pending = await self.hub.commands.get()
            await self.answering.wait()
            self.received.append((pending.command, pending.source, pending.peer))
            result = self._apply(pending.command)
            if result.ok and self.on_apply is not None:
                self.on_apply(pending.command)
            if not pending.future.done():
                pending.future.set_result(result)
            self.publish()

    def publish(self) -> None:
        self.hub.publish_state(self.state())

    # ------------------------------------------------------------------ commands
    def _apply(self, cmd: Any) -> CommandResult:
        name = cmd.command
        if name == "start":
            program = cmd.program or self.selected_program
            if program not in {p["id"] for p in self.programs}:
                return CommandResult.refused(cmd, f"unknown program {program!r}: see legctl programs")
            if self.mode.in_session:
                return CommandResult.refused(cmd, f"a session is already {self.mode}: stop it first")
            self.mode, self.program = Mode.RUNNING, program
            self.selected_program = program
            if cmd.intensity is not None:  # what the command leaves out stays as set
                self.intensity = cmd.intensity
            if cmd.heat is not None:
                self.heat_on = cmd.heat
            self.elapsed_s = 0.0
            self._event("session_start", program=program)
        elif name == "select_program":
            if cmd.program not in {p["id"] for p in self.programs}:
                return CommandResult.refused(cmd, f"unknown program {cmd.program!r}: see legctl programs")
            self.selected_program = cmd.program
        elif name == "pause":
            if self.mode is not Mode.RUNNING:
                return CommandResult.refused(cmd, f"nothing to pause: the machine is {self.mode}")
            self.mode = Mode.PAUSED
        elif name == "resume":
            if self.mode is not Mode.PAUSED:
                return CommandResult.refused(cmd, f"nothing to resume: the machine is {self.mode}")
            self.mode = Mode.RUNNING
        elif name == "stop":
            if self.mode.in_session:
                self._event("session_end", program=self.program, outcome=Mode.STOPPED.value, reason="stopped")
            self.mode, self.program = Mode.IDLE, None
        elif name == "set_intensity":
            self.intensity = cmd.intensity
        elif name == "set_heat":
            self.heat_on = cmd.on
        elif name == "selftest":
            return self._selftest(cmd)
        elif name == "manual":
            return CommandResult.accepted(cmd, {"output": cmd.output, "value": cmd.value})
        # set_profile, ack and the technician's commands: accepted, nothing to show for them
        return CommandResult.accepted(cmd)

    def _selftest(self, cmd: Any) -> CommandResult:
        checks = [{"name": "relay", "ok": True, "detail": "drops in 120 ms"},
                  {"name": "pump", "ok": True, "detail": "40 mmHg in 2.1 s"},
                  {"name": "vent:left_calf", "ok": not self.selftest_fails,
                   "detail": "still 31 mmHg after 5 s" if self.selftest_fails else "below 10 mmHg in 1.2 s"}]
        if self.selftest_fails:
            return CommandResult(id=cmd.id, ok=False, error="self-test failed: vent:left_calf", data={"checks": checks})
        return CommandResult.accepted(cmd, {"checks": checks})

    def _event(self, kind: str, **fields: Any) -> None:
        self.hub.publish_event({"type": kind, "t_s": round(self.ticks * self.tick_s, 3), **fields})

    # ------------------------------------------------------------------ the snapshot
    def state(self) -> State:
        """This tick's snapshot: a session shows a warming pad and a filling foot chamber."""
        self._seq += 1
        session = self.mode.in_session
        running = self.mode is Mode.RUNNING
        program = next((p for p in self.programs if p["id"] == self.program), None) if session else None
        return make_state(
            self.mode, seq=self._seq, t_s=self.ticks * self.tick_s,
            program=program["id"] if program else None, program_name=program["name"] if program else None,
            phase="warm_up" if program else None, phase_index=0 if program else None,
            elapsed_s=self.elapsed_s if session else 0.0,
            remaining_s=max(0.0, program["duration_s"] - self.elapsed_s) if program else 0.0,
            intensity=self.intensity, heat_on=self.heat_on, relay_closed=session,
            selected_program=self.selected_program,
            pump_duty=0.6 if running else 0.0,
            pads={z: {"temp_c": 36.4, "temp2_c": 36.2, "target_c": 40.0 if session and self.heat_on else None,
                      "duty": 0.45 if session and self.heat_on else 0.0} for z in PADS},
            chambers={"left_foot": {"pressure_mmhg": 38.5, "target_mmhg": 40.0, "fill_open": True,
                                    "vent_open": False}},
            rollers={z: {"speed": 0.3 if running else 0.0, "current_a": 0.42 if running else 0.0} for z in ROLLERS},
            faults=tuple(self.faults), lockout=any(f.severity is Severity.LOCKOUT for f in self.faults))


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll a condition on the event loop (never time.sleep): socket I/O runs in real time."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


# --- a whole machine in its own process -----------------------------------------------------------


async def _serve(host: str, port: int, device_id: str) -> None:
    from controller.interfaces.mqtt import MqttBridge
    from controller.model.config import MqttSettings

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
