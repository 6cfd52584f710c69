"""Assembles the machine and runs it: board, supervisor, panel, socket API, MQTT bridge.

Everything is built here from the validated config and passed down explicitly (no global
lookups). However the run ends (session done, SIGTERM, an exception), the outputs are put in
the safe state before the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field

from controller.machine.board import build_board, make_simulator
from controller.model.commands import Source, Start
from controller.model.config import MachineConfig
from controller.machine.hub import MachineHub
from controller.machine.recorders import ReportBuilder, TraceWriter, write_json
from controller.storage.calibration import load_pressure_offsets
from controller.storage.state_dir import check_state_dir
from controller.machine.supervisor import Supervisor, choose_scan_rate
from programs.library import load_library

log = logging.getLogger("legtherapy")


@dataclass
class RunOptions:
    config: MachineConfig
    state_dir: str
    sim: bool = False
    program: str | None = None
    intensity: int = 3
    heat: bool = True
    #: a scripted run (tests, benchmarks, --program) runs the program as written: no pre-heat
    preheat: bool = False
    injections: list[str] = field(default_factory=list)
    exit_when_done: bool = False
    report: str | None = None
    trace: str | None = None
    trace_every: int = 1
    mqtt: bool = True
    socket_path: str | None = None
    panel: bool = True
    sim_params: str | None = None
    max_runtime_s: float | None = None  # machine-time cap (tests, benchmarks)
    extra_programs: dict = field(default_factory=dict)  # programs built in code (benchmarks, tests)
    sim_params_override: object | None = None  # a sim.params.SimParams (e.g. a slower pad)
    #: a program needs a profile confirmed once at the machine (None: on real hardware yes; on the
    #: simulator no, it starts as if "no conditions" had been confirmed, unless a profile is saved)
    require_profile: bool | None = None
    sim_io_thread: bool = False  # the simulated board's I/O in a worker thread, as on a Pi


@dataclass
class RunResult:
    exit_code: int
    report: dict | None
    supervisor: Supervisor | None = None
    refused: str | None = None  # why ``--program`` was not started (None: it started, or none was given)


async def run_machine(opts: RunOptions, *, ready: asyncio.Future | None = None) -> RunResult:
    cfg = opts.config
    loop = asyncio.get_running_loop()
    check_state_dir(opts.state_dir)  # StateDirError: refuse to run without a fault record
    programs, problems = load_library(None, cfg.limits)
    for problem in problems:
        log.error("%s", problem)
    programs.update(opts.extra_programs)

    sim = None
    if opts.sim:
        from sim.params import load_sim_params

        params = opts.sim_params_override or load_sim_params(opts.sim_params)
        sim = make_simulator(cfg, loop.time, params=params)
        for spec in opts.injections:
            sim.inject(spec)
    board = build_board(cfg, sim=sim, pressure_offsets=load_pressure_offsets(opts.state_dir, cfg.chamber_names),
                        sim_io_in_thread=opts.sim_io_thread)
    # a bus too slow for the configured rate: a lower one, with a warning
    scan_rate = choose_scan_rate(cfg, board.measure_bus_time_s(), board.rotation_ticks)
    hub = MachineHub()
    report = ReportBuilder(cfg.pad_names, cfg.chamber_names)
    observers = [report]
    trace = None
    if opts.trace:
        trace = TraceWriter(opts.trace, cfg.pad_names, cfg.chamber_names, cfg.roller_names, every=opts.trace_every)
        observers.append(trace)
    from controller.app.systemd_notify import SystemdNotifier

    notifier = SystemdNotifier()  # a no-op unless systemd gave us $NOTIFY_SOCKET
    require_profile = opts.require_profile if opts.require_profile is not None else not opts.sim
    sup = Supervisor(cfg, board, hub, programs, state_dir=opts.state_dir, observers=observers, sim=sim,
                     notifier=notifier, require_profile_confirmation=require_profile, scan_rate=scan_rate)
    refused: str | None = None  # the start's refusal: the run exits 1 (never started)

    async def starter() -> None:
        nonlocal refused
        if opts.program is None:
            return
        result = await hub.submit(Start(command="start", program=opts.program, intensity=opts.intensity,
                                        heat=opts.heat, preheat=opts.preheat), Source.CLI, timeout=None)
        if not result.ok:
            log.error("program %s not started: %s", opts.program, result.error)
            refused = result.error
            sup.stop()
        elif result.data and result.data.get("notes"):
            for note in result.data["notes"]:
                log.warning("%s", note)

    async def stopper() -> None:
        if opts.exit_when_done:
            await sup.session_ended.wait()
            sup.stop()

    async def time_cap() -> None:
        if opts.max_runtime_s is not None:
            await asyncio.sleep(opts.max_runtime_s)
            log.warning("run time cap of %.0f s reached", opts.max_runtime_s)
            sup.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, sup.stop)

    tasks: list[asyncio.Task] = []
    api = None
    try:
        sup_task = asyncio.create_task(sup.run(), name="supervisor")
        tasks += [asyncio.create_task(starter()), asyncio.create_task(stopper()), asyncio.create_task(time_cap())]
        if opts.socket_path is not None:
            from controller.interfaces.socket_api import SocketApi

            api = SocketApi(cfg.socket, hub, path_override=opts.socket_path)
            await api.start()
        if opts.mqtt and cfg.mqtt.enabled:
            from controller.interfaces.mqtt import MqttBridge

            bridge = MqttBridge(cfg.mqtt, hub, pad_names=cfg.pad_names, chamber_names=cfg.chamber_names,
                                roller_names=cfg.roller_names)
            tasks.append(asyncio.create_task(bridge.run(), name="mqtt"))
        if opts.panel:
            tasks += _panel_tasks(sup, board, hub)
        notifier.ready("running")
        if ready is not None and not ready.done():
            ready.set_result(sup)
        await sup_task
    finally:
        notifier.stopping()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if api is not None:
            await api.close()
        board.safe_state()
        if trace is not None:
            trace.close()
        board.close()
    data = report.report(sup.runner)
    if opts.report:
        write_json(opts.report, data)
    return RunResult(0 if refused is None else 1, data, sup, refused)


def _panel_tasks(sup, board, hub) -> list[asyncio.Task]:
    from controller.interfaces.panel import Panel
    from controller.interfaces.panel_signals import PanelOutputs, drive_outputs

    outputs = PanelOutputs(board.leds, board.buzzer)
    panel = Panel(hub, board.buttons, outputs=outputs)
    return [asyncio.create_task(panel.run(), name="panel"),
            asyncio.create_task(drive_outputs(hub, outputs, selection=panel.selection, period_s=0.05),
                                name="panel-out")]


def run_fast(opts: RunOptions, during=None) -> RunResult:
    """Run the machine to the end on a fast-forwarding loop (``--speed 0``), blocking.

    ``during(supervisor)`` is an optional coroutine run beside the machine once it is up
    (tests and benchmarks use it to send commands or watch ticks).
    """
    from controller.machine.timebase import new_loop

    loop = new_loop(0)

    async def main() -> RunResult:
        ready = loop.create_future()
        task = asyncio.ensure_future(run_machine(opts, ready=ready))
        if during is not None:
            await during(await ready)
        return await task

    try:
        return loop.run_until_complete(main())
    finally:
        _cancel_leftovers(loop)
        loop.close()


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    """What ``asyncio.run`` does before it closes its loop: a task still pending (a watcher a
    ``during`` left beside the machine) is cancelled and let finish, not dropped half-run."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
