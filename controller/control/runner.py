"""The program state machine: idle → running ⇄ paused → completed | stopped | fault (``Mode``).

The runner decides *what* the machine should be doing now (which phase, which targets); the
controllers decide *how*, and the safety gate has the last word. A restart never resumes a
session: the runner always starts idle.

**Pre-heat** ("begin by rubbing your hands together to generate warmth"): a session whose first
phase heats the pads starts with a pre-heat, pads only, no air and no rollers, until every
heated pad is within ``therapy.preheat_band_c`` of its target, so the first strokes begin on
warm pads. It is part of the session (its time counts toward the session limit, which also
caps it: program + pre-heat never exceed ``limits.max_session_s``), and the person can skip
it (``preheat = false`` on start, or ``skip_preheat`` while it runs).

**Prompt steps** (the guide's toe pulls and stretch, which a machine cannot do): the step's
``prompt`` becomes a notice the person sees and hears (``Targets.prompt``); the step has no
compression or rollers (the schema refuses them), so the sleeves vent and the rollers stop
while the person moves, and its heat keeps the pads warm.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from controller.model.config import MachineConfig
from controller.model.notice import Notice, guide_prompt
from controller.model.state import ENDED_MODES, Mode
from programs.profile import Profile, ProfileDecision, check_profile
from programs.schema import Phase, Program

# Short names kept for the modules that import them (dispatch, technician, supervisor).
IDLE, RUNNING, PAUSED = Mode.IDLE, Mode.RUNNING, Mode.PAUSED
COMPLETED, STOPPED, FAULT = Mode.COMPLETED, Mode.STOPPED, Mode.FAULT
ENDED = ENDED_MODES
MAX_PAUSE_S = 600.0  # a pause longer than this ends the session: nobody is at the couch
PREHEAT_PHASE_NAME = "pre-heat"
#: the pre-heat ends at least this long before program + pre-heat would reach the session limit
PREHEAT_SESSION_MARGIN_S = 10.0


@dataclass
class Targets:
    """What the runner wants this tick. ``phase_changed`` tells the controllers to reload."""

    heat_c: dict[str, float | None]
    compression: object | None  # programs.schema.CompressionSpec
    rollers: object | None  # programs.schema.RollerSpec
    phase_changed: bool = False
    #: a step the person does (toe pulls, a stretch): its notice, worked out on the tick the
    #: phase changes (None on other ticks, and while paused or ended: the prompt is over)
    prompt: Notice | None = None
    #: the phase that ended on this tick ran its whole time, uninterrupted (no pause, no
    #: reload for a changed profile; not cut by a stop or fault): the controllers may judge
    #: what it achieved (its strokes)
    phase_completed: bool = False


@dataclass
class SessionRecord:
    program: str
    intensity: int
    started_s: float
    ended_s: float | None = None
    outcome: Mode | None = None  # completed, stopped or fault
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0  # running time, pauses excluded (set when the session ends)
    preheat_s: float = 0.0  # how long the pre-heat ran (0: none or skipped)


class Runner:
    def __init__(self, config: MachineConfig, programs: dict[str, Program]) -> None:
        self.config = config
        self.programs = programs
        self.mode: Mode = Mode.IDLE
        self.program: Program | None = None
        #: what a start without a program starts: the last one chosen or run (Home Assistant's
        #: program select shows it); before any, the first by id, as the panel offers it
        self.selected_program: str | None = min(programs) if programs else None
        self.intensity = 3
        self.heat_on = True
        self.profile = Profile()
        self.max_heat_c: float | None = None
        # the profile's per-leg decisions for the session: legs given nothing, legs without heat
        self.spared_legs: frozenset[str] = frozenset()
        self.no_heat_legs: frozenset[str] = frozenset()
        self.last_decision: ProfileDecision | None = None  # of the last start or change (its notices)
        self.phase_index = 0
        self._phase_started_elapsed = 0.0
        self._elapsed_before_pause = 0.0
        self._running_since: float | None = None
        self._paused_at: float | None = None
        self._phase_dirty = False
        self.session: SessionRecord | None = None
        self._last_pause_heat: dict[str, float | None] = {}
        self.sessions_ended: list[SessionRecord] = []
        self._preheat: Phase | None = None  # the pre-heat while it runs (a phase of pads only)
        self._preheat_s = 0.0  # session time the pre-heat took: the program's clock starts after it
        self._phase_interrupted = False  # paused or reloaded since the phase began

    # ------------------------------------------------------------------ time
    def elapsed_s(self, now_s: float) -> float:
        """Running time of the session (pauses excluded)."""
        if self._running_since is None:
            return self._elapsed_before_pause
        return self._elapsed_before_pause + (now_s - self._running_since)

    def program_elapsed_s(self, now_s: float) -> float:
        """Running time of the program itself (after the pre-heat)."""
        if self._preheat is not None:
            return 0.0
        return self.elapsed_s(now_s) - self._preheat_s

    def remaining_s(self, now_s: float) -> float:
        if self.program is None or not self.mode.in_session:
            return 0.0
        preheat_left = self._preheat.duration_s - self.elapsed_s(now_s) if self._preheat is not None else 0.0
        return max(0.0, self.program.duration_s - self.program_elapsed_s(now_s) + max(0.0, preheat_left))

    @property
    def preheating(self) -> bool:
        return self._preheat is not None

    @property
    def phase(self):
        if self._preheat is not None:
            return self._preheat
        if self.program is None or self.phase_index >= len(self.program.phases):
            return None
        return self.program.phases[self.phase_index]

    # ------------------------------------------------------------------ commands
    def start(self, program_id: str, intensity: int, heat: bool, now_s: float,
              preheat: bool = True) -> tuple[bool, str | None, list[str]]:
        self.last_decision = None
        if self.mode.in_session:
            return False, f"a session is already {self.mode}: stop it first", []
        program = self.programs.get(program_id)
        if program is None:
            known = ", ".join(sorted(self.programs))
            return False, f"unknown program {program_id!r} (known: {known})", []
        decision = self.last_decision = check_profile(program, intensity, self.profile)
        if not decision.allowed:
            return False, "; ".join(r for r, n in zip(decision.reasons, decision.notices)
                                    if n.code == "program_refused"), []
        self.program = program
        self.selected_program = program.id
        self.intensity = decision.intensity
        self.max_heat_c = decision.max_heat_c
        self.spared_legs, self.no_heat_legs = decision.spared_legs, decision.no_heat_legs
        self.heat_on = heat
        self.mode = Mode.RUNNING
        self.phase_index = 0
        self._phase_started_elapsed = 0.0
        self._elapsed_before_pause = 0.0
        self._running_since = now_s
        self._paused_at = None
        self._phase_dirty = True
        self._phase_interrupted = False
        self._preheat_s = 0.0
        self._preheat = self._preheat_phase(program) if preheat and heat else None
        self.session = SessionRecord(program.id, self.intensity, now_s, notes=list(decision.reasons))
        return True, None, list(decision.reasons)

    def _preheat_phase(self, program: Program) -> Phase | None:
        """Pads only, at the first phase's heat targets, for at most what the limits leave."""
        first = program.phases[0]
        therapy, limits = self.config.therapy, self.config.limits
        longest_s = min(therapy.preheat_max_s,
                        limits.max_session_s - program.duration_s - PREHEAT_SESSION_MARGIN_S)
        if not first.heat_c or longest_s <= 0:
            return None
        return Phase(name=PREHEAT_PHASE_NAME, duration_s=longest_s, heat_c=dict(first.heat_c))

    def skip_preheat(self, now_s: float) -> str | None:
        """The person is ready: start the program now."""
        if not self.mode.in_session or self._preheat is None:
            return "no pre-heat is running"
        self._end_preheat(now_s)
        return None

    def _end_preheat(self, now_s: float) -> None:
        self._preheat_s = self.elapsed_s(now_s)
        self._preheat = None
        self._phase_started_elapsed = 0.0
        self._phase_dirty = True
        self._phase_interrupted = False  # (a pause during the pre-heat is not the first phase's)
        if self.session is not None:
            self.session.preheat_s = self._preheat_s

    def pause(self, now_s: float) -> str | None:
        if self.mode != Mode.RUNNING:
            return f"nothing to pause: the machine is {self.mode}"
        self._elapsed_before_pause = self.elapsed_s(now_s)
        self._running_since = None
        self._paused_at = now_s
        self._phase_interrupted = True
        self.mode = Mode.PAUSED
        self._phase_dirty = True
        return None

    def resume(self, now_s: float) -> str | None:
        if self.mode != Mode.PAUSED:
            return f"nothing to resume: the machine is {self.mode}"
        self._running_since = now_s
        self._paused_at = None
        self.mode = Mode.RUNNING
        self._phase_dirty = True
        return None

    def stop(self, now_s: float, reason: str = "stopped by user") -> str | None:
        if not self.mode.in_session:
            return f"nothing to stop: the machine is {self.mode}"
        self._end(now_s, Mode.STOPPED, reason)
        return None

    def fault(self, now_s: float, reason: str) -> None:
        """A stop or lockout fault ends the session (the gate already made the outputs safe)."""
        if self.mode.in_session:
            self._end(now_s, Mode.FAULT, reason)
        elif self.mode != Mode.FAULT:
            self.mode = Mode.FAULT
            self._phase_dirty = True

    def clear_fault(self) -> None:
        if self.mode == Mode.FAULT:
            self.mode = Mode.IDLE

    def set_intensity(self, intensity: int) -> tuple[int, list[str]]:
        """Change intensity, capped by the profile; returns the intensity applied and why."""
        if self.program is not None and self.mode.in_session:
            decision = self.last_decision = check_profile(self.program, intensity, self.profile)
            self.intensity = decision.intensity
            return self.intensity, [n.text for n in decision.notices if n.code == "intensity_capped"]
        self.intensity = intensity
        return intensity, []

    def set_profile(self, **flags: bool) -> list[str]:
        """Change profile flags (None: unchanged); see ``apply_profile``."""
        return self.apply_profile(self.profile.with_changes(flags))

    def apply_profile(self, profile: Profile) -> list[str]:
        """Take a new profile; returns why a running session is no longer allowed (the caller
        stops it), else []. A session that may go on takes the new caps and spared legs at once
        (the phase is reloaded so the controllers drop a newly spared leg)."""
        self.profile = profile
        if self.program is not None and self.mode.in_session:
            decision = self.last_decision = check_profile(self.program, self.intensity, self.profile)
            if not decision.allowed:
                return [n.text for n in decision.notices if n.code == "program_refused"]
            self.intensity = decision.intensity
            self.max_heat_c = decision.max_heat_c
            if (decision.spared_legs, decision.no_heat_legs) != (self.spared_legs, self.no_heat_legs):
                self.spared_legs, self.no_heat_legs = decision.spared_legs, decision.no_heat_legs
                self._phase_dirty = True
                self._phase_interrupted = True
        return []

    def _end(self, now_s: float, outcome: Mode, reason: str) -> None:
        if self._preheat is not None:  # ended before the program began
            self._end_preheat(now_s)
        self._elapsed_before_pause = self.elapsed_s(now_s)
        self._running_since = None
        self.mode = outcome
        self._phase_dirty = True
        if self.session is not None:
            self.session.ended_s = now_s
            self.session.elapsed_s = self._elapsed_before_pause
            self.session.outcome = outcome
            self.session.reason = reason
            self.sessions_ended.append(self.session)
            del self.sessions_ended[:-20]

    # ------------------------------------------------------------------ the tick
    def step(self, now_s: float, pad_temps_c: Mapping[str, float] | None = None) -> Targets:
        """``pad_temps_c``: each pad's temperature (by zone), for the pre-heat to see it is warm."""
        completed = False
        if self.mode == Mode.PAUSED and self._paused_at is not None and now_s - self._paused_at > MAX_PAUSE_S:
            self._end(now_s, Mode.STOPPED, f"paused for more than {MAX_PAUSE_S:.0f} s")
        if self.mode == Mode.RUNNING and self._preheat is not None:
            if self.elapsed_s(now_s) >= self._preheat.duration_s or self._pads_warm(pad_temps_c):
                self._end_preheat(now_s)
        if self.mode == Mode.RUNNING and self.program is not None and self._preheat is None:
            elapsed = self.program_elapsed_s(now_s)
            phase = self.phase
            while phase is not None and elapsed - self._phase_started_elapsed >= phase.duration_s:
                self._phase_started_elapsed += phase.duration_s
                self.phase_index += 1
                self._phase_dirty = True
                completed = not self._phase_interrupted
                self._phase_interrupted = False
                phase = self.phase
            if phase is None:
                self._end(now_s, Mode.COMPLETED, "program completed")
        changed, self._phase_dirty = self._phase_dirty, False
        if self.mode == Mode.RUNNING:
            phase = self.phase
            heat = self._heat_targets(phase.heat_c)
            prompt = None
            if changed and phase.prompt is not None:
                heated = any(t is not None for t in heat.values())
                prompt = guide_prompt(phase.prompt.text, phase.duration_s, heated)
            return Targets(heat, phase.compression, phase.rollers, changed, prompt, completed)
        off = {p: None for p in self.config.pad_names}
        if self.mode == Mode.PAUSED:
            # Pause vents and idles the rollers; heat stays on for a bounded time.
            keep = now_s - (self._paused_at or now_s) <= self.config.limits.pause_heat_keep_s
            heat = self._heat_targets(self.phase.heat_c) if keep and self.phase else off
            if not keep and any(v is not None for v in self._last_pause_heat.values()):
                changed = True
            self._last_pause_heat = heat
            return Targets(heat, None, None, changed)
        return Targets(off, None, None, changed, phase_completed=completed)

    def _heat_targets(self, heat_c: dict[str, float]) -> dict[str, float | None]:
        """Each pad's target: the phase's ``heat_c`` for its position, capped by the machine's
        limit and the profile's (``max_heat_c``); None with heat off or on a leg that gets no heat."""
        out: dict[str, float | None] = {}
        for pad in self.config.pads:
            target = heat_c.get(pad.position) if self.heat_on and pad.leg not in self.no_heat_legs else None
            if target is not None:
                target = min(target, self.config.limits.max_heat_target_c)
                if self.max_heat_c is not None:
                    target = min(target, self.max_heat_c)
            out[pad.zone] = target
        return out

    def _pads_warm(self, pad_temps_c: Mapping[str, float] | None) -> bool:
        """Every pad the pre-heat heats is within the band of its target (heat off: nothing to wait for)."""
        if pad_temps_c is None:
            return False
        band = self.config.therapy.preheat_band_c
        targets = self._heat_targets(self._preheat.heat_c)
        for zone, target in targets.items():
            if target is None:
                continue
            temp = pad_temps_c.get(zone, math.nan)
            if not temp >= target - band:  # (NaN: not known to be warm)
                return False
        return True

    def phase_elapsed_s(self, now_s: float) -> float:
        if self._preheat is not None:
            return self.elapsed_s(now_s)
        return self.program_elapsed_s(now_s) - self._phase_started_elapsed
