"""Flight recorders: the CSV trace and the JSON session report.

Both observe the scan cycle's ``TickRecord`` (outputs as the gate wrote them, readings as the
sensors gave them). Column names and report keys are interfaces: add, never rename.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path
from typing import Callable

from controller.machine.snapshot import TickRecord
from controller.storage import service_record as sr
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


class _FillRun:
    """A fill at full duty with only this chamber's valve open, from below the band's start."""

    __slots__ = ("from_t", "from_p", "last_t", "last_p", "done")

    def __init__(self) -> None:
        self.from_t = self.from_p = self.last_t = self.last_p = None
        self.done = False  # reached the band's top: the rest of this fill is not measured


class _Hold:
    """A hold with both valves shut: a least-squares line through its readings (after the
    settling time), kept as sums so a long hold costs nothing to keep."""

    __slots__ = ("start_t", "n", "st", "sp", "stt", "stp")

    def __init__(self, start_t: float) -> None:
        self.start_t = start_t
        self.n = 0
        self.st = self.sp = self.stt = self.stp = 0.0

    def add(self, t: float, p: float) -> None:
        t -= self.start_t  # small numbers: no cancellation in the sums
        self.n += 1
        self.st += t
        self.sp += p
        self.stt += t * t
        self.stp += t * p


class ServiceMeter:
    """Measures, during a session's running ticks, each chamber's full-duty fill rate from a
    low pressure and its leak-down with both valves shut (``controller.storage.service_record``
    says what the record keeps and why). It only watches the ``TickRecord`` (the outputs as the
    gate wrote them, the readings as read): it changes nothing.

    A fill is measured as commissioning measures it: from the first reading at or above
    ``FILL_FROM_MMHG`` to the first at or above ``FILL_TO_MMHG``, or to the last tick of full
    duty if the fill's pump slowed before that (the approach to a lower target), while the
    pump ran at full duty into this chamber alone with its vent shut; a fill that began above
    the band's start, or covered less than ``FILL_MIN_BAND_MMHG``, is not measured. A hold is
    measured from ``LEAK_SETTLE_S`` after both valves shut (valve and hose settling) until
    either opens, if it lasted ``LEAK_MIN_S`` more."""

    LEAK_SETTLE_S = 1.0  # as commissioning's leak-down
    LEAK_MIN_S = 1.5
    LEAK_MIN_MMHG = 10.0  # below this a hold's leak is lost in the sensor noise

    def __init__(self, positions: dict[str, str], pump_max_duty: float,
                 reference_rate: Callable[[str, float, float], float]) -> None:
        self.positions = dict(positions)  # chamber -> position
        self.pump_max_duty = pump_max_duty
        self.reference_rate = reference_rate  # (chamber, from_mmhg, to_mmhg) -> mmHg/s
        self.start()

    def start(self) -> None:
        """A new session: forget the last one's measurements."""
        zones = self.positions
        self.ratios: dict[str, list[float]] = {z: [] for z in zones}
        self.rates: dict[str, list[float]] = {z: [] for z in zones}
        self._leak_num = dict.fromkeys(zones, 0.0)  # Σ −Sxy per hold
        self._leak_den = dict.fromkeys(zones, 0.0)  # Σ Sxx · mean p per hold
        self._leak_s = dict.fromkeys(zones, 0.0)
        self._runs: dict[str, _FillRun | None] = dict.fromkeys(zones)
        self._holds: dict[str, _Hold | None] = dict.fromkeys(zones)
        self.fills_measured = 0

    def __call__(self, rec: TickRecord) -> None:
        if rec.mode != Mode.RUNNING:
            for z in self.positions:
                self._end_fill(z)
                self._end_hold(z)
            return
        o, pressures, t = rec.outputs, rec.readings.pressure_mmhg, rec.t_s
        fill_open, vent_open = o.fill_open, o.vent_open
        full = o.relay_closed and o.pump_duty >= self.pump_max_duty - 1e-9
        single = sum(1 for v in fill_open.values() if v) == 1
        for z in self.positions:
            p = pressures.get(z, math.nan)
            finite = math.isfinite(p)
            filling = fill_open.get(z, False) and not vent_open.get(z, True) and full and single and finite
            if filling:
                self._fill_tick(z, t, p)
            else:
                self._end_fill(z)
            holding = (finite and not fill_open.get(z, False) and not vent_open.get(z, True)
                       and rec.pressure_targets_mmhg.get(z, 0.0) > 0.0 and p >= self.LEAK_MIN_MMHG)
            if holding:
                hold = self._holds[z]
                if hold is None:
                    hold = self._holds[z] = _Hold(t)
                if t - hold.start_t >= self.LEAK_SETTLE_S:
                    hold.add(t, p)
            else:
                self._end_hold(z)

    def _fill_tick(self, z: str, t: float, p: float) -> None:
        run = self._runs[z]
        if run is None:
            run = self._runs[z] = _FillRun()
            if p >= sr.FILL_FROM_MMHG:  # not from a low pressure (a top-up, a refill): not measured
                run.done = True
        if run.done:
            return
        if run.from_t is None:
            if p >= sr.FILL_FROM_MMHG:
                run.from_t, run.from_p = t, p
            return
        run.last_t, run.last_p = t, p
        if p >= sr.FILL_TO_MMHG:
            self._measure(z, run)
            run.done = True

    def _end_fill(self, z: str) -> None:
        run = self._runs[z]
        if run is not None and not run.done:
            self._measure(z, run)
        self._runs[z] = None

    def _measure(self, z: str, run: _FillRun) -> None:
        if run.last_t is None or run.last_p - run.from_p < sr.FILL_MIN_BAND_MMHG or run.last_t <= run.from_t:
            return
        rate = (run.last_p - run.from_p) / (run.last_t - run.from_t)
        reference = self.reference_rate(z, run.from_p, run.last_p)
        if not (math.isfinite(reference) and reference > 0 and rate > 0):
            return
        self.rates[z].append(rate)
        self.ratios[z].append(rate / reference)
        self.fills_measured += 1

    def _end_hold(self, z: str) -> None:
        hold = self._holds[z]
        self._holds[z] = None
        if hold is None or hold.n < 3:
            return
        n = hold.n
        sxx = hold.stt - hold.st * hold.st / n
        span_s = math.sqrt(12.0 * sxx / n) if sxx > 0 else 0.0  # (evenly spaced: the span)
        if span_s < self.LEAK_MIN_S:
            return
        sxy = hold.stp - hold.st * hold.sp / n
        self._leak_num[z] += -sxy
        self._leak_den[z] += sxx * (hold.sp / n)
        self._leak_s[z] += span_s

    def pump_percent(self) -> float | None:
        """The session so far: the median over chambers of each one's median fill ratio, %."""
        return sr.pump_percent_of(self.chambers())

    def chambers(self) -> dict[str, sr.ChamberEntry]:
        """The session's ``ChamberEntry`` per chamber that measured anything."""
        entries = {}
        for z in self.positions:
            ratios, rates = self.ratios[z], self.rates[z]
            den = self._leak_den[z]
            leak = max(0.0, self._leak_num[z] / den) if den > 0 else None
            if not ratios and leak is None:
                continue
            entries[z] = sr.ChamberEntry(
                fills=len(ratios),
                fill_ratio=round(statistics.median(ratios), 4) if ratios else None,
                fill_rate_mmhg_per_s=round(statistics.median(rates), 3) if rates else None,
                leak_per_s=round(min(leak, 10.0), 6) if leak is not None else None,
                leak_s=round(self._leak_s[z], 1))
        return entries
