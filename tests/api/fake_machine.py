"""A stand-in for the supervisor behind the hub: answers commands, publishes snapshots.

The socket API only sees the hub, so the interface can be tested against a machine whose
behaviour the test controls (a failing self-test, a refused start) without the plant physics.
"""

from __future__ import annotations

import asyncio

from controller.model.commands import CommandResult
from controller.machine.hub import MachineHub

PROGRAMS = [
    {"id": "quick_circulation", "name": "Quick circulation", "duration_s": 180, "summary": "the 3-minute routine",
     "for_whom": ["standing jobs"], "category": "circulation", "deep": False},
    {"id": "deep_tissue", "name": "Deep tissue", "duration_s": 1200, "summary": "strong pressure and friction",
     "for_whom": ["athletes"], "category": "deep", "deep": True},
]
PADS = ("left_foot", "left_calf", "right_foot", "right_calf")
CHAMBERS = ("left_foot", "left_calf", "left_thigh", "right_foot", "right_calf", "right_thigh")
ROLLERS = ("left_foot", "left_calf", "right_foot", "right_calf")


class FakeMachine:
    def __init__(self, hub: MachineHub) -> None:
        self.hub = hub
        self.received: list = []  # (command, source, peer) in arrival order
        self.mode = "idle"
        self.program: str | None = None
        self.intensity = 3
        self.heat_on = True
        self.seq = 0
        self.selftest_fails = False
        self.faults: list[dict] = []
        hub.fault_log_reader = lambda: [{"time": "2024-05-01T10:00:00", "code": "over_temp", "severity": "lockout",
                                         "zone": "left_calf", "message": "left_calf pad at 45.3 °C"}]
        hub.program_lister = lambda: list(PROGRAMS)

    def snapshot(self) -> dict:
        running = self.mode in ("running", "paused")
        self.seq += 1
        return {
            "seq": self.seq, "t_s": self.seq * 0.2, "mode": self.mode,
            "program": self.program if running else None,
            "program_name": "Quick circulation" if running else None,
            "phase": "warm_up" if running else None, "phase_index": 0 if running else None,
            "elapsed_s": 12.0 if running else 0.0, "remaining_s": 168.0 if running else 0.0,
            "intensity": self.intensity, "heat_on": self.heat_on,
            "profile": {"varicose_veins": False, "wound_or_infection": False, "suspected_clot": False,
                        "pregnancy": False},
            "relay_closed": running, "pump_duty": 0.6 if self.mode == "running" else 0.0, "estop": False,
            "pads": {z: {"temp_c": 36.4, "temp2_c": 36.2, "target_c": 40.0 if running else None,
                         "duty": 0.45 if running else 0.0} for z in PADS},
            "chambers": {z: {"pressure_mmhg": 38.5 if z == "left_foot" else 0.0, "target_mmhg": 40.0,
                             "fill_open": z == "left_foot", "vent_open": z != "left_foot"} for z in CHAMBERS},
            "rollers": {z: {"speed": 0.3 if running else 0.0, "current_a": 0.42} for z in ROLLERS},
            "faults": list(self.faults), "lockout": False, "problem": bool(self.faults),
            "problem_text": "; ".join(f["message"] for f in self.faults),
        }

    def publish(self) -> None:
        self.hub.publish_state(self.snapshot())

    async def run(self, tick_s: float = 0.1) -> None:
        """Publish a snapshot every tick (as the supervisor does) and after each command."""
        self.publish()
        while True:
            try:
                pending = await asyncio.wait_for(self.hub.commands.get(), tick_s)
            except asyncio.TimeoutError:
                self.publish()
                continue
            self.received.append((pending.command, pending.source, pending.peer))
            result = self.handle(pending.command)
            if not pending.future.done():
                pending.future.set_result(result)
            self.publish()

    def handle(self, cmd) -> CommandResult:
        name = cmd.command
        if name == "start":
            if cmd.program not in {p["id"] for p in PROGRAMS}:
                return CommandResult.refused(cmd, f"unknown program {cmd.program!r}: see legctl programs")
            if self.mode in ("running", "paused"):
                return CommandResult.refused(cmd, "a program is already running: stop it first")
            self.mode, self.program, self.intensity, self.heat_on = "running", cmd.program, cmd.intensity, cmd.heat
            self.hub.publish_event({"type": "session_start", "t_s": 1.0, "program": cmd.program})
            return CommandResult.accepted(cmd)
        if name == "pause":
            if self.mode != "running":
                return CommandResult.refused(cmd, f"nothing running to pause ({self.mode})")
            self.mode = "paused"
            return CommandResult.accepted(cmd)
        if name == "resume":
            if self.mode != "paused":
                return CommandResult.refused(cmd, f"nothing paused to resume ({self.mode})")
            self.mode = "running"
            return CommandResult.accepted(cmd)
        if name == "stop":
            self.mode, self.program = "idle", None
            return CommandResult.accepted(cmd)
        if name == "selftest":
            checks = [{"name": "relay", "ok": True, "detail": "drops in 120 ms"},
                      {"name": "pump", "ok": True, "detail": "40 mmHg in 2.1 s"},
                      {"name": "vent:left_calf", "ok": not self.selftest_fails,
                       "detail": "still 31 mmHg after 5 s" if self.selftest_fails else "below 10 mmHg in 1.2 s"}]
            if self.selftest_fails:
                return CommandResult(id=cmd.id, ok=False, error="self-test failed: vent:left_calf",
                                     data={"checks": checks})
            return CommandResult.accepted(cmd, {"checks": checks})
        if name == "manual":
            return CommandResult.accepted(cmd, {"output": cmd.output, "value": cmd.value})
        return CommandResult.accepted(cmd)


async def wait_for(predicate, timeout: float = 5.0) -> None:
    """Poll a condition on the event loop (never time.sleep): the socket I/O runs in real time."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)
