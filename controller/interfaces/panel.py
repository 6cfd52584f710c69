"""The button panel at the couch: buttons in, commands to the hub.

The panel talks only to the hub, so it keeps working with the network (and MQTT) down.
gpiozero calls us on its own threads; every edge is handed to the event loop with
``loop.call_soon_threadsafe`` and all timing (debounce, long press, auto-repeat) runs on the
loop's clock (``loop.time`` / ``call_later``): gpiozero's ``bounce_time`` is wall-clock and its
mock ignores it, and loop time lets tests (looptime) and simulations run faster than real time.

Debounce: a change of level counts only once the new level has held for ``debounce_s``
(default 30 ms); contact chatter shorter than that is ignored entirely. A button that is
already held when the panel starts (stuck, or leaned on) does nothing until it is released
and pressed again.

What the buttons do, as a person at the couch would expect:

* **start/pause** (on press): idle, completed or stopped → start the selected program at the
  selected intensity, heat as selected; running → pause; paused → resume. After a fault or in
  a lockout it refuses (refused chirp): a fault must be acknowledged first, a lockout needs a
  technician.
* **stop** (on press): stop, at once — stopping never waits for a long-press decision, and it
  works even in standby (a session started remotely must always be stoppable from the couch).
  Keep holding it for ``long_press_s`` (1.5 s) and it also sends **ack**, which clears stop
  faults whose cause is gone. A lockout is not the panel's to clear: a long press then only
  gives the refused chirp (a technician resets it over the local socket).
* **program** (on press, only when no session is running or paused): selects the next
  program of ``hub.program_ids``, wrapping around; the buzzer beeps its position (1 beep =
  first program). During a session it refuses: stop first.
* **intensity +/−** (on press): 1–5, clamped; during a session it sends ``set_intensity``,
  otherwise it changes the selection and the buzzer beeps the new level. Held, it repeats every
  ``repeat_s`` (0.4 s) after ``repeat_delay_s`` (0.8 s) and stops at the limit; a press at the
  limit gives the refused chirp.
* **heat** (on press): toggles heat — ``set_heat`` during a session, otherwise the selection
  (shown on the heat LED by ``PanelOutputs`` when it is given ``panel.selection()``).
* **program + heat held together** for ``confirm_hold_s`` (2 s): confirm the person's profile
  (``confirm_profile``): the profile as it stands ("no conditions" on a new machine), and any
  remote request to relax it that is waiting for a person at the machine (the heat and pause
  LEDs blink in turn while one waits). Whichever of the two buttons went down first has its own
  effect undone (the program selection, or the heat toggle) when the second joins it: a chord
  is one gesture, not two presses. A long beep says it was confirmed.
* **power**: hold for ``long_press_s`` → stop any session and go to standby
  (``panel.standby``): every button but stop and power is ignored. In standby, pressing power
  wakes the panel at once (no need to hold).

Every other button fires once per press (no auto-repeat). Each submitted command's result is
kept in ``last_result``; a refused command (by the machine, or by the panel itself) plays the
buzzer's refused chirp through ``outputs.on_event({"type": "refused", ...})``. A refused stop
is not chirped when nothing was running (the machine is already stopped: that is success).

Selections (program, intensity, heat) follow the machine: if the machine's intensity or heat
changes under the panel (a remote command, a session started by the app), the panel adopts it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from controller.interfaces.panel_signals import PanelSelection
from controller.model.commands import (Ack, CommandResult, ConfirmProfile, Pause, Resume, SetHeat, SetIntensity, Source,
                                       Start, Stop)
from controller.model.state import Mode, State

log = logging.getLogger(__name__)

BUTTON_NAMES = ("power", "start_pause", "stop", "program", "intensity_up", "intensity_down", "heat")
MIN_INTENSITY, MAX_INTENSITY = 1, 5
#: the two buttons held together to confirm the profile (a chord no single press can make)
CONFIRM_CHORD = ("program", "heat")


class ButtonLike(Protocol):
    """What the panel needs of a button (``drivers.buttons.PanelButton`` is one)."""

    @property
    def is_pressed(self) -> bool: ...

    def on_change(self, callback: Callable[[bool], None]) -> None: ...


class FeedbackSink(Protocol):
    """Where the panel's own feedback goes (``PanelOutputs`` is one)."""

    def on_event(self, event: dict, now_s: float) -> None: ...


@dataclass(eq=False)
class _Button:
    name: str
    device: Any
    raw: bool = False  # the last level reported by gpiozero
    raw_since: float = 0.0  # loop time of the last raw change
    pressed: bool = False  # the debounced level
    settle: asyncio.TimerHandle | None = None
    hold: asyncio.TimerHandle | None = None  # long press or auto-repeat

    def cancel_timers(self) -> None:
        for handle in (self.settle, self.hold):
            if handle is not None:
                handle.cancel()
        self.settle = self.hold = None


class Panel:
    def __init__(self, hub, buttons: dict[str, ButtonLike], *, loop: asyncio.AbstractEventLoop | None = None,
                 debounce_s: float = 0.03, long_press_s: float = 1.5, repeat_delay_s: float = 0.8,
                 repeat_s: float = 0.4, outputs: FeedbackSink | None = None, confirm_hold_s: float = 2.0) -> None:
        unknown = sorted(set(buttons) - set(BUTTON_NAMES))
        if unknown:
            raise ValueError(f"unknown panel button(s) {', '.join(unknown)} (known: {', '.join(BUTTON_NAMES)}; "
                             "the e-stop belongs to the safety layer, not the panel)")
        self.hub = hub
        self.outputs = outputs
        self.debounce_s = debounce_s
        self.long_press_s = long_press_s
        self.repeat_delay_s = repeat_delay_s
        self.repeat_s = repeat_s
        self.confirm_hold_s = confirm_hold_s
        self._before_chord: tuple | None = None  # (button, program, heat, in session) before its press
        self.standby = False
        self.intensity = 3
        self.heat = True
        self.last_result: CommandResult | None = None
        self._program: str | None = None
        self._seen: dict[str, Any] = {}
        self._tasks: set[asyncio.Task] = set()
        self._closed = False
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None  # run() picks the loop up; edges before that are dropped
        self._loop = loop
        self._buttons: dict[str, _Button] = {}
        for name, device in buttons.items():
            try:
                level = bool(device.is_pressed)
            except Exception:  # noqa: BLE001 - a bad read at start must not stop the panel
                log.exception("panel: cannot read button %s at start", name)
                level = False
            button = _Button(name, device, raw=level, pressed=level)
            self._buttons[name] = button
            device.on_change(lambda pressed, n=name: self._from_thread(n, pressed))

    # ------------------------------------------------------------------ public
    @property
    def selected_program(self) -> str | None:
        ids = self.hub.program_ids
        if self._program in ids:
            return self._program
        return ids[0] if ids else None

    def selection(self) -> PanelSelection:
        """What a start would use now; ``PanelOutputs.update(..., selection=)`` shows it."""
        return PanelSelection(program=self.selected_program, intensity=self.intensity, heat=self.heat,
                              standby=self.standby)

    async def run(self) -> None:
        """Handle button edges until cancelled; then detach. Needs nothing but the hub."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        try:
            await asyncio.Event().wait()
        finally:
            self.close()

    def close(self) -> None:
        """Detach from the buttons: later edges are ignored, pending timers are cancelled.

        Commands already handed to the hub are left to finish (a stop must not be lost).
        """
        self._closed = True
        for button in self._buttons.values():
            button.cancel_timers()

    # ------------------------------------------------------------------ edges and timing
    def _from_thread(self, name: str, pressed: bool) -> None:
        """gpiozero's thread: hand the edge to the loop, nothing else."""
        loop = self._loop
        if self._closed or loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._edge, name, bool(pressed))
        except RuntimeError:  # the loop is closed: we are shutting down
            pass

    def _edge(self, name: str, pressed: bool) -> None:
        if self._closed:
            return
        b = self._buttons[name]
        now = self._loop.time()
        if pressed != b.raw:
            b.raw = pressed
            b.raw_since = now
        if b.settle is not None:
            b.settle.cancel()
            b.settle = None
        if b.raw != b.pressed:  # back at the debounced level within the window: chatter, ignore
            b.settle = self._loop.call_later(self.debounce_s, self._settle, b)

    def _settle(self, b: _Button) -> None:
        b.settle = None
        if self._closed or b.raw == b.pressed:
            return
        b.pressed = b.raw
        if b.hold is not None:
            b.hold.cancel()
            b.hold = None
        if b.pressed:
            try:
                self._on_press(b)
            except Exception:  # noqa: BLE001 - one bad press must not kill the panel
                log.exception("panel: %s press failed", b.name)

    def _held_for(self, b: _Button) -> float:
        return self._loop.time() - b.raw_since

    def _after_hold(self, b: _Button, hold_s: float, action: Callable[[], None]) -> None:
        """Run action once ``b`` has been held ``hold_s`` since its (raw) press edge."""
        def fire() -> None:
            b.hold = None
            if not self._closed and b.pressed:
                action()
        b.hold = self._loop.call_later(max(0.0, hold_s - self._held_for(b)), fire)

    # ------------------------------------------------------------------ what the buttons do
    def _on_press(self, b: _Button) -> None:
        name = b.name
        if name == "power":
            if self.standby:
                self._wake()
            else:
                self._after_hold(b, self.long_press_s, self._go_standby)
            return
        if name == "stop":
            self._stop()
            self._after_hold(b, self.long_press_s, self._ack)
            return
        if self.standby:
            log.info("panel in standby: %s ignored (press power to wake)", name)
            return
        if name in CONFIRM_CHORD:
            other = self._buttons.get(CONFIRM_CHORD[1 - CONFIRM_CHORD.index(name)])
            if other is not None and other.pressed:
                self._begin_confirm(b, other)
                return
            self._before_chord = (name, self._program, self.heat, self._mode().in_session)
        if name == "start_pause":
            self._start_pause()
        elif name == "program":
            self._next_program()
        elif name in ("intensity_up", "intensity_down"):
            step = 1 if name == "intensity_up" else -1
            if self._step_intensity(step, first=True):
                self._after_hold(b, self.repeat_delay_s, lambda: self._repeat(b, step))
        elif name == "heat":
            self._toggle_heat()

    def _begin_confirm(self, b: _Button, other: _Button) -> None:
        """The second chord button went down: undo the first one's press, then confirm the
        profile once both have been held ``confirm_hold_s``."""
        before, self._before_chord = self._before_chord, None
        if before is not None and before[0] == other.name:
            _, program, heat, in_session = before
            if other.name == "program":
                self._program = program
            elif self.heat != heat:
                self.heat = heat
                if in_session:
                    self._send(SetHeat(command="set_heat", on=heat), chirp=False)

        def confirm() -> None:
            if other.pressed and not self.standby:
                task = self._send(ConfirmProfile(command="confirm_profile"))
                task.add_done_callback(self._confirmed)
        self._after_hold(b, self.confirm_hold_s, confirm)

    def _confirmed(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is None and task.result().ok:
            self._feedback({"type": "profile_confirmed"})

    def _repeat(self, b: _Button, step: int) -> None:
        try:
            still_held = bool(b.device.is_pressed)
        except Exception:  # noqa: BLE001
            still_held = False
        if self.standby or not still_held:  # a lost release edge must not repeat forever
            return
        if self._step_intensity(step, first=False):
            b.hold = self._loop.call_later(self.repeat_s, lambda: self._repeat_if_held(b, step))

    def _repeat_if_held(self, b: _Button, step: int) -> None:
        b.hold = None
        if not self._closed and b.pressed:
            self._repeat(b, step)

    def _stop(self) -> None:
        in_session = self._mode().in_session
        self._send(Stop(command="stop"), chirp=in_session)

    def _ack(self) -> None:
        snap = self._snapshot()
        if snap.locked_out:
            self._refuse("ack", "locked out: a technician must check the machine; the panel cannot clear a lockout")
            return
        if snap.faulted:
            self._send(Ack(command="ack"), chirp=True)

    def _start_pause(self) -> None:
        snap = self._snapshot()
        mode = snap.mode
        if mode is Mode.RUNNING:
            self._send(Pause(command="pause"))
        elif mode is Mode.PAUSED:
            self._send(Resume(command="resume"))
        elif snap.locked_out:
            self._refuse("start", "locked out: a technician must check the machine")
        elif mode is Mode.FAULT:
            self._refuse("start", "fault: hold stop to acknowledge it first")
        elif mode.ready:
            program = self.selected_program
            if program is None:
                self._refuse("start", "no programs loaded")
                return
            intensity = self._follow("intensity", snap, self.intensity)
            heat = self._follow("heat_on", snap, self.heat)
            self.intensity, self.heat = intensity, heat
            try:
                cmd = Start(command="start", program=program, intensity=intensity, heat=heat)
            except ValueError as err:
                self._refuse("start", f"program {program!r} cannot be started: {err}")
                return
            self._send(cmd)
        else:
            self._refuse("start", f"the machine is {mode}: wait a moment")

    def _next_program(self) -> None:
        if self._mode().in_session:
            self._refuse("program", "a session is on: stop it before choosing another program")
            return
        ids = self.hub.program_ids
        if not ids:
            self._refuse("program", "no programs loaded")
            return
        current = self.selected_program
        index = (ids.index(current) + 1) % len(ids) if current in ids else 0
        self._program = ids[index]
        self._feedback({"type": "selection", "what": "program", "value": ids[index], "count": index + 1})

    def _step_intensity(self, step: int, first: bool) -> bool:
        """Move intensity one step; False at the limit (which ends an auto-repeat)."""
        snap = self._snapshot()
        base = self._follow("intensity", snap, self.intensity)
        new = min(MAX_INTENSITY, max(MIN_INTENSITY, base + step))
        self.intensity = new
        if new == base:
            if first:
                which = "maximum" if step > 0 else "minimum"
                self._refuse("set_intensity", f"intensity is already at the {which} ({base})")
            return False
        if snap.mode.in_session:
            self._send(SetIntensity(command="set_intensity", intensity=new))
        else:
            self._feedback({"type": "selection", "what": "intensity", "value": new, "count": new})
        return True

    def _toggle_heat(self) -> None:
        snap = self._snapshot()
        self.heat = not self._follow("heat_on", snap, self.heat)
        if snap.mode.in_session:
            self._send(SetHeat(command="set_heat", on=self.heat))

    def _go_standby(self) -> None:
        self.standby = True
        for b in self._buttons.values():  # an intensity repeat in progress ends here
            if b.name != "power" and b.hold is not None:
                b.hold.cancel()
                b.hold = None
        if self._mode().in_session:
            self._send(Stop(command="stop"))
        log.info("panel: standby (press power to wake)")

    def _wake(self) -> None:
        self.standby = False
        log.info("panel: awake")

    # ------------------------------------------------------------------ helpers
    def _snapshot(self) -> State:
        try:
            return self.hub.snapshot()
        except Exception:  # noqa: BLE001
            log.exception("panel: no snapshot from the hub")
            return State.starting()  # nothing known: the panel refuses to start, still stops

    def _mode(self) -> Mode:
        return self._snapshot().mode

    def _follow(self, key: str, snap: State, current):
        """The machine's value if it changed since we last looked (someone else set it), else ours.

        Ours may be newer than the snapshot: a command just sent is not in it yet.
        """
        value = getattr(snap, key)
        if value is None or value == self._seen.get(key):
            return current
        self._seen[key] = value
        return value

    def _send(self, cmd, chirp: bool = True) -> asyncio.Task:
        task = self._loop.create_task(self._submit(cmd, chirp), name=f"panel-{cmd.command}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _submit(self, cmd, chirp: bool) -> CommandResult:
        try:
            result = await self.hub.submit(cmd, Source.PANEL)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - the panel must outlive a broken hub call
            log.exception("panel: %s could not be sent", cmd.command)
            result = CommandResult.refused(cmd, f"the panel could not send {cmd.command}: {err}")
        self.last_result = result
        if not result.ok:
            log.warning("panel: %s refused: %s", cmd.command, result.error)
            if cmd.command in ("set_intensity", "set_heat"):  # look at the machine again next press
                self._seen.pop("intensity" if cmd.command == "set_intensity" else "heat_on", None)
            if chirp:
                self._feedback({"type": "refused", "command": cmd.command, "reason": result.error})
        return result

    def _refuse(self, command: str, reason: str) -> None:
        log.info("panel: %s refused: %s", command, reason)
        self.last_result = CommandResult(ok=False, error=reason)
        self._feedback({"type": "refused", "command": command, "reason": reason})

    def _feedback(self, event: dict) -> None:
        if self.outputs is None:
            return
        try:
            self.outputs.on_event(event, self._loop.time())
        except Exception:  # noqa: BLE001 - a buzzer fault must not stop the buttons
            log.exception("panel: feedback failed")
