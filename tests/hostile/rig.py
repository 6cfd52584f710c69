"""A simulated machine with its technician socket, on the fast-forwarding loop, and a tick
watcher: the rig every "does the scan cycle keep its rate under attack" test runs on.

The machine's clock is virtual (``run_fast``); the socket is real. A late tick shows in two
places: the gap between consecutive ticks' times, and the ``tick_late`` fault the safety
monitor raises past 3 periods.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable

from controller.app.daemon import RunOptions, run_fast
from controller.model.config import load_config


@dataclass
class TickWatch:
    """An observer of every tick: the longest gap between two ticks' start times."""

    last_t_s: float | None = None
    max_gap_s: float = 0.0
    ticks: int = 0

    def __call__(self, record) -> None:
        if self.last_t_s is not None:
            self.max_gap_s = max(self.max_gap_s, record.t_s - self.last_t_s)
        self.last_t_s = record.t_s
        self.ticks += 1


@dataclass
class RunOutcome:
    period_s: float
    watch: TickWatch
    fault_codes: list[str]
    raised_codes: list[str]
    data: dict = field(default_factory=dict)

    def assert_no_late_tick(self) -> None:
        assert self.watch.ticks > 100, "the machine hardly ran"
        assert "tick_late" not in self.fault_codes, self.fault_codes
        assert "tick_late" not in self.raised_codes, "a tick was late (and the watchdog forced the safe state)"
        # one period between ticks, a little slack for the fast-forward clock's rounding
        assert self.watch.max_gap_s <= 1.5 * self.period_s, f"a tick came {self.watch.max_gap_s:.3f} s after the last"


def run_with_socket(state_dir: Path, attack: Callable[[object, str, dict], Awaitable[None]], *,
                    program: str | None = "warm_up", max_runtime_s: float = 120.0) -> RunOutcome:
    """Run the sim machine with a socket; ``await attack(supervisor, socket_path, data)``; stop."""
    sock_dir = tempfile.mkdtemp(prefix="lt-", dir="/tmp")
    cfg = load_config()
    opts = RunOptions(config=cfg, state_dir=str(state_dir), sim=True, mqtt=False,
                      socket_path=f"{sock_dir}/s.sock", panel=False, max_runtime_s=max_runtime_s, program=program)
    watch = TickWatch()
    data: dict = {}
    raised: list[str] = []

    async def during(sup) -> None:
        sup.observers.append(watch)

        sup.observers.append(lambda record: raised.extend(f.code for f in record.new_faults))
        try:
            await attack(sup, opts.socket_path, data)
        finally:
            data["codes"] = [f.code for f in sup.latch.active()]
            sup.stop()

    try:
        run_fast(opts, during)
    finally:
        shutil.rmtree(sock_dir, ignore_errors=True)
    return RunOutcome(cfg.rates.period_s, watch, data.pop("codes"), raised, data)


async def ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, line: bytes | dict,
              timeout_s: float = 5.0) -> dict:
    writer.write(line if isinstance(line, bytes) else json.dumps(line).encode() + b"\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.readline(), timeout_s)
    assert answer, "the daemon closed the connection without an answer"
    return json.loads(answer)
