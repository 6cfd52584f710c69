"""A board built on the simulator and ticked by hand at 50 Hz on a clock the test owns (virtual
time, no sleeping), relay closed: for the simulated-board tests (tests/machine/test_sim_board.py)
and the bus tests (tests/hardware/test_bus_failures.py, tests/machine/test_bus_recovery.py)."""

from __future__ import annotations

import pytest

from controller.machine.board import build_board, make_simulator
from controller.model.config import load_config
from controller.model.outputs import Outputs

TICK_S = 0.02


class BoardRig:
    def __init__(self):
        self.t = 1000.0
        self.cfg = load_config()
        self.sim = make_simulator(self.cfg, lambda: self.t)
        self.board = build_board(self.cfg, sim=self.sim)
        self.out = Outputs.safe(self.cfg.pad_names, self.cfg.chamber_names, self.cfg.roller_names).with_(
            relay_closed=True)
        self.readings = None
        self.heartbeat = True  # False: the heartbeat stops (the relay timer drops the power)
        self.errors = []  # each tick's reading errors, a list a tick

    def set(self, **changes):
        """Change ``out``; a per-zone field takes only the zones given."""
        merged = {}
        for key, value in changes.items():
            current = getattr(self.out, key)
            merged[key] = {**current, **value} if isinstance(current, dict) else value
        self.out = self.out.with_(**merged)

    async def run(self, seconds: float, thermal_every: int | None = 12):
        """Tick for ``seconds``: read (every pad on every ``thermal_every``-th tick from the first;
        None: only the board's own rotation), write ``out``, toggle the heartbeat (unless stopped)."""
        for i in range(int(round(seconds / TICK_S))):
            self.t += TICK_S
            thermal = thermal_every is not None and i % thermal_every == 0
            self.readings = await self.board.read(self.t, thermal=thermal)
            self.errors.append(self.readings.errors)
            await self.board.write(self.out)
            if self.heartbeat:
                self.board.toggle_heartbeat()
        return self.readings


@pytest.fixture
def board_rig():
    r = BoardRig()
    yield r
    r.board.close()
