"""Flight recorders: the CSV trace and the JSON session report.

Both observe the scan cycle's ``TickRecord`` (outputs as the gate wrote them, readings as the
sensors gave them). Column names and report keys are interfaces: add, never rename.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from controller.machine.snapshot import TickRecord
from controller.model.state import Mode


def _f(x, digits: int = 3) -> str:
    if x is None:
        return ""
    if isinstance(x, bool):
        return "1" if x else "0"
    if isinstance(x, float) and not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


class TraceWriter:
    """One row per fast tick (or every ``every``-th tick; ticks with a new fault are always kept).

    ``strokes.<leg>`` is the session's count of completed upward strokes on that leg (waves
    whose most proximal chamber reached its target): the controller counts since start, the
    trace from the session's first running tick."""

    def __init__(self, path: str | Path, pads: list[str], chambers: list[str], rollers: list[str], every: int = 1,
                 legs: tuple[str, ...] = ("left", "right")) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "w", newline="")
        self._w = csv.writer(self._fh)
        self.pads, self.chambers, self.rollers = pads, chambers, rollers
        self.every = max(1, every)
        self._n = 0
        self.legs = legs
        self._stroke_base: dict[str, int] = {leg: 0 for leg in legs}
        self._in_session = False
        header = ["t_s", "mode", "faults", "relay_closed", "pump_duty"]
        for z in pads:
            header += [f"pad.{z}.temp_c", f"pad.{z}.temp2_c", f"pad.{z}.target_c", f"pad.{z}.duty"]
        for z in chambers:
            header += [f"chamber.{z}.pressure_mmhg", f"chamber.{z}.target_mmhg", f"chamber.{z}.fill_open",
                       f"chamber.{z}.vent_open"]
        for z in rollers:
            header += [f"roller.{z}.speed", f"roller.{z}.current_a"]
        header += [f"strokes.{leg}" for leg in legs]
        self._w.writerow(header)

    def __call__(self, rec: TickRecord) -> None:
        in_session = Mode(rec.mode).in_session
        if in_session and not self._in_session:  # a session begins: count its strokes from here
            self._stroke_base = {leg: rec.strokes.get(leg, 0) for leg in self.legs}
        self._in_session = in_session
        self._n += 1
        if (self._n - 1) % self.every and not rec.new_faults:
            return
        r, o = rec.readings, rec.outputs
        row = [f"{rec.t_s:.3f}", rec.mode, "|".join(rec.fault_codes), _f(o.relay_closed), _f(o.pump_duty)]
        for z in self.pads:
            pr = r.pads[z]
            row += [_f(pr.temp_c, 2), _f(pr.temp2_c, 2), _f(rec.heat_targets_c.get(z), 1), _f(o.heater_duty[z])]
        for z in self.chambers:
            row += [_f(r.pressure_mmhg[z], 2), _f(rec.pressure_targets_mmhg.get(z, 0.0), 1), _f(o.fill_open[z]),
                    _f(o.vent_open[z])]
        for z in self.rollers:
            row += [_f(o.roller_speed[z]), _f(r.roller_current_a[z])]
        row += [str(rec.strokes.get(leg, 0) - self._stroke_base[leg]) for leg in self.legs]
        self._w.writerow(row)

    def close(self) -> None:
        self._fh.close()


class _PadStats:
    __slots__ = ("peak_c", "err_sum", "err_n", "max_abs_err_c", "overshoot_c", "settled", "target", "reading",
                 "from_above")

    def __init__(self) -> None:
        self.peak_c = -math.inf
        self.err_sum = 0.0
        self.err_n = 0
        self.max_abs_err_c = 0.0
        self.overshoot_c = 0.0
        self.settled = False
        self.target: float | None = None
        self.reading = None  # the PadReading last looked at (between thermal ticks it is the same)
        # coming down to a lower target (a step down, or a pad warmer than its target): cooling
        # towards it is no overshoot, so overshoot counts only once the pad has reached it
        self.from_above = False


class _ChamberStats:
    __slots__ = ("peak_mmhg", "err_sum", "err_n", "max_abs_err_mmhg", "overshoot_mmhg", "target", "settled",
                 "fills", "fills_reached", "fills_short", "fills_cut_short", "worst_shortfall_mmhg",
                 "fill_target", "fill_peak")

    def __init__(self) -> None:
        self.peak_mmhg = 0.0
        self.err_sum = 0.0
        self.err_n = 0
        self.max_abs_err_mmhg = 0.0
        self.overshoot_mmhg = 0.0
        self.target = 0.0
        self.settled = False
        # Every fill, not only those that got close: a fill runs from its target appearing until
        # the target goes (the vent) or changes. It reached its target if its peak came within
        # FILL_BAND_MMHG; one that ended short on a phase change or the end of the session was
        # cut short (counted apart: no shortfall of the plant); any other fell short.
        self.fills = 0
        self.fills_reached = 0
        self.fills_short = 0
        self.fills_cut_short = 0
        self.worst_shortfall_mmhg = 0.0
        self.fill_target = 0.0  # the fill in progress (0: none)
        self.fill_peak = 0.0

    def end_fill(self, cut: bool, band_mmhg: float) -> None:
        """The fill in progress (if any) is over: count it."""
        if self.fill_target <= 0.0:
            return
        kind, shortfall = self._judge(cut, band_mmhg)
        if kind == "reached":
            self.fills_reached += 1
        elif kind == "cut":
            self.fills_cut_short += 1
        else:
            self.fills_short += 1
            if shortfall > self.worst_shortfall_mmhg:
                self.worst_shortfall_mmhg = shortfall
        self.fill_target = 0.0

    def _judge(self, cut: bool, band_mmhg: float) -> tuple[str, float]:
        shortfall = self.fill_target - self.fill_peak
        if shortfall <= band_mmhg:
            return "reached", shortfall
        return ("cut" if cut else "short"), shortfall

    def fill_counts(self, band_mmhg: float) -> dict:
        """The report's fill keys; a fill still in progress counts as cut short by the report
        (unless it already reached its target)."""
        reached, cut = self.fills_reached, self.fills_cut_short
        if self.fill_target > 0.0:
            if self._judge(True, band_mmhg)[0] == "reached":
                reached += 1
            else:
                cut += 1
        return {"fills": self.fills, "fills_reached": reached, "fills_short": self.fills_short,
                "fills_cut_short": cut, "worst_shortfall_mmhg": round(self.worst_shortfall_mmhg, 2)}


class ReportBuilder:
    """Peaks and tracking errors per pad and chamber, the faults, and how the session ended."""

    SETTLE_BAND_C = 0.5  # pad tracking counts once the pad first comes within this of target
    FILL_BAND_MMHG = 3.0  # chamber tracking counts (while holding) once a fill came this close

    def __init__(self, pads: list[str], chambers: list[str]) -> None:
        self.pad_stats = {z: _PadStats() for z in pads}
        self.chamber_stats = {z: _ChamberStats() for z in chambers}
        self.faults: list[dict] = []
        self.first_t: float | None = None
        self.last_t: float | None = None
        self.modes: list[tuple[float, Mode]] = []

    def __call__(self, rec: TickRecord) -> None:
        if self.first_t is None:
            self.first_t = rec.t_s
        self.last_t = rec.t_s
        if not self.modes or self.modes[-1][1] != rec.mode:
            self.modes.append((rec.t_s, rec.mode))
        for f in rec.new_faults:
            self.faults.append({"code": f.code, "severity": f.severity.value, "zone": f.zone,
                                "t_s": round(f.t_s, 3), "message": f.message})
        isfinite = math.isfinite
        readings = rec.readings
        pads, thermal_fresh = readings.pads, readings.thermal_fresh
        heat_targets = rec.heat_targets_c
        for z, s in self.pad_stats.items():
            pr = pads[z]
            if pr is not s.reading:  # the same reading object again cannot raise the peak
                s.reading = pr
                for t in (pr.temp_c, pr.temp2_c):
                    if t > s.peak_c and isfinite(t):  # (+inf is above any peak but is no peak)
                        s.peak_c = t
            target = heat_targets.get(z)
            if target != s.target:
                s.target, s.settled = target, False
                s.from_above = target is not None and isfinite(pr.temp_c) and pr.temp_c > target
            if not thermal_fresh or target is None or not isfinite(pr.temp_c):
                continue
            err = pr.temp_c - target
            if s.from_above and err <= 0.0:
                s.from_above = False
            if not s.settled and abs(err) <= self.SETTLE_BAND_C:
                s.settled = True
            if s.settled:
                s.err_sum += abs(err)
                s.err_n += 1
                if abs(err) > s.max_abs_err_c:  # (as max(): a tie keeps the old value)
                    s.max_abs_err_c = abs(err)
                if err > s.overshoot_c and not s.from_above:
                    s.overshoot_c = err
        pressures, pressure_targets = readings.pressure_mmhg, rec.pressure_targets_mmhg
        fill_open, vent_open = rec.outputs.fill_open, rec.outputs.vent_open
        cut = rec.phase_changed or rec.mode != "running"  # what ends a fill now cuts it short
        band = self.FILL_BAND_MMHG
        for z, c in self.chamber_stats.items():
            p = pressures[z]
            target = pressure_targets.get(z, 0.0)
            if target != c.fill_target:  # a fill ended, began, or both (a new target)
                c.end_fill(cut or target > 0.0, band)
                if target > 0.0:
                    c.fills += 1
                    c.fill_target, c.fill_peak = target, -math.inf
            if not isfinite(p):
                continue
            if p > c.fill_peak:
                c.fill_peak = p
            if p > c.peak_mmhg:  # max(peak, p), which keeps the peak on a tie
                c.peak_mmhg = p
            venting = vent_open[z]
            if target != c.target or venting:
                c.target, c.settled = target, False  # a new fill: track it once it gets there
            if target > 0 and not c.settled and p >= target - self.FILL_BAND_MMHG:
                c.settled = True
            if c.settled and not fill_open[z] and not venting:  # holding
                err = p - target
                abs_err = abs(err)
                c.err_sum += abs_err
                c.err_n += 1
                if abs_err > c.max_abs_err_mmhg:  # (as max(): a tie keeps the old value)
                    c.max_abs_err_mmhg = abs_err
                if err > c.overshoot_mmhg:
                    c.overshoot_mmhg = err

    def report(self, runner, *, extra: dict | None = None) -> dict:
        session = runner.session
        if session is not None:
            outcome = session.outcome or runner.mode
            end = session.ended_s if session.ended_s is not None else self.last_t
            duration = (end or 0.0) - session.started_s
        else:
            outcome = Mode.FAULT if self.faults else Mode.STOPPED
            duration = (self.last_t or 0.0) - (self.first_t or 0.0)
        if outcome not in (Mode.COMPLETED, Mode.STOPPED, Mode.FAULT):
            outcome = Mode.STOPPED  # still running when the report was asked for
        pads = {z: {"peak_c": round(s.peak_c, 2) if math.isfinite(s.peak_c) else None,
                    "mean_abs_error_c": round(s.err_sum / s.err_n, 3) if s.err_n else None,
                    "max_abs_error_c": round(s.max_abs_err_c, 3),
                    "overshoot_c": round(s.overshoot_c, 3)} for z, s in self.pad_stats.items()}
        chambers = {z: {"peak_mmhg": round(c.peak_mmhg, 2),
                        "mean_abs_error_mmhg": round(c.err_sum / c.err_n, 3) if c.err_n else None,
                        "max_abs_error_mmhg": round(c.max_abs_err_mmhg, 3),
                        "overshoot_mmhg": round(c.overshoot_mmhg, 3),
                        **c.fill_counts(self.FILL_BAND_MMHG)}
                    for z, c in self.chamber_stats.items()}
        out = {
            "program": session.program if session else None,
            "intensity": session.intensity if session else None,
            "outcome": outcome,
            "reason": session.reason if session else None,
            "duration_s": round(duration, 3),
            "faults": self.faults,
            "pads": pads,
            "chambers": chambers,
            "modes": [{"t_s": round(t, 3), "mode": m} for t, m in self.modes],
        }
        if extra:
            out.update(extra)
        return out


def write_json(path: str | Path, data: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
