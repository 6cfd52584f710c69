"""``legctl``: the technician's command line, a client of the daemon's local socket.

A plain synchronous client (one socket, one request a line) so it starts fast over SSH; it
needs the standard library, the state model (pydantic, only for ``status`` and ``watch``) and
matplotlib (only for ``plot``). Exit codes are meant for scripts: 0 done, 1 the machine
refused or a check failed, 2 usage or connection problems.
Every error names its fix, because the person reading it is at a terminal next to the machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import sys
from typing import TYPE_CHECKING, Any, Iterator, TextIO

from controller.model.bounded_json import JsonRefused, loads as bounded_loads
from controller.model.cli_numbers import number_in
from legctl import format as fmt

if TYPE_CHECKING:
    from controller.model.state import State

DEFAULT_SOCKET = "/run/legtherapy/legtherapy.sock"
COMMAND_TIMEOUT_S = 35.0  # a little over the daemon's own 30 s wait for the machine's answer
LONG_TIMEOUT_S = 7200.0  # self-test, calibration, commissioning, autotune (its deadlines: up to ~1 h 50 min)
EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
MAX_TIMEOUT_S = 24 * 3600.0
#: the daemon caps its own wait for the machine at this (socket_api.MAX_COMMAND_TIMEOUT_S)
DAEMON_MAX_TIMEOUT_S = 7200.0
MIN_INTERVAL_S, MAX_INTERVAL_S = 0.02, 60.0  # what the daemon accepts for a stream
#: an answer line (a status, 500 fault-log rows) is far below this; a stream that never ends a
#: line is not the daemon
MAX_ANSWER_BYTES = 16 * 1024 * 1024


class ConnectionProblem(Exception):
    """The daemon could not be reached or stopped answering; the text names the fix."""


class Client:
    """One connection to the daemon: send a JSON line, read JSON lines back."""

    def __init__(self, path: str, timeout: float | None) -> None:
        self.path = path
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buf = b""

    def __enter__(self) -> "Client":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except PermissionError:
            sock.close()
            raise ConnectionProblem(f"permission denied on {self.path}: add your user to group legtherapy "
                                    "(sudo usermod -aG legtherapy $USER, then log in again)") from None
        except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
            sock.close()
            raise ConnectionProblem(f"daemon not running at {self.path} (start it: systemctl start legtherapy, "
                                    f"or legtherapy run --sim --socket {self.path})") from None
        except OSError as err:
            sock.close()
            raise ConnectionProblem(f"cannot connect to {self.path}: {err.strerror or err} "
                                    "(check --socket or LEGTHERAPY_SOCKET)") from None
        self._sock = sock
        return self

    def __exit__(self, *exc) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def send(self, obj: dict) -> None:
        try:
            self._sock.sendall(json.dumps(obj).encode() + b"\n")
        except OSError as err:
            raise ConnectionProblem(f"lost the connection to {self.path}: {err} (is the daemon restarting?)") from None

    def read(self) -> dict:
        while b"\n" not in self._buf:
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                raise ConnectionProblem(f"no answer from the daemon at {self.path} within {self.timeout:g} s "
                                        "(raise --timeout, or check it: journalctl -u legtherapy)") from None
            except OSError as err:
                raise ConnectionProblem(f"lost the connection to {self.path}: {err}") from None
            if not chunk:
                raise ConnectionProblem(f"the daemon at {self.path} closed the connection "
                                        "(check its log: journalctl -u legtherapy)")
            self._buf += chunk
            if len(self._buf) > MAX_ANSWER_BYTES and b"\n" not in self._buf:
                raise ConnectionProblem(f"{self.path} sent more than {MAX_ANSWER_BYTES} bytes without ending a line: "
                                        "is it really the legtherapy socket?")
        line, _, self._buf = self._buf.partition(b"\n")
        try:
            answer = bounded_loads(line, max_bytes=MAX_ANSWER_BYTES)
        except JsonRefused as err:
            raise ConnectionProblem(f"{self.path} answered with something that is not our JSON ({err}): "
                                    "is it really the legtherapy socket?") from None
        if not isinstance(answer, dict):
            raise ConnectionProblem(f"{self.path} answered with a JSON {type(answer).__name__}, not an object")
        return answer

    def request(self, obj: dict) -> dict:
        self.send(obj)
        return self.read()

    def lines(self) -> Iterator[dict]:
        while True:
            yield self.read()


# ---------------------------------------------------------------------------------- the parser
def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Options accepted both before and after the subcommand (``legctl --json status``, ``legctl status --json``)."""
    d = (lambda v: argparse.SUPPRESS) if suppress else (lambda v: v)
    parser.add_argument("--socket", metavar="PATH", default=d(os.environ.get("LEGTHERAPY_SOCKET", DEFAULT_SOCKET)),
                        help="the daemon's socket (default: $LEGTHERAPY_SOCKET or %s)" % DEFAULT_SOCKET)
    parser.add_argument("--json", action="store_true", default=d(False),
                        help="print the daemon's raw JSON instead of a table")
    parser.add_argument("--timeout", type=number_in(0.0, MAX_TIMEOUT_S, low_open=True), metavar="S", default=d(None),
                        help=f"seconds to wait for an answer (default {COMMAND_TIMEOUT_S:g}; "
                             f"{LONG_TIMEOUT_S:g} for selftest, autotune, calibrate, commission)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="legctl", description="Talk to the leg-therapy machine's daemon over its "
                                "local socket. Exit codes: 0 done, 1 refused or failed, 2 usage or connection problem.")
    _common(p, suppress=False)
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    def add(name: str, help: str, **kw) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help, **kw)
        _common(sp, suppress=True)
        return sp

    add("status", "show mode, program, heat pads, chambers, rollers and faults")
    w = add("watch", "live view of the machine, redrawn in place (Ctrl-C to quit)")
    w.add_argument("--interval", type=number_in(MIN_INTERVAL_S, MAX_INTERVAL_S), default=0.25, metavar="S",
                   help=f"seconds between frames, {MIN_INTERVAL_S:g}-{MAX_INTERVAL_S:g} (default 0.25)")
    w.add_argument("--count", type=number_in(1, 10**9, kind=int), metavar="N", help="stop after N frames")
    s = add("start", "start a program (see: legctl programs)")
    s.add_argument("program", metavar="PROGRAM", help="program id, e.g. quick_circulation")
    s.add_argument("--intensity", type=_intensity, metavar="1-5", help="1 gentle … 5 strong (default: the program's 3)")
    s.add_argument("--no-heat", action="store_true", help="run without the heat pads")
    s.add_argument("--no-preheat", action="store_true",
                   help="start the strokes at once, without first warming the pads")
    add("skip-preheat", "start the program now, without waiting for the pads to finish warming")
    add("release-hold", "end a press-and-hold now (calf focus: the knot has let go)")
    add("pause", "pause the running program (legctl resume continues it)")
    add("resume", "resume a paused program")
    add("stop", "stop the program safely (everything off)")
    add("programs", "list the programs the machine knows")
    add("faults", "show the fault log")
    add("history", "show the daily record: minutes, programs and intensity per leg per day")
    add("ack", "acknowledge stop faults whose cause is gone")
    add("reset-lockout", "clear a lockout (technician; only once the cause is fixed)")
    add("ping", "check that the daemon answers")
    add("selftest", "run the self-test and print a pass/fail table (exit 1 if any check fails)")
    c = add("calibrate", "calibrate sensors with the machine idle (pressure: zero the pressure sensors)")
    c.add_argument("what", choices=["pressure"], help="what to calibrate: pressure (zero the pressure sensors)")
    a = add("autotune", "tune a heat pad's PID gains (takes minutes; the pad heats to the target)")
    a.add_argument("pad", metavar="PAD", help="pad zone, e.g. left_calf")
    # finite here; the range (30-42 °C) is the daemon's to judge, so its reason reaches the person
    a.add_argument("--target-c", type=number_in(-math.inf, math.inf), default=38.0, metavar="T", help="tuning temperature °C, 30-42 (default 38)")
    add("commission", "measure this unit: each chamber's fill rate and leak-down, each pad's heating "
                      "(takes up to ~20 min; pads heat to 37 °C); stored beside the gains, shown as a table")
    m = add("manual", "drive one output by hand, still through the interlocks (only while idle)")
    m.add_argument("output", metavar="OUTPUT", help="pump, heater:ZONE, fill:ZONE, vent:ZONE or roller:ZONE")
    m.add_argument("value", metavar="VALUE", type=_manual_value,
                   help="0..1 (rollers -1..1; valves 0 closed, 1 open), or 'release' to hand it back")
    pr = add("profile", "show or change the person's profile (conditions that make some therapy unsafe)")
    prsub = pr.add_subparsers(dest="profile_cmd", required=True, metavar="ACTION")
    prs = prsub.add_parser("show", help="the conditions set, whether confirmed, what waits for the panel")
    _common(prs, suppress=True)
    prset = prsub.add_parser(
        "set", help="set conditions (and confirm the profile); with none, confirm it as it is",
        description="Set conditions, e.g. legctl profile set varicose_veins wound_or_infection_left. "
                    "With no condition, confirm the profile as it is (on a new machine: 'no conditions'). "
                    "Conditions: varicose_veins, suspected_clot, pregnancy, unsure_or_recent_surgery, "
                    "wound_or_infection[_left|_right], numbness_or_poor_circulation[_left|_right] "
                    "(without a leg: both legs).")
    _common(prset, suppress=True)
    prset.add_argument("flags", nargs="*", metavar="CONDITION")
    prclr = prsub.add_parser("clear", help="clear conditions (a person at the machine only: the socket is local)",
                             description="Clear conditions, e.g. legctl profile clear varicose_veins; "
                                         "--all clears every one.")
    _common(prclr, suppress=True)
    prclr.add_argument("flags", nargs="*", metavar="CONDITION")
    prclr.add_argument("--all", action="store_true", help="clear every condition")
    pl = add("plot", "draw a trace CSV (legtherapy run --trace) as a PNG; needs no daemon")
    pl.add_argument("trace", metavar="TRACE.csv", help="trace file written by legtherapy run --trace")
    pl.add_argument("-o", "--output", required=True, metavar="FILE.png", help="the PNG to write")
    sim = add("sim", "simulator tools (only when the daemon runs with --sim)")
    simsub = sim.add_subparsers(dest="sim_cmd", required=True, metavar="ACTION")
    inj = simsub.add_parser("inject", help="inject a simulated fault",
                            description="inject a simulated fault, e.g. stuck_heater:left_calf")
    _common(inj, suppress=True)
    inj.add_argument("fault", metavar="NAME[:ZONE]", help="fault name, optionally with a zone")
    return p


def _intensity(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 5:
        raise argparse.ArgumentTypeError(f"intensity must be a whole number 1-5, not {text!r}")
    return value


def _manual_value(text: str) -> float | None:
    if text.lower() == "release":
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and -1.0 <= value <= 1.0):
        raise argparse.ArgumentTypeError(f"VALUE must be a number (0..1, rollers -1..1) or 'release', not {text!r}")
    return value


# ---------------------------------------------------------------------------------- running
class _Out:
    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out, self.err = out, err

    def print(self, *lines: str) -> None:
        for line in lines:
            self.out.write(line + "\n")
        self.out.flush()

    def error(self, text: str) -> None:
        self.err.write(f"legctl: {text}\n")
        self.err.flush()


def main(argv: list[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    io = _Out(out or sys.stdout, err or sys.stderr)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # --help (0) or a usage error (2), already printed by argparse
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    try:
        if args.cmd == "plot":
            return _plot(args, io)
        return _run(args, io)
    except ConnectionProblem as problem:
        io.error(str(problem))
        return EXIT_USAGE
    except KeyboardInterrupt:
        io.print("")
        return EXIT_OK


def _run(args, io: _Out) -> int:
    long_running = args.cmd in ("selftest", "autotune", "calibrate", "commission")
    timeout = args.timeout if args.timeout is not None else LONG_TIMEOUT_S if long_running else COMMAND_TIMEOUT_S
    if args.cmd == "watch":
        return _watch(args, io, timeout)
    if args.cmd == "profile" and args.profile_cmd != "show":
        try:
            _profile_payload(args)  # a misspelt condition is a usage error, before any connection
        except ValueError as err:
            io.error(str(err))
            return EXIT_USAGE
    with Client(args.socket, timeout) as client:
        if args.cmd == "profile" and args.profile_cmd == "show":
            answer = client.request({"request": "status"})
            if not answer.get("ok"):
                io.error(f"the daemon said: {answer.get('error', 'no reason given')}")
                return EXIT_REFUSED
            state = _state(answer.get("state"), args.socket)
            if args.json:
                io.print(json.dumps({"profile": state.profile, "profile_confirmed": state.profile_confirmed,
                                     "profile_pending": state.profile_pending}, indent=2))
            else:
                io.print(*fmt.profile_lines(state), *fmt.notice_lines(state))
            return EXIT_OK
        if args.cmd in ("status", "programs", "faults", "ping", "history"):
            answer = client.request({"request": args.cmd})
            return _show_data(args, io, answer)
        payload = _command_payload(args)
        # the daemon gives up a little before we do, so its "no answer in time" reaches the person
        daemon_wait_s = min(max(1.0, timeout - 2.0), DAEMON_MAX_TIMEOUT_S)
        answer = client.request({"request": "command", "command": payload, "timeout_s": daemon_wait_s})
    return _show_result(args, io, payload, answer)


def _command_payload(args) -> dict[str, Any]:
    cmd = args.cmd
    if cmd == "start":
        payload: dict[str, Any] = {"command": "start", "program": args.program, "heat": not args.no_heat}
        if args.no_preheat:
            payload["preheat"] = False
        if args.intensity is not None:
            payload["intensity"] = args.intensity
        return payload
    if cmd in ("reset-lockout", "skip-preheat", "release-hold"):
        return {"command": cmd.replace("-", "_")}
    if cmd == "calibrate":
        return {"command": "calibrate_pressure"}
    if cmd == "autotune":
        return {"command": "autotune", "pad": args.pad, "target_c": args.target_c}
    if cmd == "manual":
        return {"command": "manual", "output": args.output, "value": args.value}
    if cmd == "profile":
        return _profile_payload(args)
    if cmd == "sim":
        name, _, zone = args.fault.partition(":")
        return {"command": "sim_inject", "fault": name, "zone": zone or None}
    return {"command": cmd}  # pause, resume, stop, ack, selftest


def _profile_payload(args) -> dict[str, Any]:
    """``profile set`` / ``profile clear`` as a command; ``ValueError`` names an unknown condition."""
    from controller.model.profile import ALL_KEYS, FIELDS

    unknown = [f for f in args.flags if f not in ALL_KEYS]
    if unknown:
        raise ValueError(f"unknown condition(s): {', '.join(unknown)} (known: {', '.join(ALL_KEYS)})")
    if args.profile_cmd == "set":
        if not args.flags:
            return {"command": "confirm_profile"}
        return {"command": "set_profile", **dict.fromkeys(args.flags, True)}
    if args.all:
        return {"command": "set_profile", **dict.fromkeys(FIELDS, False)}
    if not args.flags:
        raise ValueError("name the conditions to clear, or --all")
    return {"command": "set_profile", **dict.fromkeys(args.flags, False)}


def _show_data(args, io: _Out, answer: dict) -> int:
    if not answer.get("ok"):
        io.error(f"the daemon said: {answer.get('error', 'no reason given')}")
        return EXIT_REFUSED
    if args.json:
        key = {"status": "state", "programs": "programs", "faults": "faults", "history": "history"}.get(args.cmd)
        io.print(json.dumps(answer.get(key) if key else answer, indent=2))
        return EXIT_OK
    if args.cmd == "status":
        io.print(*fmt.status_lines(_state(answer.get("state"), args.socket)))
    elif args.cmd == "programs":
        io.print(*fmt.program_lines(answer.get("programs") or []))
    elif args.cmd == "faults":
        io.print(*fmt.fault_log_lines(answer.get("faults") or []))
    elif args.cmd == "history":
        io.print(*fmt.history_lines(answer.get("history") or []))
    else:
        io.print(f"daemon at {args.socket} answers")
    return EXIT_OK


def _show_result(args, io: _Out, payload: dict, result: dict) -> int:
    data = result.get("data") or {}
    checks = data.get("checks") if isinstance(data, dict) else None
    failed = bool(checks) and any(not c.get("ok") for c in checks)
    if args.json:
        io.print(json.dumps(result, indent=2))
    else:
        if checks:
            io.print(*fmt.selftest_lines(checks))
        elif result.get("ok") and payload["command"] == "commission":
            io.print(_done_text(payload), *fmt.commission_lines(data))
        elif result.get("ok"):
            io.print(_done_text(payload), *fmt.data_lines(data))
    if not result.get("ok"):
        io.error(f"refused: {result.get('error') or 'no reason given'}")
        return EXIT_REFUSED
    if failed:
        if not args.json:
            io.error("self-test failed: see the FAIL rows above")
        return EXIT_REFUSED
    return EXIT_OK


def _done_text(payload: dict) -> str:
    name = payload["command"]
    if name == "start":
        return f"started {payload['program']}" + ("" if payload["heat"] else " (no heat)")
    if name == "manual":
        v = payload["value"]
        return f"{payload['output']} released" if v is None else f"{payload['output']} set to {v:g}"
    if name == "set_profile":
        return "profile changed"
    if name == "confirm_profile":
        return "profile confirmed"
    if name == "sim_inject":
        return f"injected {payload['fault']}" + (f" on {payload['zone']}" if payload["zone"] else "")
    return {"pause": "paused", "resume": "resumed", "stop": "stopped", "ack": "acknowledged",
            "reset_lockout": "lockout reset", "calibrate_pressure": "pressure sensors calibrated",
            "autotune": f"autotune of {payload.get('pad')} done", "commission": "commissioned"}.get(name, "ok")


def _watch(args, io: _Out, timeout: float) -> int:
    events: list[dict] = []
    frames = 0
    with Client(args.socket, timeout) as client:
        answer = client.request({"request": "stream", "interval_s": args.interval})
        if not answer.get("ok"):
            io.error(f"the daemon refused the stream: {answer.get('error')}")
            return EXIT_REFUSED
        for item in client.lines():
            if args.json:
                io.print(json.dumps(item))
            if "event" in item:
                events = (events + [item["event"]])[-20:]
                continue
            if "state" not in item:
                continue
            if not args.json:
                io.out.write(fmt.watch_frame(_state(item["state"], args.socket), events, args.socket))
                io.out.flush()
            frames += 1
            if args.count is not None and frames >= args.count:
                break
    return EXIT_OK


def _state(data: Any, socket_path: str) -> State:
    """The daemon's state, checked on arrival (the socket is an edge: validate, then trust).

    Imported here, not at the top: building the model costs a quarter second, which commands
    that never show a state (start, stop, ping, ...) should not pay over SSH."""
    from pydantic import ValidationError

    from controller.model.state import State

    try:
        return State.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "state"
        raise ConnectionProblem(f"the daemon at {socket_path} sent a state this legctl cannot read "
                                f"({where}: {first['msg']}): is legctl the same version as the daemon? "
                                "(--json shows the state as sent)") from None


def _plot(args, io: _Out) -> int:
    from legctl.plot import TraceError, plot_trace

    try:
        plot_trace(args.trace, args.output)
    except TraceError as problem:
        io.error(str(problem))
        return EXIT_REFUSED
    io.print(f"wrote {args.output}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
