"""Status LEDs and buzzer: what the machine is doing, readable from the couch without a screen.

LEDs are a pure function of the state snapshot (a ``State``) and the time (``led_pattern``), so
the scan cycle or any task may call ``update`` every tick and the LEDs never drift from the state:

============  =========================================================================
idle, ended   run LED: short flash every 2 s (0.5 Hz, "ready")
running       run LED steady
paused        pause LED steady
fault         fault LED blinking 2 Hz (a stop fault is latched: hold stop to acknowledge)
lockout       fault LED steady + pause LED blinking 1 Hz (needs a technician; distinct from a fault)
heat          heat LED steady while a pad has a target > 0, or heat is on in a running session;
              when idle it flashes with the run LED if the panel's selection has heat on
standby       only fault/lockout indications (and active heat) stay lit
notice        fault LED: N short flashes (0.15 s on, 0.35 s off) every 4 s (N = 8, 9, 10: every
              N × 0.5 + 0.5 s, so the dark gap between counts stays), for 60 s after the
              notice (always while "a profile is needed" or "profile unreadable" is in force);
              N is the notice's ``panel_code`` (README: "Notices"); a fault or lockout shows instead
prompt        run LED blinking 1 Hz while a step the person does (toe pulls, a stretch: a
              ``guide_prompt`` notice) is in force; the fault LED stays dark (nothing is wrong)
profile wait  heat and pause LEDs blink in turn at 2 Hz while a remote request to relax the
              profile waits for the panel gesture (hold program + heat 2 s)
============  =========================================================================

A fault or lockout shows over whatever the runner reports (safety first); warnings do not
light the fault LED (they don't stop anything).

The buzzer (an active buzzer: on or off only) plays patterns given as data, a tuple of
``(on, duration_s)`` steps. ``on_event`` queues the pattern for a hub event (or the panel's
own feedback); ``update`` drives the buzzer from it by time. Call ``update`` at least every
50 ms: the shortest step is 0.1 s. Priority decides overlaps: a lockout preempts everything, a
fault preempts session beeps, a notice plays one long beep then N short ones (its
``panel_code``), a prompt a triple chirp ("your turn"), panel feedback (refused chirp, selection count) replaces older
feedback and is dropped while a fault or lockout sounds. Patterns that queue behind another
start after a ``GAP_S`` pause, so two beeps in a row never merge into one long one.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Callable, Protocol

from controller.model.faults import Severity
from controller.model.notice import NoticeCode
from controller.model.state import Mode, State

log = logging.getLogger(__name__)

Pattern = tuple[tuple[bool, float], ...]

LED_NAMES = ("run", "pause", "fault", "heat")
IDLE_PERIOD_S, IDLE_FLASH_S = 2.0, 0.2  # 0.5 Hz short flash
FAULT_PERIOD_S = 0.5  # 2 Hz, half on
LOCKOUT_PERIOD_S = 1.0  # pause LED, 1 Hz, half on
NOTICE_PERIOD_S, NOTICE_FLASH_S, NOTICE_GAP_S = 4.0, 0.15, 0.35  # N flashes, then dark to 4 s
NOTICE_SHOW_S = 60.0  # a notice's LED code shows this long after it was raised
#: notices about the profile's own state: their LED code shows for as long as they are in force
LASTING_NOTICES = frozenset({NoticeCode.PROFILE_NEEDED, NoticeCode.PROFILE_UNREADABLE})
PENDING_PERIOD_S = 0.5  # heat and pause LEDs in turn, 2 Hz
#: a count of N flashes keeps at least this much dark before it repeats (N = 8, 9 and 10 need a
#: longer period than NOTICE_PERIOD_S; up to 7 the period stays NOTICE_PERIOD_S)
NOTICE_DARK_MIN_S = 0.5
PROMPT_PERIOD_S = 1.0  # run LED blinking 1 Hz while the person's step is in force


def beeps(n: int, on_s: float = 0.15, off_s: float = 0.25) -> Pattern:
    """``n`` short beeps (a count the person can hear: program number, intensity)."""
    steps: list[tuple[bool, float]] = []
    for i in range(max(0, n)):
        if i:
            steps.append((False, off_s))
        steps.append((True, on_s))
    return tuple(steps)


SESSION_START: Pattern = ((True, 0.2),)
SESSION_END: Pattern = ((True, 0.2), (False, 0.2), (True, 0.2))
SESSION_STOPPED: Pattern = ((True, 0.2),)
FAULT: Pattern = ((True, 0.8), (False, 0.4), (True, 0.8), (False, 0.4), (True, 0.8))
LOCKOUT: Pattern = ((True, 1.0), (False, 1.0)) * 5  # 10 s
REFUSED: Pattern = ((True, 0.1), (False, 0.1), (True, 0.1))  # short double chirp
PROFILE_CONFIRMED: Pattern = ((True, 0.6),)  # one long beep: the panel gesture was taken
PROMPT: Pattern = ((True, 0.1), (False, 0.1)) * 2 + ((True, 0.1),)  # triple chirp: your turn (toe pulls, stretch)
GAP_S = 0.3  # silence between queued patterns, so two of them never merge into one

FEEDBACK, INFO, ALARM, LOCKOUT_PRIORITY = 0, 1, 2, 3


class LedLike(Protocol):
    def set(self, on: bool) -> None: ...


class BuzzerLike(Protocol):
    def set(self, on: bool) -> None: ...


def notice_pattern(panel_code: int) -> Pattern:
    """One long beep, a pause, then ``panel_code`` short beeps: told apart from a refused chirp
    (two very short ones) and from a count (short beeps only)."""
    return ((True, 0.6), (False, 0.3)) + beeps(panel_code)


def duration_s(pattern: Pattern) -> float:
    return sum(d for _, d in pattern)


def pattern_for(event: dict) -> tuple[Pattern, int] | None:
    """The buzzer pattern (and its priority) for a hub event or panel feedback; None = silent."""
    kind = event.get("type")
    if kind == "session_start":
        return SESSION_START, INFO
    if kind == "session_end":
        outcome = event.get("outcome")
        if outcome in (Mode.FAULT, Mode.LOCKOUT):
            return None  # the fault event sounds its own alarm
        if outcome == Mode.STOPPED:
            return SESSION_STOPPED, INFO
        return SESSION_END, INFO
    if kind == "fault":
        severity = event.get("severity")
        if severity == Severity.LOCKOUT:
            return LOCKOUT, LOCKOUT_PRIORITY
        if severity == Severity.STOP:
            return FAULT, ALARM
        return None
    if kind == "lockout":
        return LOCKOUT, LOCKOUT_PRIORITY
    if kind == "refused":
        return REFUSED, FEEDBACK
    if kind == "notice":
        if event.get("code") == NoticeCode.GUIDE_PROMPT:
            return PROMPT, INFO
        count = event.get("panel_code")
        return (notice_pattern(min(count, 10)), INFO) if isinstance(count, int) and count > 0 else None
    if kind == "profile_confirmed":
        return PROFILE_CONFIRMED, FEEDBACK
    if kind == "selection":
        count = int(event.get("count") or 0)
        return (beeps(min(count, 10)), FEEDBACK) if count > 0 else None
    return None


def _phase(now_s: float, period_s: float, on_s: float) -> bool:
    return (now_s % period_s) < on_s


@dataclass(frozen=True)
class PanelSelection:
    """What a start from the panel would use now (``Panel.selection()``): the LEDs show the
    heat selected while idle, and go dark in standby."""

    program: str | None
    intensity: int
    heat: bool
    standby: bool


def led_pattern(snapshot: State, now_s: float, selection: PanelSelection | None = None) -> dict[str, bool]:
    """Which LEDs are lit for this snapshot at this time (pure: same inputs, same answer).

    ``selection`` is the panel's ``selection()`` (optional: no panel, nothing selected).
    """
    mode = snapshot.mode
    standby = selection is not None and selection.standby
    lockout = snapshot.locked_out
    fault = snapshot.faulted
    leds = dict.fromkeys(LED_NAMES, False)

    if lockout:
        leds["fault"] = True
        leds["pause"] = _phase(now_s, LOCKOUT_PERIOD_S, LOCKOUT_PERIOD_S / 2)
    elif fault:
        leds["fault"] = _phase(now_s, FAULT_PERIOD_S, FAULT_PERIOD_S / 2)
    elif standby:
        pass
    elif mode is Mode.RUNNING:
        leds["run"] = True
    elif mode is Mode.PAUSED:
        leds["pause"] = True
    elif mode.ready:
        leds["run"] = _phase(now_s, IDLE_PERIOD_S, IDLE_FLASH_S)

    heating = any((p.target_c or 0) > 0 for p in snapshot.pads.values())
    if heating or (mode is Mode.RUNNING and snapshot.heat_on and not (lockout or fault)):
        leds["heat"] = True
    elif mode.ready and not (lockout or fault or standby) and selection is not None and selection.heat:
        leds["heat"] = leds["run"]  # selected, not yet heating: flash with the ready flash

    if not (lockout or fault):
        if snapshot.profile_pending:
            first_half = _phase(now_s, PENDING_PERIOD_S, PENDING_PERIOD_S / 2)
            leds["heat"], leds["pause"] = first_half, not first_half
        code = notice_code_showing(snapshot, now_s)
        if code:
            leds["fault"] = _notice_flash(now_s, code)
        if mode is Mode.RUNNING and not standby and prompting(snapshot):
            leds["run"] = _phase(now_s, PROMPT_PERIOD_S, PROMPT_PERIOD_S / 2)
    return leds


def prompting(snapshot: State) -> bool:
    """A step the person does (toe pulls, a stretch) is in force."""
    return any(n.code == NoticeCode.GUIDE_PROMPT for n in snapshot.notices)


def notice_code_showing(snapshot: State, now_s: float) -> int:
    """The ``panel_code`` the fault LED is flashing for the newest notice now (0: none)."""
    notice = snapshot.notice
    if notice is None or notice.t_s is None or notice.code == NoticeCode.GUIDE_PROMPT:
        return 0  # (a prompt blinks the run LED instead: nothing is wrong)
    if notice.code not in LASTING_NOTICES and not 0.0 <= now_s - notice.t_s < NOTICE_SHOW_S:
        return 0
    return notice.panel_code


def notice_period_s(count: int) -> float:
    """How often a count of ``count`` flashes repeats: NOTICE_PERIOD_S, longer for 8 and up."""
    return max(NOTICE_PERIOD_S, count * (NOTICE_FLASH_S + NOTICE_GAP_S) + NOTICE_DARK_MIN_S)


def _notice_flash(now_s: float, count: int) -> bool:
    t = now_s % notice_period_s(count)
    step = NOTICE_FLASH_S + NOTICE_GAP_S
    return t < count * step and (t % step) < NOTICE_FLASH_S


@dataclass
class _Playing:
    pattern: Pattern
    priority: int
    start_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + duration_s(self.pattern)


class PanelOutputs:
    def __init__(self, leds: dict[str, LedLike], buzzer: BuzzerLike | None) -> None:
        unknown = sorted(set(leds) - set(LED_NAMES))
        if unknown:
            raise ValueError(f"unknown LED(s) {', '.join(unknown)} (known: {', '.join(LED_NAMES)})")
        self.leds = leds
        self.buzzer = buzzer
        self._written: dict[str, bool] = {}  # what each output last got; missing = write next time
        self._current: _Playing | None = None
        self._queue: deque[tuple[Pattern, int]] = deque()
        self._failing: set[str] = set()

    # ------------------------------------------------------------------ buzzer patterns
    def on_event(self, event: dict, now_s: float) -> None:
        found = pattern_for(event)
        if found is not None:
            self.play(*found, now_s=now_s)

    def play(self, pattern: Pattern, priority: int = INFO, *, now_s: float) -> None:
        self._advance(now_s)
        cur = self._current
        top = max([cur.priority if cur else -1] + [p for _, p in self._queue])
        if priority >= ALARM:
            if cur is not None and cur.priority >= priority:
                return  # the same alarm (or a stronger one) is already sounding
            self._queue = deque(item for item in self._queue if item[1] >= priority)
            self._current = _Playing(pattern, priority, now_s)
            return
        if priority == FEEDBACK:
            if top >= ALARM:
                return  # a chirp would only blur the alarm
            self._queue = deque(item for item in self._queue if item[1] != FEEDBACK)
            if cur is not None and cur.priority == FEEDBACK:
                self._current = None
        if self._current is None:
            self._current = _Playing(pattern, priority, now_s)
        else:
            self._queue.append((((False, GAP_S),) + pattern, priority))

    def _advance(self, now_s: float) -> None:
        while self._current is not None and now_s >= self._current.end_s:
            end = self._current.end_s
            if self._queue:
                pattern, priority = self._queue.popleft()
                self._current = _Playing(pattern, priority, end)
            else:
                self._current = None

    def buzzer_on(self, now_s: float) -> bool:
        self._advance(now_s)
        cur = self._current
        if cur is None:
            return False
        t = now_s - cur.start_s
        for on, d in cur.pattern:
            if t < d:
                return on
            t -= d
        return False

    @property
    def sounding(self) -> bool:
        """A pattern is playing or queued."""
        return self._current is not None or bool(self._queue)

    # ------------------------------------------------------------------ outputs
    def update(self, snapshot: State, now_s: float, selection: PanelSelection | None = None) -> dict[str, bool]:
        """Set LEDs and buzzer for now; returns what was wanted (LED names and ``buzzer``)."""
        wanted = led_pattern(snapshot, now_s, selection)
        for name, led in self.leds.items():
            self._write(name, led, wanted[name])
        wanted["buzzer"] = self.buzzer_on(now_s)
        if self.buzzer is not None:
            self._write("buzzer", self.buzzer, wanted["buzzer"])
        return wanted

    def all_off(self) -> None:
        self._current = None
        self._queue.clear()
        for name, led in self.leds.items():
            self._write(name, led, False)
        if self.buzzer is not None:
            self._write("buzzer", self.buzzer, False)

    def _write(self, name: str, device, on: bool) -> None:
        """Write only changes (the LEDs sit on I2C); a failing output is logged once, retried."""
        if self._written.get(name) == on:
            return
        try:
            device.set(on)
        except Exception as err:  # noqa: BLE001 - a dead LED must not stop the panel or the loop
            self._written.pop(name, None)
            if name not in self._failing:
                self._failing.add(name)
                log.warning("panel output %s failed: %s", name, err)
            return
        self._failing.discard(name)
        self._written[name] = on


async def drive_outputs(hub, outputs: PanelOutputs, *, selection: Callable[[], PanelSelection] | None = None,
                        period_s: float = 0.02) -> None:
    """Feed hub events to the buzzer and refresh LEDs/buzzer every ``period_s`` until cancelled."""
    loop = asyncio.get_running_loop()
    events = hub.subscribe_events()
    try:
        while True:
            now = loop.time()
            while not events.empty():
                outputs.on_event(events.get_nowait(), now)
            outputs.update(hub.snapshot(), now, selection() if selection is not None else None)
            await asyncio.sleep(period_s)
    finally:
        events.close()
