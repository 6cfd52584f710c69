"""Bus time per scan tick on a Pi, estimated from the simulated bus's transaction log.

The default machine runs ``full_leg`` on the simulator (heat, compression and rollers all
working) for ``SECONDS`` of machine time with the fake bus recording every transfer; each
tick's transfers (its reads and its writes) go through the timing model of sim/bus_timing.py
at each bus clock and each Pi's assumed per-transfer overhead: worst tick, 99th percentile and
mean. The machine runs once per bus clock, configured at that clock, so the rate it chose at
start (``fast_hz``: 50 Hz, or lower when the worst tick does not fit half a period) and the
schedule at that rate are what is timed. **Estimates from the model, not measurements.**
"""

from __future__ import annotations

import tempfile

from controller.app.daemon import RunOptions, run_fast
from controller.model.config import load_config
from sim.bus_timing import HOSTS, BusTimeModel, tick_stats

SECONDS = 60.0  # of machine time: every pad many times over, waves on both legs, rollers running
CLOCKS_HZ = (100_000, 400_000)
PROGRAM = "full_leg"


def _ticks_of_run(clock_hz: int, seconds: float) -> tuple[list[list], float]:
    """Each tick's transfers of a run configured at ``clock_hz``, and the rate it ran at."""
    base = load_config()
    cfg = base.model_copy(update={"board": base.board.model_copy(update={"i2c_clock_hz": clock_hz})})
    ticks: list[list] = []

    async def during(sup) -> None:
        bus = sup.sim.bus
        bus.record_transfers(True)
        sup.observers.append(lambda record: ticks.append(bus.take_transfers()))

    with tempfile.TemporaryDirectory() as state:
        result = run_fast(RunOptions(config=cfg, state_dir=state, sim=True, program=PROGRAM, intensity=3,
                                     mqtt=False, panel=False, socket_path=None, max_runtime_s=seconds), during)
    return ticks[1:], result.supervisor.config.rates.fast_hz  # the first tick's log began mid-tick


def run(seconds: float = SECONDS) -> dict:
    rows = []
    base = load_config()
    adcs = [a.address for a in base.board.adcs.values()]
    for clock_hz in CLOCKS_HZ:
        ticks, fast_hz = _ticks_of_run(clock_hz, seconds)
        for host in HOSTS:
            model = BusTimeModel(clock_hz, host, adcs)
            stats = tick_stats([model.tick_s(t) for t in ticks])
            rows.append({"clock_khz": clock_hz // 1000, "host": host.name,
                         "overhead_ms": round(host.overhead_s * 1000, 3), "scan_hz": round(fast_hz, 2),
                         "period_ms": round(1000 / fast_hz, 1), "ticks": stats.ticks,
                         "worst_ms": round(stats.worst_s * 1000, 2), "p99_ms": round(stats.p99_s * 1000, 2),
                         "mean_ms": round(stats.mean_s * 1000, 2),
                         "worst_share": f"{stats.worst_s * fast_hz:.0%}",
                         "transfers_per_tick": round(sum(map(len, ticks)) / len(ticks), 1)})
    return {"program": PROGRAM, "seconds": seconds, "estimate": "from sim/bus_timing.py, not measured on a Pi",
            "ticks": rows}
