"""`legtherapy`: the daemon (`run`), the program list (`programs`), and `safe-state`."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path

from controller.app.secrets import resolve_mqtt_secrets
from controller.model.cli_numbers import number_in
from controller.model.config import ConfigError, load_config
from controller.storage.state_dir import StateDirError, check_state_dir

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: ``run --exit-when-done``: how the session ended (0 = the program completed; 1 = it never
#: started, e.g. refused or still locked out; 2 = usage). Scripts and CI branch on these.
EXIT_STOPPED, EXIT_FAULT, EXIT_LOCKOUT = 3, 4, 5


def session_exit_code(report: dict) -> int:
    """The exit code for a session's report: completed 0, stopped 3, ended by a stop fault 4,
    by a lockout 5 (a lockout anywhere in the session outranks how it ended)."""
    if any(f.get("severity") == "lockout" for f in report.get("faults", [])):
        return EXIT_LOCKOUT
    outcome = report.get("outcome")
    if outcome == "completed":
        return EXIT_OK
    if outcome == "fault":
        return EXIT_FAULT
    return EXIT_STOPPED


#: --speed beyond this is no simulation anyone watches; 0 already means "as fast as possible"
MAX_SPEED = 10_000.0
#: --max-runtime: a week of machine time is far past any session
MAX_RUNTIME_S = 7 * 24 * 3600.0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="legtherapy", description="Leg-therapy machine controller.")
    sub = p.add_subparsers(dest="cmd", required=True)

    run = sub.add_parser("run", help="run the machine (real hardware, or --sim)",
                         description="Run the machine daemon. On real hardware by default; --sim runs the same "
                                     "controller on the simulated board.")
    run.add_argument("--config", help="machine config TOML (default: the built-in default board)")
    run.add_argument("--state-dir", help="fault log, lockout, gains, calibration (default: config state_dir; "
                                         "with --sim: ./state/sim)")
    run.add_argument("--sim", action="store_true", help="run on the simulator instead of real hardware")
    run.add_argument("--sim-params", help="simulator physics parameters TOML (default: sim/default_params.toml)")
    run.add_argument("--speed", type=number_in(0.0, MAX_SPEED), default=1.0,
                     help="with --sim: simulated time runs X times real time; 0 = as fast as possible")
    run.add_argument("--program", help="start this program at once (see: legtherapy programs)")
    run.add_argument("--intensity", type=int, default=3, choices=range(1, 6), metavar="N", help="1-5 (default 3)")
    run.add_argument("--no-heat", action="store_true", help="start the program with heat off")
    run.add_argument("--inject", action="append", default=[], metavar="NAME[:ZONE]@SECONDS",
                     help="with --sim: inject a fault at a simulated time (repeatable)")
    run.add_argument("--exit-when-done", action="store_true",
                     help="exit when the session ends: 0 completed, 1 not started, 3 stopped, 4 fault, 5 lockout")
    run.add_argument("--report", help="write a JSON report here on exit")
    run.add_argument("--trace", help="write a CSV flight record (one row per fast tick) here")
    run.add_argument("--trace-every", type=number_in(1, 1_000_000, kind=int), default=1, metavar="N", help="keep every Nth tick in the trace")
    run.add_argument("--mqtt-host", help="MQTT broker host (overrides the config)")
    run.add_argument("--mqtt-port", type=number_in(1, 65535, kind=int), help="MQTT broker port")
    run.add_argument("--device-id", help="device id in MQTT topics")
    run.add_argument("--no-mqtt", action="store_true", help="do not connect to MQTT")
    run.add_argument("--socket", help="technician socket path (default: config; with --sim: STATE_DIR/legtherapy.sock)")
    run.add_argument("--require-profile", action="store_true",
                     help="with --sim: like real hardware, refuse programs until a profile is confirmed at the "
                          "panel or set with legctl profile set (default with --sim: start as if 'no conditions' "
                          "had been confirmed, unless a profile is saved in the state directory)")
    run.add_argument("--max-runtime", type=number_in(0.0, MAX_RUNTIME_S, low_open=True),
                     help="stop after this many seconds of machine time")
    run.add_argument("--log-level", default="INFO", type=str.upper,
                     choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))

    progs = sub.add_parser("programs", help="list the built-in programs")
    progs.add_argument("--json", action="store_true")
    progs.add_argument("--config")

    safe = sub.add_parser("safe-state", help="put every output in the safe state and exit (systemd stop hook)")
    safe.add_argument("--config")
    safe.add_argument("--sim", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.cmd == "run":
            return _run(args)
        if args.cmd == "programs":
            return _programs(args)
        if args.cmd == "safe-state":
            return _safe_state(args)
    except ConfigError as err:
        print(f"legtherapy: {err}", file=sys.stderr)
        return EXIT_USAGE
    except StateDirError as err:
        print(f"legtherapy: {err}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_USAGE


def _load(args, overrides: dict | None = None):
    return load_config(args.config, overrides)


def _run(args) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides: dict = {}
    mqtt: dict = {}
    if args.mqtt_host:
        mqtt["host"] = args.mqtt_host
    if args.mqtt_port:
        mqtt["port"] = args.mqtt_port
    if args.device_id:
        mqtt["device_id"] = args.device_id
    if mqtt:
        overrides["mqtt"] = mqtt
    if args.sim:
        overrides["socket"] = {"group": None}  # a laptop has no legtherapy group: the user's own socket
    cfg = _load(args, overrides)
    if cfg.mqtt.enabled and not args.no_mqtt:  # secrets read before anything is built: a bad one exits 2
        cfg = cfg.model_copy(update={"mqtt": resolve_mqtt_secrets(cfg.mqtt)})
    if not args.sim and (args.inject or args.speed != 1.0 or args.sim_params):
        print("legtherapy: --inject, --speed and --sim-params need --sim", file=sys.stderr)
        return EXIT_USAGE
    if args.speed < 0:
        print("legtherapy: --speed must be >= 0", file=sys.stderr)
        return EXIT_USAGE
    if not args.sim:  # before any pin is claimed: SPI, UART console, on a Raspberry Pi
        from controller.app.pi_checks import check_kernel_pins

        for problem in (problems := check_kernel_pins(cfg)):
            print(f"legtherapy: {problem}", file=sys.stderr)
        if problems:
            return EXIT_USAGE
    state_dir = args.state_dir or ("state/sim" if args.sim else cfg.state_dir)
    sim_params = None
    check_state_dir(state_dir)  # before anything runs: a machine that cannot record a lockout does not run
    if args.sim:
        from sim.faults import InjectionError, parse_injection
        from sim.params import load_sim_params

        try:  # validated here, like the config: a bad plant file is a usage error, not a traceback
            sim_params = load_sim_params(args.sim_params)
        except ValueError as err:
            print(f"legtherapy: --sim-params: {err}", file=sys.stderr)
            return EXIT_USAGE

        zones = {"pad": cfg.pad_names, "chamber": cfg.chamber_names, "roller": cfg.roller_names}
        chips = list(cfg.board.adcs) + ["expander"]
        for spec in args.inject:
            try:
                injection = parse_injection(spec, zones, chips + [f"0x{a:02x}" for a in range(0x08, 0x78)])
            except InjectionError as err:
                print(f"legtherapy: --inject {spec}: {err}", file=sys.stderr)
                return EXIT_USAGE
            if not math.isfinite(injection.at_s):
                print(f"legtherapy: --inject {spec}: the time must be a finite number of seconds", file=sys.stderr)
                return EXIT_USAGE
    from controller.app.daemon import RunOptions, run_machine
    from controller.machine.timebase import new_loop

    socket_path = args.socket or (str(Path(state_dir) / "legtherapy.sock") if args.sim else cfg.socket.path)
    # On the simulator MQTT is opt-in (a laptop has no broker); on hardware it follows the config.
    use_mqtt = not args.no_mqtt and (not args.sim or bool(mqtt))
    opts = RunOptions(config=cfg, state_dir=state_dir, sim=args.sim, program=args.program, intensity=args.intensity,
                      heat=not args.no_heat, injections=args.inject, exit_when_done=args.exit_when_done,
                      report=args.report, trace=args.trace, trace_every=args.trace_every, mqtt=use_mqtt,
                      socket_path=socket_path, sim_params=args.sim_params, max_runtime_s=args.max_runtime,
                      sim_params_override=sim_params, require_profile=True if args.require_profile else None)
    loop = new_loop(args.speed if args.sim else 1.0)
    try:
        result = loop.run_until_complete(run_machine(opts))
    except Exception as err:
        from controller.app.pi_checks import explain_gpio_busy
        from drivers.pin_factory import PinFactoryError

        if isinstance(err, PinFactoryError):
            print(f"legtherapy: {err}", file=sys.stderr)
            return EXIT_FAILED
        if args.sim or (hint := explain_gpio_busy(err)) is None:
            raise
        print(f"legtherapy: {hint}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        loop.close()
    if result.refused is not None:
        print(f"{args.program}: not started: {result.refused}")
    elif result.report is not None and args.exit_when_done:
        r = result.report
        print(f"{r['program']}: {r['outcome']} after {r['duration_s']:.1f} s"
              + (f"; faults: {', '.join(f['code'] for f in r['faults'])}" if r["faults"] else ""))
        if result.exit_code == EXIT_OK and r["program"] is not None:
            return session_exit_code(r)
    return result.exit_code


def _programs(args) -> int:
    from programs.library import describe, load_library

    cfg = _load(args)
    programs, problems = load_library(None, cfg.limits)
    rows = [describe(p) for p in programs.values()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['id']:<18} {r['duration_s'] / 60:5.1f} min  {r['name']}: {r['summary']}")
    for problem in problems:
        print(f"refused: {problem}", file=sys.stderr)
    return EXIT_OK


def _safe_state(args) -> int:
    """Safe outputs from outside the daemon (systemd ExecStopPost, even after a crash)."""
    cfg = _load(args)
    try:
        if args.sim:
            import asyncio

            from controller.machine.board import build_board, make_simulator

            loop = asyncio.new_event_loop()
            board = build_board(cfg, sim=make_simulator(cfg, loop.time))
        else:
            from controller.machine.board import build_board

            board = build_board(cfg)
        board.safe_state()
        board.close()
        print("outputs in the safe state")
        return EXIT_OK
    except Exception as err:  # fall back to the GPIO lines alone: relay and heaters first
        print(f"legtherapy safe-state: board not available ({err}); switching GPIO outputs off", file=sys.stderr)
        return _gpio_only_safe_state(cfg)


def _gpio_only_safe_state(cfg) -> int:
    """Every output pin low, then released pulled down (never floating), on lgpio only."""
    from drivers.heater import Heater
    from drivers.pin_factory import PinFactoryError, make_pin_factory
    from drivers.pump import Pump
    from drivers.relay import MasterRelay
    from drivers.roller_motor import RollerMotor

    try:
        pins = make_pin_factory()
    except PinFactoryError as err:
        print(f"legtherapy safe-state: {err}", file=sys.stderr)
        return EXIT_FAILED
    ok = True
    steps = [lambda: MasterRelay(cfg.board.relay_pin, pin_factory=pins).release(),
             lambda: Pump(cfg.board.pump_pin, pin_factory=pins).close()]
    steps += [lambda p=p: Heater(p.heater_pin, pin_factory=pins).close() for p in cfg.pads]
    steps += [lambda r=r: RollerMotor(r.pwm_pin, r.dir_pin, pin_factory=pins).close() for r in cfg.rollers]
    for step in steps:
        try:
            step()
        except Exception as err:
            ok = False
            print(f"legtherapy safe-state: {err}", file=sys.stderr)
    return EXIT_OK if ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
