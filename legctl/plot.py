"""Draw a session trace (``legtherapy run --trace``) so a person can see what the machine did.

Three panels share the time axis: pad temperatures against their targets, chamber pressures
against theirs, and valve activity (one raster row per chamber) with the pump duty. Spans with
an active fault are shaded on every panel, so cause and effect line up by eye.

Zones are discovered from the header, so a board with other zones plots without changes. The
Agg canvas is used directly (no pyplot), so plotting works headless and from any thread.
"""

from __future__ import annotations

import csv
import math
import os

BASE_COLUMNS = ("t_s", "mode", "faults", "relay_closed", "pump_duty")
PAD_COLUMNS = ("temp_c", "target_c", "duty")
CHAMBER_COLUMNS = ("pressure_mmhg", "target_mmhg", "fill_open", "vent_open")
ROLLER_COLUMNS = ("speed", "current_a")
_TRUE = {"1", "true", "yes", "on", "open"}


class TraceError(ValueError):
    """The file is not a readable trace; the text names the file and what is missing."""


def read_trace(csv_path: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Columns by name, and zones by family (``pad``, ``chamber``, ``roller``), checked complete."""
    try:
        with open(csv_path, newline="") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise TraceError(f"{csv_path}: no such file (write one with: legtherapy run --sim --trace {csv_path})") from None
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise TraceError(f"{csv_path}: cannot read it as CSV: {err}") from None
    if not rows:
        raise TraceError(f"{csv_path}: empty file, not a trace (write one with: legtherapy run --trace FILE)")
    header = [h.strip() for h in rows[0]]
    zones = {family: _zones(header, family, cols[0])
             for family, cols in (("pad", PAD_COLUMNS), ("chamber", CHAMBER_COLUMNS), ("roller", ROLLER_COLUMNS))}
    needed = list(BASE_COLUMNS)
    for family, cols in (("pad", PAD_COLUMNS), ("chamber", CHAMBER_COLUMNS), ("roller", ROLLER_COLUMNS)):
        needed += [f"{family}.{z}.{c}" for z in zones[family] for c in cols]
    missing = [c for c in needed if c not in header]
    if len(missing) == len(BASE_COLUMNS) and not any(zones.values()):
        raise TraceError(f"{csv_path}: not a trace (no t_s, mode, pad.*, chamber.* columns); "
                         "write one with: legtherapy run --trace FILE")
    if missing:
        raise TraceError(f"{csv_path}: missing column(s) {', '.join(missing)}; "
                         "is it a complete trace from legtherapy run --trace?")
    if not zones["pad"] and not zones["chamber"]:
        raise TraceError(f"{csv_path}: no pad.<zone>.temp_c or chamber.<zone>.pressure_mmhg columns: nothing to plot")
    data = rows[1:]
    if not data:
        raise TraceError(f"{csv_path}: has a header but no rows: the session recorded nothing")
    index = {name: i for i, name in enumerate(header)}
    columns = {name: [r[i] if i < len(r) else "" for r in data] for name, i in index.items()}
    return columns, zones


def _zones(header: list[str], family: str, first_col: str) -> list[str]:
    prefix, suffix = family + ".", "." + first_col
    return [h[len(prefix):-len(suffix)] for h in header if h.startswith(prefix) and h.endswith(suffix)
            and len(h) > len(prefix) + len(suffix)]


def _floats(values: list[str], name: str, csv_path: str) -> list[float]:
    out = []
    for row, v in enumerate(values, start=2):
        if v.strip() in ("", "None", "nan"):
            out.append(math.nan)
            continue
        try:
            out.append(float(v))
        except ValueError:
            raise TraceError(f"{csv_path}: line {row}: column {name} holds {v!r}, not a number") from None
    return out


def _flags(values: list[str]) -> list[bool]:
    return [v.strip().lower() in _TRUE for v in values]


def _runs(t: list[float], on: list[bool]) -> list[tuple[float, float]]:
    """(start, width) spans where ``on`` holds; each row lasts until the next row's time."""
    spans, start = [], None
    for i, flag in enumerate(on):
        if flag and start is None:
            start = t[i]
        if not flag and start is not None:
            spans.append((start, t[i] - start))
            start = None
    if start is not None:
        step = t[-1] - t[-2] if len(t) > 1 else 1.0
        spans.append((start, t[-1] + step - start))
    return spans


def plot_trace(csv_path: str, out_png: str) -> None:
    """Write a PNG of the trace; raises ``TraceError`` naming what is wrong with the file."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cols, zones = read_trace(csv_path)
    t = _floats(cols["t_s"], "t_s", csv_path)
    fault_spans = _runs(t, [bool(v.strip()) for v in cols["faults"]])

    n_ch = len(zones["chamber"])
    fig = Figure(figsize=(12, 9), layout="constrained")
    FigureCanvasAgg(fig)
    ax_t, ax_p, ax_v = fig.subplots(3, 1, sharex=True, height_ratios=[3, 3, max(2, 0.4 * n_ch + 1)])
    fig.suptitle(os.path.basename(csv_path))
    palette = [f"C{i}" for i in range(10)]

    for i, z in enumerate(zones["pad"]):
        color = palette[i % 10]
        ax_t.plot(t, _floats(cols[f"pad.{z}.temp_c"], f"pad.{z}.temp_c", csv_path), color=color, label=z)
        ax_t.plot(t, _floats(cols[f"pad.{z}.target_c"], f"pad.{z}.target_c", csv_path), color=color, ls="--", lw=1)
    ax_t.set_ylabel("pad °C (dashed: target)")

    for i, z in enumerate(zones["chamber"]):
        color = palette[i % 10]
        ax_p.plot(t, _floats(cols[f"chamber.{z}.pressure_mmhg"], f"chamber.{z}.pressure_mmhg", csv_path),
                  color=color, label=z)
        ax_p.plot(t, _floats(cols[f"chamber.{z}.target_mmhg"], f"chamber.{z}.target_mmhg", csv_path),
                  color=color, ls="--", lw=1)
    ax_p.set_ylabel("chamber mmHg (dashed: target)")

    for row, z in enumerate(zones["chamber"]):
        fill = _runs(t, _flags(cols[f"chamber.{z}.fill_open"]))
        vent_closed = _runs(t, [not v for v in _flags(cols[f"chamber.{z}.vent_open"])])
        ax_v.broken_barh(fill, (row + 0.5, 0.35), facecolors="tab:blue")
        ax_v.broken_barh(vent_closed, (row + 0.1, 0.35), facecolors="tab:orange")
    ax_v.set_yticks([r + 0.5 for r in range(n_ch)], zones["chamber"])
    ax_v.set_ylim(0, max(n_ch, 1))
    ax_v.set_ylabel("valves")
    ax_v.set_xlabel("time s")
    ax_pump = ax_v.twinx()
    ax_pump.plot(t, _floats(cols["pump_duty"], "pump_duty", csv_path), color="black", lw=1)
    ax_pump.set_ylim(0, 1.05)
    ax_pump.set_ylabel("pump duty")
    from matplotlib.patches import Patch

    ax_v.legend(handles=[Patch(color="tab:blue", label="fill open"), Patch(color="tab:orange", label="vent closed"),
                         Patch(color="red", alpha=0.15, label="fault active")],
                loc="upper right", fontsize="small")

    for ax in (ax_t, ax_p, ax_v):
        for start, width in fault_spans:
            ax.axvspan(start, start + width, color="red", alpha=0.15, lw=0)
        ax.grid(True, alpha=0.3)
    for ax in (ax_t, ax_p):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper right", fontsize="small", ncols=2)
    try:
        fig.savefig(out_png, dpi=100)
    except OSError as err:
        raise TraceError(f"cannot write {out_png}: {err.strerror or err}") from None
