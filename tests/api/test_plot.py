"""A trace becomes a picture a person can read; a file that is not a trace is refused clearly."""

from __future__ import annotations

import csv
import io

import pytest

from legctl.cli import main as legctl_main
from legctl.plot import TraceError, plot_trace

PADS = ("left_calf", "right_calf")
CHAMBERS = ("left_foot", "left_calf", "left_thigh")
ROLLERS = ("left_calf",)


def header() -> list[str]:
    cols = ["t_s", "mode", "faults", "relay_closed", "pump_duty"]
    for z in PADS:
        cols += [f"pad.{z}.temp_c", f"pad.{z}.target_c", f"pad.{z}.duty"]
    for z in CHAMBERS:
        cols += [f"chamber.{z}.pressure_mmhg", f"chamber.{z}.target_mmhg", f"chamber.{z}.fill_open",
                 f"chamber.{z}.vent_open"]
    for z in ROLLERS:
        cols += [f"roller.{z}.speed", f"roller.{z}.current_a"]
    return cols


def write_trace(path, drop: str | None = None, rows: int = 60) -> None:
    cols = [c for c in header() if c != drop]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, cols, extrasaction="ignore")
        w.writeheader()
        for i in range(rows):
            t = i * 0.5
            filling = (i // 10) % 2 == 0
            row = {"t_s": t, "mode": "running", "faults": "over_pressure" if 40 <= i < 45 else "",
                   "relay_closed": True, "pump_duty": 0.7 if filling else 0.0}
            for z in PADS:
                row |= {f"pad.{z}.temp_c": 30 + 0.2 * i, f"pad.{z}.target_c": 40.0, f"pad.{z}.duty": 0.5}
            for k, z in enumerate(CHAMBERS):
                row |= {f"chamber.{z}.pressure_mmhg": (45 - 5 * k) if filling else 3.0,
                        f"chamber.{z}.target_mmhg": 45 - 5 * k, f"chamber.{z}.fill_open": filling,
                        f"chamber.{z}.vent_open": not filling}
            for z in ROLLERS:
                row |= {f"roller.{z}.speed": 0.3, f"roller.{z}.current_a": 0.4}
            w.writerow(row)


def test_a_trace_becomes_a_png(tmp_path):
    trace, png = tmp_path / "trace.csv", tmp_path / "trace.png"
    write_trace(trace)
    plot_trace(str(trace), str(png))
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


def test_a_trace_missing_a_column_is_refused_naming_it(tmp_path):
    trace = tmp_path / "trace.csv"
    write_trace(trace, drop="chamber.left_calf.target_mmhg")
    with pytest.raises(TraceError, match="missing column\\(s\\) chamber.left_calf.target_mmhg"):
        plot_trace(str(trace), str(tmp_path / "out.png"))
    assert not (tmp_path / "out.png").exists()


def test_a_csv_that_is_not_a_trace_is_refused(tmp_path):
    other = tmp_path / "budget.csv"
    other.write_text("date,amount\n2024-01-01,12\n")
    with pytest.raises(TraceError, match="not a trace"):
        plot_trace(str(other), str(tmp_path / "out.png"))


def test_a_trace_without_rows_or_a_file_is_refused(tmp_path):
    empty = tmp_path / "empty.csv"
    write_trace(empty, rows=0)
    with pytest.raises(TraceError, match="no rows"):
        plot_trace(str(empty), str(tmp_path / "out.png"))
    with pytest.raises(TraceError, match="no such file"):
        plot_trace(str(tmp_path / "nope.csv"), str(tmp_path / "out.png"))


def test_legctl_plot_writes_the_png_or_says_what_is_wrong(tmp_path):
    trace, png = tmp_path / "trace.csv", tmp_path / "p.png"
    write_trace(trace)
    out, err = io.StringIO(), io.StringIO()
    assert legctl_main(["plot", str(trace), "-o", str(png)], out=out, err=err) == 0
    assert png.exists() and f"wrote {png}" in out.getvalue()
    write_trace(trace, drop="pump_duty")
    assert legctl_main(["plot", str(trace), "-o", str(png)], out=out, err=err) == 1
    assert "missing column(s) pump_duty" in err.getvalue()
