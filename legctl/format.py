"""Text rendering for ``legctl``: the status table, the live view, program/fault/self-test tables.

Kept apart from the socket client so the layout can be read (and tested) on its own. The
status renderers take the daemon's ``State`` (the client validates it on arrival); the per-zone
tables take their columns from ``controller.model.values``, the one description of what each
value is. The other tables (programs, fault log, self-test) show whatever fields they get.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Sequence

from controller.model.values import ZONE_VALUES, Style, Value, Zone

if TYPE_CHECKING:  # the client imports the model only when it shows a state (pydantic is slow to load)
    from controller.model.state import State

CLEAR_HOME = "\x1b[H\x1b[2J"  # cursor home, then clear the screen: the live view redraws in place


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], indent: str = "") -> list[str]:
    """Left-aligned columns, numbers right-aligned, two spaces apart."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [all(_is_number(r[i]) for r in cells) and bool(cells) for i in range(len(headers))]

    def line(values: Sequence[str], is_header: bool = False) -> str:
        out = []
        for i, v in enumerate(values):
            out.append(v.rjust(widths[i]) if numeric[i] and not is_header else v.ljust(widths[i]))
        return (indent + "  ".join(out)).rstrip()

    return [line(headers, True)] + [line(r) for r in cells]


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.1f}"
    return str(v)


def _is_number(s: str) -> bool:
    try:
        float(s.rstrip("%"))
        return True
    except ValueError:
        return s == "-"


def _mmss(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "-"
    s = max(0, int(round(seconds)))
    return f"{s // 60}:{s % 60:02d}"


def _pct(x: Any) -> str:
    return f"{x * 100:.0f}%" if isinstance(x, (int, float)) else "-"


def _num(x: Any, digits: int = 1) -> str:
    return f"{x:.{digits}f}" if isinstance(x, (int, float)) and not isinstance(x, bool) else "-"


def status_lines(s: State) -> list[str]:
    """The ``legctl status`` table: what the machine is doing, and every actuator's state."""
    mode = s.mode
    lines = [f"mode        {mode}" + ("   EMERGENCY STOP" if s.estop else "")
             + ("   LOCKOUT" if s.lockout and mode != "lockout" else "")]
    if s.program:
        name = s.program_name or s.program
        phase = s.phase or "-"
        idx = s.phase_index
        phase_txt = f"{phase} (phase {idx + 1})" if isinstance(idx, int) else phase
        lines.append(f"program     {name} [{s.program}]  phase {phase_txt}")
        lines.append(f"time        {_mmss(s.elapsed_s)} elapsed, {_mmss(s.remaining_s)} remaining")
    else:
        lines.append("program     -")
    heat = s.heat_on
    lines.append(f"intensity   {_cell(s.intensity)}   heat {'on' if heat else 'off' if heat is not None else '-'}")
    relay = s.relay_closed
    lines.append(f"power relay {'closed' if relay else 'open'}   pump {_pct(s.pump_duty)}")
    lines += profile_lines(s, brief=True)
    lines += service_lines(s)

    for family, title in ((Zone.PAD, "heat pads"), (Zone.CHAMBER, "chambers"), (Zone.ROLLER, "rollers")):
        zones = getattr(s, family.value)
        if zones:
            lines += ["", title] + zone_table(ZONE_VALUES[family], zones)
    lines += [""] + fault_lines([f.model_dump(mode="json") for f in s.faults])
    if s.problem_text:
        lines.append(f"problem     {s.problem_text}")
    lines += notice_lines(s)
    return lines


def profile_lines(s: State, *, brief: bool = False) -> list[str]:
    """The person's profile: the conditions set (a leg flag by its leg), whether it was confirmed
    at the machine, and a remote change waiting for the panel. ``brief``: nothing when there is
    nothing to say (no conditions, confirmed, nothing waiting)."""
    from controller.model.profile import FIELDS, describe_key

    set_ = [describe_key(k) for k in FIELDS if s.profile.get(k)]
    if not set_ and "wound_or_infection_left" not in s.profile:  # an older daemon: person-level keys only
        set_ = [k for k, v in s.profile.items() if v]
    if brief and not set_ and s.profile_confirmed and not s.profile_pending:
        return []
    lines = ["profile     " + (", ".join(set_) if set_ else "no conditions")
             + ("" if s.profile_confirmed else "   (NOT CONFIRMED: hold program + heat 2 s at the panel, "
                                               "or legctl profile set)")]
    if s.profile_pending:
        waiting = ", ".join(describe_key(k) for k in s.profile_pending)
        lines.append(f"waiting     a remote request to clear {waiting}: confirm at the panel (hold program + heat 2 s)")
    return lines


def service_lines(s: State) -> list[str]:
    """The service record: the pump's measured flow against its reference, then and now, and
    the leakiest chamber's leak-down ("pump: 92 % of rated flow (was 100 % 20 sessions ago);
    leak-down: left_thigh 0.8 mmHg/s at 40 mmHg (1.0× commissioned)")."""
    from controller.model.state import LEAK_AT_MMHG  # (loaded already: ``s`` is a State)

    service = getattr(s, "service", None)  # (an older daemon's state has none)
    if service is None:
        return ["service     pump not measured yet (no session has filled a chamber at full pump duty)"]
    parts = []
    if service.pump_percent is None:
        parts.append("pump: not measured yet")
    else:
        pump = f"pump: {service.pump_percent:.0f} % of {service.reference} flow"
        if service.pump_percent_before is not None and service.sessions_before:
            pump += f" (was {service.pump_percent_before:.0f} % {service.sessions_before} sessions ago)"
        parts.append(pump)
    if service.leaks:
        def leakiness(item):
            zone, leak = item
            return (leak.times_commissioned is not None, leak.times_commissioned or 0.0, leak.leak_mmhg_per_s)

        zone, leak = max(service.leaks.items(), key=leakiness)
        text = f"leak-down: {zone} {leak.leak_mmhg_per_s:.1f} mmHg/s at {LEAK_AT_MMHG:.0f} mmHg"
        if leak.times_commissioned is not None:
            text += f" ({leak.times_commissioned:.1f}× commissioned)"
        parts.append(text)
    lines = ["service     " + "; ".join(parts)]
    if service.problem:
        lines.append(f"            {service.problem}")
    return lines


def notice_lines(s: State) -> list[str]:
    """The notices in force, newest last: why something was refused or capped."""
    if not s.notices:
        return []
    return ["", "notices"] + [f"  {_num(n.t_s)} s  [{n.code}, panel code {n.panel_code}]  {n.text}"
                              for n in s.notices]


def zone_table(values: Sequence[Value], zones: dict[str, Any]) -> list[str]:
    """One row per zone, one column per value that has a ``column`` in its description."""
    shown = [v for v in values if v.column is not None]
    return table(["zone"] + [v.column.header for v in shown],
                 [[zone] + [_shown(v, getattr(part, v.key)) for v in shown] for zone, part in zones.items()],
                 indent="  ")


def _shown(value: Value, x: Any) -> str:
    style = value.column.style
    if style is Style.PERCENT:
        return _pct(x)
    if style is Style.VALVE:
        return "open" if x else "closed"
    return _num(x, value.column.digits)


def fault_lines(faults: list[dict]) -> list[str]:
    if not faults:
        return ["faults      none"]
    return ["faults"] + table(("code", "severity", "zone", "since s", "message"),
                              [(f.get("code"), f.get("severity"), f.get("zone"), f.get("t_s"), f.get("message"))
                               for f in faults], indent="  ")


def fault_log_lines(entries: list[dict]) -> list[str]:
    """The persisted fault log: whatever fields the daemon keeps, the usual ones first."""
    if not entries:
        return ["fault log is empty"]
    usual = ["time", "t_s", "code", "severity", "zone", "event", "message"]
    keys = [k for k in usual if any(k in e for e in entries)]
    keys += sorted({k for e in entries for k in e if k not in keys and not isinstance(e[k], (dict, list))})
    return table(keys, [[e.get(k) for k in keys] for e in entries])


def program_lines(programs: list[dict]) -> list[str]:
    if not programs:
        return ["no programs loaded"]
    return table(("id", "name", "length", "category", "deep", "summary"),
                 [(p.get("id"), p.get("name"), _mmss(p.get("duration_s")), p.get("category"),
                   "deep" if p.get("deep") else "", p.get("summary")) for p in programs])


def history_lines(rows: list[dict]) -> list[str]:
    """The daily record, newest day first: one line a leg a day."""
    if not rows:
        return ["no sessions recorded yet"]
    body = []
    for r in rows:
        programs = r.get("programs") or []
        intensities = r.get("intensities") or []
        body.append([r.get("day"), r.get("leg"), _num(r.get("minutes")), r.get("sessions"), r.get("strokes"),
                     ", ".join(f"{p} ({i})" for p, i in zip(programs, intensities))])
    return table(["day", "leg", "minutes", "sessions", "strokes", "programs (intensity)"], body)


def selftest_lines(checks: list[dict]) -> list[str]:
    rows = [(c.get("name"), "PASS" if c.get("ok") else "FAIL", c.get("detail") or "") for c in checks]
    failed = sum(1 for c in checks if not c.get("ok"))
    summary = f"{len(checks) - failed} of {len(checks)} checks passed" + (f", {failed} FAILED" if failed else "")
    return table(("check", "result", "detail"), rows) + ["", summary]


def commission_lines(data: dict) -> list[str]:
    """``legctl commission``: one table of the pads' heating, one of the chambers' fill and leak."""
    pads = data.get("pads") or {}
    chambers = data.get("chambers") or {}
    out = table(("pad", "rate °C/s", "dead time s", "check window s", "rise °C", "kp", "ki", "kd"),
                [(p, _num(r.get("rate_c_per_s"), 4), _num(r.get("dead_time_s")), _num(r.get("window_s"), 0),
                  _num(r.get("rise_c"), 2), _num(r.get("kp"), 3), _num(r.get("ki"), 4), _num(r.get("kd"), 1))
                 for p, r in pads.items()])
    out += [""] + table(("chamber", "fill mmHg/s", "from-to mmHg", "leak mmHg/s", "at mmHg"),
                        [(z, _num(r.get("fill_rate_mmhg_per_s"), 2),
                          f"{_num(r.get('from_mmhg'), 0)}-{_num(r.get('to_mmhg'), 0)}",
                          _num(r.get("leak_mmhg_per_s"), 3), _num(r.get("leak_at_mmhg"), 0))
                         for z, r in chambers.items()])
    if data.get("measured_at"):
        out += ["", f"measured at {data['measured_at']}; kept in the state directory (commissioning.json)"]
    return out


def data_lines(data: dict | None) -> list[str]:
    """A command result's data as ``key: value`` lines (notes one per line)."""
    if not data:
        return []
    out = []
    for k, v in data.items():
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            out += [f"{k}: {x}" for x in v] if v else []
        elif isinstance(v, dict) and v and all(isinstance(x, bool) for x in v.values()):  # flags: those set
            out.append(f"{k}: " + (", ".join(name for name, on in v.items() if on) or "none set"))
        else:
            out.append(f"{k}: {v}")
    return out


def watch_frame(state: State, events: list[dict], socket_path: str) -> str:
    """One screen of the live view: clear, the status table, recent events, a footer."""
    lines = status_lines(state)
    if events:
        lines += ["", "recent events"]
        for e in events[-5:]:
            extra = ", ".join(f"{k}={v}" for k, v in e.items() if k not in ("type", "t_s"))
            lines.append(f"  {_num(e.get('t_s'))} s  {e.get('type', '?')}" + (f"  {extra}" if extra else ""))
    lines += ["", f"seq {state.seq}  ·  {socket_path}  ·  Ctrl-C to quit"]
    return CLEAR_HOME + "\n".join(lines) + "\n"
