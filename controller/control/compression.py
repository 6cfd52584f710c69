"""Compression sleeves: waves, pulses and holds, always toward the heart.

How the parts fit, and why:

- **One sequencer per leg** (``_Leg``) walks the cycle: fill its chambers distal → proximal,
  keep them ``hold_s``, vent, rest ``rest_s`` with every vent open, repeat. ``legs =
  "alternate"`` hands the turn to the other leg after each cycle; ``"both"`` runs the two
  sequencers side by side. A ``hold`` with ``hold_s = 0`` keeps its chambers at target until the
  phase ends (bounded by the hold limit below). A ``pulse`` fills its chambers distal first too,
  one straight after the other: with one pump, filling them together takes as long (the pump's
  flow is the limit), and chambers filled together through one manifold end up at the same
  pressure, so the sensor noise alone would decide whether the gradient holds.
- **One arbiter for the pump.** The pump is weak next to the fill valves (its internal
  conductance is ~30× smaller), so with two fill valves open the manifold sits near the mean of
  the chamber pressures and a fuller chamber empties into an emptier one. So the pump serves one
  fill at a time: a leak top-up first (distal first: it holds the gradient up) — but never
  before the fill in progress has reached half its target, so a struggling fill (a leak, a weak
  pump) keeps the pump to itself and the safety layer's fill check sees it whole — else the fill
  it is already serving, else the waiting fill of the oldest cycle, most distal first, left before
  right. On both legs the waves so interleave — left foot, right foot, left calf, right calf, ...
  — which takes the same time as filling both legs' chambers together (the pump's flow is the
  limit either way) while each single fill stays within the fill timeout even at deep
  pressures; and a leg that starts its next cycle early never starves the other leg's wave.
- **The gradient foot ≥ calf ≥ thigh holds at all times**, by construction rather than by hope:
  a chamber is never filled past the present pressure of the active chamber distal to it, and a
  leg vents proximal first — a chamber's vent opens once every chamber proximal to it is down to
  ``VENT_STAGE_RATIO`` of its pressure. (The foot vents fastest: venting all at once would leave
  it below the thigh for a second.) A latched-open vent whose chamber falls below a proximal one
  anyway (other valves than the simulated ones) is closed again until the ratio holds.
- **Fills stop without overshoot**: the fill valve closes ``stop_early_mmhg`` before target, and
  the pump slows to ``pump_min_duty`` over the last ``approach_band_mmhg``. Near the pump's stall
  pressure that slow duty would stop the flow, so a fill that rises slower than
  ``MIN_APPROACH_RATE_MMHG_PER_S`` gets its duty raised until it moves. Leak top-ups (at most
  2 mmHg) run at full duty: slowing them would quadruple the pump time they take from the fills
  (leaks cost a quarter of the pump's flow on a full leg), and the valve still closes
  ``stop_early_mmhg`` short.
- **Nothing is held too long**: a leg whose chamber has been closed for ``max_hold_s −
  MAX_HOLD_MARGIN_S − VENT_STAGING_ALLOWANCE_S`` is vented whole (venting only the overdue distal
  chamber would invert the gradient), so even its last vent, which opens after the proximal
  ones, opens ``MAX_HOLD_MARGIN_S`` before the limit; then it rests ``rest_s``. A fill that does
  not reach target in ``fill_timeout_s`` is given up for this cycle ``GIVE_UP_AFTER_SAFETY_S``
  later (the safety layer's fill check, a tick behind the outputs, must see its whole window),
  unless it is still clearly rising (a big chamber at a deep pressure on a small pump): then it
  goes on while it keeps rising. The safety layer judges fills; the controller only stops
  pumping.
- A leg with a missing (NaN) pressure reading is never filled blind: it vents.
- **Strokes are counted**: a wave whose most proximal chamber reached its target (after the
  distal ones, by construction) is one upward stroke of that leg (``strokes``, cumulative since
  start; the trace shows it). A wave phase with ``strokes`` set starts no cycle on a leg that
  has made that many in the phase: the leg rests vented until the phase ends.
- **Anchor** (the thigh step): the leg fills in order, then only its last chamber cycles
  (hold, vent, ``squeeze_rest_s``, refill) while the chambers below it stay held, so foot ≥
  calf ≥ thigh holds at every instant. A squeeze starts only if, judged by the last one, it
  ends before the hold guard would vent the leg; otherwise the whole leg vents and rests.
  With ``support_mmhg``, each anchor chamber that reaches its own pressure *eases* to its
  support: its target becomes the support, and its vent opens for single ticks (a *bleed*
  pulse, ``BLEED_SETTLE_S`` apart so a lagging sensor has caught up) while it is above it.
  A pulse is taken only if even the largest drop one pulse may cause (learnt from the last
  pulses, ``BLEED_DROP_START``-sized at first) leaves it above every chamber proximal to it
  (and above what a proximal chamber still filling is aiming at) by
  ``BLEED_GRADIENT_MARGIN_MMHG``: the gradient holds at every instant, and the proximal
  fills still reach their targets (while one is still to come, the eased chamber's target is
  that fill's target plus ``EASED_ABOVE_FILL_MMHG``, if higher than its support). A pulse
  only opens while another chamber of the leg is closed, one pulse a leg a tick. A bleed
  releases nothing: the chamber stays closed for the hold guard (its ``closed_since_s`` runs
  on), so the hold limit counts from the anchor's first fill however it eases.
- **Press** (press and hold): filled in order and held until ``release_hold`` (the person
  pressed the button) or the hold guard below, whichever first; then vent, rest, repeat.
- **Strokes the plant cannot make in time are said too**: a wave phase that ran its whole
  time (``set_program(..., phase_completed=True)``) with a leg short of its ``strokes`` raises
  a ``pressure_shortfall`` warning for that leg (zone: the leg; made and stated counts in
  words).
- **A target the plant cannot reach is said, not hidden**: a fill that ends more than
  ``SHORTFALL_WARN_MMHG`` short of its target (given up, or vented by the hold guard; not one a
  phase change cut) is a short fill, and the first short fill of one chamber in a session raises a
  ``pressure_shortfall`` warning in words (``warnings`` of the step's output; the supervisor
  latches it), naming the pump's measured flow when the service record knows it
  (``pump_measured``). It cuts nothing: the gradient and every limit hold as for any fill.

Time comes in as ``now_s``; nothing here sleeps or reads a clock.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from controller.model.config import CHAMBER_ORDER, MachineConfig
from controller.model.faults import Fault, pump_weak_below

#: a held chamber that leaked this far below target is topped up
TOP_UP_BELOW_MMHG = 2.0
#: a top-up may interrupt a fill only once that fill has reached this fraction of its target
#: (the safety layer's fill check wants half the target within the fill timeout, uninterrupted)
PREEMPT_FROM_FRACTION = 0.5
#: so before a new fill starts, held chambers this far below target are topped up first
TOP_UP_BEFORE_FILL_MMHG = 1.0
#: the last vent of a leg opens at least this long before a chamber reaches max_hold_s
MAX_HOLD_MARGIN_S = 2.0
#: how long the proximal-first vent takes to open a leg's last vent (deep pressures, thigh
#: first: ~2.7 s on the default sleeves); the hold guard starts this much earlier
VENT_STAGING_ALLOWANCE_S = 3.0
#: a chamber's vent opens once every chamber proximal to it is down to this fraction of its
#: pressure; from there the faster-venting distal chamber stays above it (within ~0.5 mmHg on
#: the default sleeves, at deep pressures) all the way down
VENT_STAGE_RATIO = 0.1
#: a vent that let its chamber fall this far below a proximal one is closed again, if the
#: chamber still holds more than VENT_BACKSTOP_MIN_MMHG (well above the sensor noise, so noise
#: around an empty chamber never closes its vent)
VENT_BACKSTOP_MMHG = 3.0
VENT_BACKSTOP_MIN_MMHG = 5.0
#: at or below this a chamber counts as empty: its vent stays open whatever the others do
EMPTY_MMHG = 1.0
#: a fill held at the distal chamber's pressure (the gradient cap) resumes this far below it
CAP_REOPEN_MMHG = 0.5
#: slower than this inside the approach band means the slowed pump has (nearly) stalled
MIN_APPROACH_RATE_MMHG_PER_S = 2.0
#: how fast the duty is raised while a fill is stalled (duty per second)
STALL_BOOST_PER_S = 1.0
#: a fill that missed its target is given up this long after fill_timeout_s, so the safety
#: layer's fill interlock has judged it first
GIVE_UP_AFTER_SAFETY_S = 2.0
#: past that point a fill goes on only while it keeps rising this much every PROGRESS_WINDOW_S:
#: a deep program's thigh on the default pump takes ~30 s and is still climbing at 4 mmHg/s,
#: while a fill the pump can only hold level (a leak) is given up; the leg's max-hold guard
#: bounds either
PROGRESS_WINDOW_S = 3.0
PROGRESS_MIN_RISE_MMHG = 2.0
#: the window the fill rate is measured over (long enough to average out sensor noise)
RATE_WINDOW_S = 0.25
WAVE_LOG_LEN = 1000
#: anchor: the squeezing chamber's vent, allowed for when judging whether one more squeeze fits
ANCHOR_VENT_ALLOWANCE_S = 2.0
#: anchor: the first squeeze's fill, times this, estimates the next one's (top-ups and the
#: other leg's fills may hold the pump longer than they did the first time)
ANCHOR_FIRST_FILL_FACTOR = 1.3
#: anchor support: a bleed pulse's settling time before the next (pressure sensors lag up to
#: 0.3 s in the envelope, and the rate window is RATE_WINDOW_S)
BLEED_SETTLE_S = 0.6
#: the share of its pressure one single-tick pulse is assumed to let out before one has been
#: seen (the smallest sleeve of the envelope on the default vent valve loses ~11 % a tick)
BLEED_DROP_START = 0.12
#: a measured drop is taken this much larger (noise, leaks), and never below BLEED_DROP_MIN
BLEED_DROP_SAFETY = 1.25
BLEED_DROP_MIN = 0.03
#: an easing chamber stays this far above every chamber proximal to it
BLEED_GRADIENT_MARGIN_MMHG = 1.0
#: ... and holds this far above the target of a proximal chamber still filling
EASED_ABOVE_FILL_MMHG = 2.0
#: a fill that ends this far below its target fell short (the report's band too)
SHORTFALL_WARN_MMHG = 3.0
#: the first short fill of a chamber in a session raises the warning: the plant matrix showed
#: units whose only short fill was a whole wave 20-36 mmHg short, which waiting for a second one
#: (or for two in a row) left silent; the latch keeps one warning per chamber
SHORTFALL_WARN_AFTER = 1

# chamber states
_VENT = "vent"  # venting or vented (vent by the staging rule), fill closed
_QUEUED = "queued"  # its fill is next (or waits for the pump): still venting
_FILL = "fill"  # being filled, vent closed; may wait for the pump or for the gradient
_HELD = "held"  # reached target, vent closed, topped up when it leaks
_GAVE_UP = "gave_up"  # fill timed out (or capped by one that did): kept as it is, no top-up
_CLOSED_STATES = (_FILL, _HELD, _GAVE_UP)

# leg stages
_OFF = "off"  # no program, or not this leg's turn
_FILLING = "filling"
_HOLDING = "holding"
_RESTING = "resting"
_SQUEEZE_REST = "squeeze_rest"  # anchor: the lower chambers held, the last one vented


@dataclass(frozen=True, slots=True)
class CompressionOutput:
    fill_open: dict[str, bool]
    vent_open: dict[str, bool]
    pump_duty: float
    target_mmhg: dict[str, float]  # 0 where no chamber is being filled or held
    warnings: tuple[Fault, ...] = ()  # pressure_shortfall warnings raised this tick
    strokes: Mapping[str, int] = field(default_factory=dict)  # completed upward waves per leg, since start


class _Chamber:
    __slots__ = ("name", "leg", "position", "order", "state", "topping_up", "capped", "vent_latched",
                 "fill_started_s", "closed_since_s", "times", "pressures", "p", "target", "distal", "proximal",
                 "progress_mmhg", "progress_due_s", "fill_peak", "short_fills",
                 "own", "support", "eased", "bleed_due_s", "bleed_from", "drop_fraction")

    def __init__(self, name: str, leg: str, position: str) -> None:
        self.name = name
        self.leg = leg
        self.position = position
        self.order = CHAMBER_ORDER.index(position)
        self.state = _VENT
        self.topping_up = False
        self.capped = False  # fill valve held shut by the gradient cap
        self.vent_latched = False  # the staging rule has opened this vent
        self.fill_started_s = 0.0
        self.progress_mmhg = 0.0  # a late fill's pressure at the start of its progress window
        self.progress_due_s: float | None = None  # when that window closes (None: not late yet)
        self.closed_since_s: float | None = None  # vent closed since
        self.fill_peak = 0.0  # the highest reading of the fill in progress
        self.short_fills = 0  # fills this session that ended short of target
        # the finite readings over RATE_WINDOW_S, as two parallel deques: (times[i], pressures[i])
        self.times: deque[float] = deque()
        self.pressures: deque[float] = deque()
        self.p = 0.0  # this tick's reading (NaN: none)
        self.target = 0.0  # CompressionController.target_of, kept current by the controller
        self.own = 0.0  # the program's pressure at the intensity (0: unused)
        self.support = 0.0  # an anchor's support pressure at the intensity (= own without one)
        self.eased = False  # an anchor chamber that reached its own pressure and eases to its support
        self.bleed_due_s = 0.0  # the next bleed pulse may not come before this
        self.bleed_from: float | None = None  # the pressure before the last pulse (to learn its drop)
        self.drop_fraction = BLEED_DROP_START  # the largest share of its pressure a pulse may let out
        self.distal: _Chamber | None = None  # _Leg.distal_of(self), kept current by the leg
        self.proximal: list[_Chamber] = []  # every chamber of the leg proximal to this one

    def to_state(self, state: str) -> None:
        self.state = state
        self.topping_up = self.capped = self.vent_latched = False

    def ease(self, eased: bool) -> None:
        """Hold at the support (True) or at the program's own pressure (False)."""
        self.eased = eased
        self.bleed_from = None
        self.target = self.support if eased else self.own

    def mean_mmhg(self) -> float:
        return sum(self.pressures) / len(self.pressures) if self.pressures else math.nan

    def rate_mmhg_per_s(self) -> float:
        if len(self.times) < 2:
            return math.inf  # no evidence of a stall yet
        t0, t1 = self.times[0], self.times[-1]
        return (self.pressures[-1] - self.pressures[0]) / (t1 - t0) if t1 > t0 else math.inf


class _Leg:
    """One leg's cycle: fill its chambers in order, hold, vent and rest."""

    def __init__(self, name: str, chambers: list[_Chamber]) -> None:
        self.name = name
        self.chambers = chambers  # every chamber of the leg, distal -> proximal
        for i, c in enumerate(chambers):
            c.proximal = chambers[i + 1:]
        self.active: list[_Chamber] = []  # those the program uses
        self.stage = _OFF
        self.index = 0  # the active chamber whose fill is next
        self.until_s = 0.0  # end of the hold, or of the rest (inf until every vent is open)
        self.rest_s = 0.0
        self.cycled = False  # has filled at least once under this program
        self.cycle_started_s = 0.0
        self.cycle_done = False  # a rest after a cycle ended (alternate: pass the turn)
        self.strokes = 0  # completed upward waves since start (never reset: the trace counts per session)
        self.phase_strokes = 0  # completed upward waves under the present spec
        self.squeezes = 0  # anchor: squeezes of the last chamber in this cycle
        self.squeeze_started_s = 0.0
        self.squeeze_s = 0.0  # anchor: how long the last squeeze took, fill to the end of its rest

    def configure(self, active: list[_Chamber]) -> None:
        self.active = active
        self.cycled = False
        self.phase_strokes = 0
        for c in self.chambers:
            c.distal = self.distal_of(c)

    def distal_of(self, chamber: _Chamber) -> _Chamber | None:
        """The nearest active chamber distal to ``chamber``: the one it must not exceed."""
        found = None
        for c in self.active:
            if c.order < chamber.order:
                found = c
        return found

    def closed_too_long(self, now_s: float, max_closed_s: float) -> bool:
        """A chamber of the leg has had its vent closed for ``max_closed_s``."""
        for c in self.chambers:
            since = c.closed_since_s
            if since is not None and now_s - since >= max_closed_s:
                return True
        return False

    def start_cycle(self, now_s: float) -> None:
        self.stage = _FILLING if self.active else _HOLDING
        self.index = 0
        self.cycled = True
        self.cycle_started_s = now_s
        self.cycle_done = False
        self.squeezes = 0
        self.squeeze_s = 0.0
        for c in self.active:
            c.state = _QUEUED  # keeps its vent latch: it may still be venting
            c.topping_up = c.capped = False
            if c.eased:
                c.ease(False)

    def vent(self, rest_s: float) -> None:
        self.stage = _RESTING
        self.until_s = math.inf  # the rest starts when the last vent has opened
        self.rest_s = rest_s
        self.cycle_done = False
        for c in self.chambers:
            c.to_state(_VENT)
            if c.eased:
                c.ease(False)

    def off(self) -> None:
        self.vent(0.0)
        self.stage = _OFF


class CompressionController:
    """``set_program`` / ``set_intensity`` from the runner, ``step`` every fast tick.

    Per-tick costs kept low: each chamber carries its reading (``p``), its target (recomputed
    by ``_retarget`` whenever the program or the intensity changes, the only things it depends
    on) and its distal and proximal neighbours (fixed per program), so the tick looks nothing up.
    Worked out on every lookup instead, a tick costs ~20 µs more, ~12 % of a ``--speed 0`` scan
    tick (bench speed), past the renovation's 5 % bar for keeping a shortcut.
    """

    def __init__(self, config: MachineConfig) -> None:
        self.config = config
        self.cc = config.compression
        self.limits = config.limits
        self._chambers: dict[str, _Chamber] = {z.zone: _Chamber(z.zone, z.leg, z.position) for z in config.chambers}
        self._chamber_list = list(self._chambers.values())
        leg_names = sorted({z.leg for z in config.chambers}, key=lambda leg: (leg != "left", leg))
        self._legs: dict[str, _Leg] = {
            leg: _Leg(leg, [self._chambers[z.zone] for z in config.chambers_of_leg(leg)]) for leg in leg_names
        }
        self._leg_list = list(self._legs.values())
        self._leg_rank = {leg: i for i, leg in enumerate(self._legs)}
        self._spec = None
        self._intensity = 5
        self._factor = 1.0
        self._turn: str | None = None  # alternate: whose cycle it is
        self._spared: frozenset[str] = frozenset()  # legs the person's profile spares (a wound)
        self._serving: tuple[str, _Chamber] | None = None  # ("fill" | "top_up", chamber)
        self._boost = 0.0
        self._last_s: float | None = None
        self._blind: set[str] = set()  # legs with a missing pressure reading this tick
        self._warnings: list[Fault] = []  # raised this tick
        #: the pump's measured flow, (percent, "rated" | "commissioned"), from the service record
        #: when known: only the shortfall warning's words use it, never the control
        self.pump_measured: tuple[float, str] | None = None
        self._pending_warnings: list[Fault] = []  # raised between ticks (a phase's end), out next tick
        self.wave_log: deque[tuple[float, str, str]] = deque(maxlen=WAVE_LOG_LEN)
        # the give-up time of a fill, and the longest a leg may keep a chamber closed
        self._give_up_s = self.limits.fill_timeout_s + GIVE_UP_AFTER_SAFETY_S
        self._judge_from_s = self._give_up_s - PROGRESS_WINDOW_S  # a late fill's first window opens
        self._max_closed_s = self.limits.max_hold_s - MAX_HOLD_MARGIN_S - VENT_STAGING_ALLOWANCE_S

    # ------------------------------------------------------------------ commands
    def set_program(self, spec, intensity: int, now_s: float, *, phase_completed: bool = False) -> None:
        """A phase's compression (None or "off": vent everything). A different spec vents every
        leg and starts over once they have rested; the same spec again only sets the intensity.
        ``phase_completed``: the last phase ran its whole time (its strokes are judged)."""
        if phase_completed:
            self._judge_strokes(now_s)
        self.set_intensity(intensity)
        if spec is None or spec.pattern == "off":
            self._spec = None
            self._turn = None
            self._serving = None
            for leg in self._legs.values():
                leg.off()
            self._retarget()
            return
        if spec == self._spec:
            return
        self._spec = spec
        self._serving = None
        positions = sorted((p for p in spec.chambers if p in spec.pressure_mmhg), key=CHAMBER_ORDER.index)
        for leg in self._legs.values():
            by_position = {c.position: c for c in leg.chambers}
            leg.configure([] if leg.name in self._spared else [by_position[p] for p in positions if p in by_position])
        self._retarget()
        self._turn = next(iter(self._legs)) if spec.legs == "alternate" else None
        for leg in self._legs.values():
            if self._turn is not None and leg.name != self._turn:
                leg.off()
                continue
            pressurized = any(c.state in _CLOSED_STATES or c.p > EMPTY_MMHG for c in leg.chambers)
            leg.vent(spec.rest_s if pressurized else 0.0)

    def new_session(self) -> None:
        """A session starts: its short fills are counted afresh."""
        for c in self._chamber_list:
            c.short_fills = 0

    def set_spared_legs(self, legs: frozenset[str], now_s: float) -> None:
        """Legs that get no air at all (the profile: a wound or infection). Their chambers have
        no target and their turn of an alternating wave passes empty; the rest runs on."""
        legs = frozenset(legs)
        if legs == self._spared:
            return
        self._spared = legs
        spec, self._spec = self._spec, None
        if spec is not None:
            self.set_program(spec, self._intensity, now_s)

    def set_intensity(self, intensity: int) -> None:
        from programs.intensity import pressure_factor  # the programs package owns the scale

        self._factor = pressure_factor(intensity)
        self._intensity = intensity
        self._retarget()

    @property
    def intensity(self) -> int:
        return self._intensity

    def target_of(self, chamber: str) -> float:
        """The pressure this chamber is driven to at the present intensity (0 if unused): the
        program's, or an eased anchor chamber's support."""
        c = self._chambers[chamber]
        return self._pressure_of(c, "support_mmhg" if c.eased else "pressure_mmhg")

    def _pressure_of(self, c: _Chamber, table: str) -> float:
        if self._spec is None:
            return 0.0
        base = (getattr(self._spec, table, None) or {}).get(c.position)
        if base is None and table == "support_mmhg":  # no support: it holds its own pressure
            base = self._spec.pressure_mmhg.get(c.position)
        if base is None or c not in self._legs[c.leg].active:
            return 0.0
        return min(base * self._factor, self.limits.max_pressure_mmhg)

    def _retarget(self) -> None:
        """Each chamber's ``target``: after any change of program, intensity or active chambers."""
        for c in self._chamber_list:
            c.own = self._pressure_of(c, "pressure_mmhg")
            c.support = self._pressure_of(c, "support_mmhg")
            c.target = c.support if c.eased else c.own

    # ------------------------------------------------------------------ the tick
    def step(self, pressure_mmhg: Mapping[str, float], now_s: float) -> CompressionOutput:
        dt_s = 0.0 if self._last_s is None else max(0.0, now_s - self._last_s)
        self._last_s = now_s
        if self._warnings:
            self._warnings = []
        if self._pending_warnings:
            self._warnings, self._pending_warnings = self._pending_warnings, []
        blind = self._blind = set()
        for c in self._chamber_list:  # this tick's readings; the rate window keeps finite ones
            p = c.p = float(pressure_mmhg.get(c.name, math.nan))
            times, pressures = c.times, c.pressures
            if math.isfinite(p):
                times.append(now_s)
                pressures.append(p)
                while len(times) > 2 and now_s - times[0] > RATE_WINDOW_S:
                    times.popleft()
                    pressures.popleft()
            else:
                times.clear()
                pressures.clear()
                blind.add(c.leg)
        self._update_chambers(now_s)
        self._advance_legs(now_s)
        fill_open = self._arbitrate(now_s)
        vent_open = self._vents(now_s)
        pump = self._pump_duty(dt_s)

        for leg in self._leg_list:
            if leg.stage == _RESTING and leg.until_s == math.inf and all(vent_open[c.name] for c in leg.chambers):
                leg.until_s = now_s + leg.rest_s
            elif leg.stage == _SQUEEZE_REST and leg.until_s == math.inf and vent_open[leg.active[-1].name]:
                leg.until_s = now_s + self._spec.squeeze_rest_s
        targets = {c.name: (c.target if c.state in _CLOSED_STATES else 0.0) for c in self._chamber_list}
        return CompressionOutput(fill_open=fill_open, vent_open=vent_open, pump_duty=pump, target_mmhg=targets,
                                 warnings=tuple(self._warnings), strokes=self.strokes)

    def _update_chambers(self, now_s: float) -> None:
        """Fills that arrived, timed out or cannot go on; leaks that need a top-up."""
        stop_early = self.cc.stop_early_mmhg
        for c in self._chamber_list:
            if c.eased:
                c.target = self._eased_target(c)
            state = c.state
            if state != _FILL and state != _HELD:
                continue
            p = c.p
            if not math.isfinite(p):
                continue
            target = c.target
            if state == _FILL:
                if p > c.fill_peak:
                    c.fill_peak = p
                if p >= target - stop_early:
                    c.state = _HELD
                    self._ease_if_anchor(c)
                elif self._blocked_for_good(c) or (now_s - c.fill_started_s >= self._judge_from_s
                                                   and not self._still_rising(c, now_s)):
                    c.state = _GAVE_UP
                    self._fill_ended_short(c, now_s)
            if c.state == _HELD:
                if c.mean_mmhg() < target - TOP_UP_BELOW_MMHG:  # averaged: noise is no leak
                    c.topping_up = True
                elif p >= target - stop_early:
                    c.topping_up = False

    def _still_rising(self, c: _Chamber, now_s: float) -> bool:
        """A fill past its give-up time goes on while every PROGRESS_WINDOW_S raises it by
        PROGRESS_MIN_RISE_MMHG (averaged readings: noise is no progress). The first window
        ends exactly at the give-up time, so a fill that is not rising stops when it always did."""
        p = c.mean_mmhg()
        if c.progress_due_s is None:
            c.progress_mmhg, c.progress_due_s = p, c.fill_started_s + self._give_up_s
            return True
        if now_s < c.progress_due_s:
            return True
        if not p - c.progress_mmhg >= PROGRESS_MIN_RISE_MMHG:  # (NaN: not rising)
            return False
        c.progress_mmhg, c.progress_due_s = p, now_s + PROGRESS_WINDOW_S
        return True

    def _blocked_for_good(self, c: _Chamber) -> bool:
        """Capped by a distal chamber that gave up: it will not rise, so neither can this one."""
        distal = c.distal
        return (distal is not None and distal.state == _GAVE_UP
                and c.p >= distal.p - CAP_REOPEN_MMHG)

    def _advance_legs(self, now_s: float) -> None:
        spec = self._spec
        if spec is None:
            return
        for leg in self._leg_list:
            stage = leg.stage
            if stage == _FILLING or stage == _HOLDING or stage == _SQUEEZE_REST:
                if leg.name in self._blind or leg.closed_too_long(now_s, self._max_closed_s):
                    self._vent_leg(leg, now_s)
                    continue
            if leg.stage == _FILLING:
                self._settle_queued(leg)
                while leg.stage == _FILLING and leg.active[leg.index].state in (_HELD, _GAVE_UP):
                    leg.index += 1
                    if leg.index < len(leg.active):
                        self._settle_queued(leg)
                    else:
                        leg.stage = _HOLDING
                        self._reached_top(leg, spec, now_s)
            if leg.stage == _HOLDING and now_s >= leg.until_s:
                # (a leg with no chambers in use, e.g. spared by the profile, has no thigh to squeeze)
                if spec.pattern == "anchor" and leg.active and self._may_squeeze_again(leg, spec, now_s):
                    leg.stage, leg.until_s = _SQUEEZE_REST, math.inf  # the rest starts once its vent is open
                    leg.squeeze_started_s = now_s
                    leg.active[-1].to_state(_VENT)
                else:
                    self._vent_leg(leg)
            elif leg.stage == _SQUEEZE_REST and now_s >= leg.until_s:
                last = leg.active[-1]
                last.state = _QUEUED  # keeps its vent latch: it may still be venting
                leg.index = len(leg.active) - 1
                leg.stage = _FILLING
            elif leg.stage == _RESTING and now_s >= leg.until_s:
                if self._turn is None or not leg.cycled:
                    if self._may_start(leg, spec):
                        leg.start_cycle(now_s)
                else:
                    leg.cycle_done = True
        if self._turn is not None and self._legs[self._turn].cycle_done:
            names = list(self._legs)
            current = self._legs[self._turn]
            following = self._legs[names[(names.index(self._turn) + 1) % len(names)]]
            nxt = next((leg for leg in (following, current) if self._may_start(leg, spec)), None)
            if nxt is not current:
                current.off()  # (also when neither may start: both have made their strokes)
            if nxt is not None:
                self._turn = nxt.name
                nxt.start_cycle(now_s)

    def _reached_top(self, leg: _Leg, spec, now_s: float) -> None:
        """Every active chamber of the leg is done filling: count a stroke, time the hold."""
        forever = spec.pattern == "press" or (spec.pattern == "hold" and spec.hold_s <= 0)
        leg.until_s = math.inf if forever else now_s + spec.hold_s
        last = leg.active[-1]
        if spec.pattern == "wave" and last.state == _HELD:
            leg.strokes += 1
            leg.phase_strokes += 1
        elif spec.pattern == "anchor":
            if leg.squeezes == 0:  # the first: the next fill may wait longer for the pump
                fill_s = ANCHOR_FIRST_FILL_FACTOR * (now_s - last.fill_started_s)
            else:
                fill_s = now_s - leg.squeeze_started_s - spec.squeeze_rest_s
            estimate = fill_s + spec.hold_s + spec.squeeze_rest_s + ANCHOR_VENT_ALLOWANCE_S
            leg.squeeze_s = max(leg.squeeze_s, estimate)
            leg.squeezes += 1

    def _may_squeeze_again(self, leg: _Leg, spec, now_s: float) -> bool:
        """Another squeeze fits before the hold guard would vent the leg (judged by the last)."""
        if leg.squeezes >= spec.squeezes:
            return False
        closed = [c.closed_since_s for c in leg.chambers if c.closed_since_s is not None]
        held_s = now_s - min(closed) if closed else 0.0
        return held_s + leg.squeeze_s <= self._max_closed_s

    def _judge_strokes(self, now_s: float) -> None:
        """A wave phase that ran its whole time and left a leg short of its stated strokes: the
        unit's sleeve fills more slowly than the program allows. Said in words (a
        ``pressure_shortfall`` warning, raised on the next step), never silent."""
        spec = self._spec
        if spec is None or spec.pattern != "wave" or spec.strokes is None:
            return
        for leg in self._leg_list:
            if not leg.active or leg.phase_strokes >= spec.strokes:
                continue
            # zone: the leg (strokes are a leg's), so the latch keeps a chamber's own
            # "reached N of M mmHg" beside it (one fault per code and zone)
            self._pending_warnings.append(Fault.make(
                "pressure_shortfall", leg.name, now_s,
                f"{leg.name} leg: {leg.phase_strokes} of the {spec.strokes} upward strokes of this step in its "
                f"time: the sleeve fills more slowly than the program allows (the pump is weak or the sleeve "
                "leaks): service the pump and check the sleeve and its hoses",
                {"strokes_made": leg.phase_strokes, "strokes_stated": spec.strokes}))

    @staticmethod
    def _may_start(leg: _Leg, spec) -> bool:
        """A leg that has made its phase's strokes starts no more cycles."""
        return not (spec.pattern == "wave" and spec.strokes is not None and leg.phase_strokes >= spec.strokes)

    # ------------------------------------------------------------------ press and hold
    @property
    def holding_for_release(self) -> bool:
        """A press-and-hold is filling or holding: the person's button ends it."""
        spec = self._spec
        return (spec is not None and spec.pattern == "press"
                and any(leg.active and leg.stage in (_FILLING, _HOLDING) for leg in self._leg_list))

    def release_hold(self) -> bool:
        """The person released the press (the tension let go): vent and rest. True if one was held."""
        if not self.holding_for_release:
            return False
        for leg in self._leg_list:
            if leg.stage in (_FILLING, _HOLDING):
                self._vent_leg(leg)  # no now_s: a released fill is no shortfall of the plant
        return True

    @property
    def strokes(self) -> dict[str, int]:
        """Completed upward waves per leg since start."""
        return {leg.name: leg.strokes for leg in self._leg_list}

    def _settle_queued(self, leg: _Leg) -> None:
        """The next chamber needs no air (still full enough, or held down by a distal chamber
        that gave up): it is done without opening its valve."""
        c = leg.active[leg.index]
        if c.state != _QUEUED or not math.isfinite(c.p):
            return
        if c.p >= c.target - self.cc.stop_early_mmhg:
            c.to_state(_HELD)
            self._ease_if_anchor(c)
        elif self._blocked_for_good(c):
            c.to_state(_GAVE_UP)

    def _ease_if_anchor(self, c: _Chamber) -> None:
        """An anchor chamber with a support has reached its own pressure: it eases from now."""
        if not c.eased and c.support < c.own and self._spec is not None and self._spec.pattern == "anchor":
            c.ease(True)
            c.target = self._eased_target(c)

    @staticmethod
    def _others_closed(leg: _Leg, c: _Chamber) -> bool:
        """Another chamber of the leg is closed: a pulse never leaves the whole leg open, so
        it is never mistaken for the leg venting (the end of a cycle)."""
        return any(x is not c and x.state in _CLOSED_STATES for x in leg.chambers)

    def _eased_target(self, c: _Chamber) -> float:
        """An eased chamber's target: its support, but while a chamber proximal to it is still
        to reach its own pressure, that pressure and a margin (so that fill is never capped
        short of its target by the gradient rule)."""
        target = c.support
        for x in c.proximal:
            if x.state in (_QUEUED, _FILL) and x.target > 0:
                target = max(target, x.target + EASED_ABOVE_FILL_MMHG)
        return min(target, c.own)

    def _bleed(self, c: _Chamber, now_s: float) -> bool:
        """One tick's vent pulse of an eased anchor chamber above its support (docstring:
        "Anchor"); False when none is due or none is safe."""
        if now_s < c.bleed_due_s or c.topping_up or (self._serving is not None and self._serving[1] is c):
            return False
        p = c.mean_mmhg()
        if c.bleed_from is not None:  # the last pulse has settled: how much did it let out?
            if c.bleed_from > 0 and math.isfinite(p):
                seen = (c.bleed_from - p) / c.bleed_from
                c.drop_fraction = max(BLEED_DROP_MIN, BLEED_DROP_SAFETY * seen)
            c.bleed_from = None
        if not p > c.target:  # (NaN: no pulse)
            return False
        floor = 0.0
        for x in c.proximal:  # whatever it is doing, a chamber above stays below this one
            if math.isfinite(x.p):
                floor = max(floor, x.p + BLEED_GRADIENT_MARGIN_MMHG)
            if x.state in (_QUEUED, _FILL):  # a fill still to reach its target needs room
                floor = max(floor, x.target + BLEED_GRADIENT_MARGIN_MMHG)
        if not p * (1.0 - c.drop_fraction) >= floor:
            return False
        c.bleed_from = p
        c.bleed_due_s = now_s + BLEED_SETTLE_S
        return True

    def _fill_ended_short(self, c: _Chamber, now_s: float) -> None:
        """A fill gave up or was vented before its target (not by a phase change)."""
        if c.target - c.fill_peak <= SHORTFALL_WARN_MMHG:
            return
        c.short_fills += 1
        if c.short_fills != SHORTFALL_WARN_AFTER:
            return
        name = f"{c.leg} {c.position} chamber"
        readings = {"reached_mmhg": c.fill_peak, "target_mmhg": c.target, "short_fills": c.short_fills}
        measured = self.pump_measured
        if measured is None:
            cause = "the pump is weak or the sleeve leaks: service the pump and check the sleeve and its hoses"
        else:
            percent, reference = measured
            readings["pump_percent"] = percent
            if percent < pump_weak_below(reference):
                cause = (f"the pump delivers {percent:.0f} % of its {reference} flow, or the sleeve leaks: "
                         "service the pump and check the sleeve and its hoses")
            else:  # the pump is measured healthy: the air goes elsewhere
                cause = (f"the pump delivers {percent:.0f} % of its {reference} flow, so the sleeve or its "
                         "hoses leak: check the sleeve and its hoses")
        self._warnings.append(Fault.make(
            "pressure_shortfall", c.name, now_s,
            f"{name} reached {c.fill_peak:.0f} of {c.target:.0f} mmHg: "
            f"{cause}", readings))

    def _vent_leg(self, leg: _Leg, now_s: float | None = None) -> None:
        if now_s is not None and leg.name not in self._blind:  # the hold guard cut a fill short
            for c in leg.active:
                if c.state == _FILL:
                    self._fill_ended_short(c, now_s)
        leg.vent(self._spec.rest_s)
        if self._serving is not None and self._serving[1].leg == leg.name:
            self._serving = None

    # ------------------------------------------------------------------ fill valves
    def _cap(self, c: _Chamber) -> float:
        """The pressure this chamber may not be filled past: the active chamber distal to it."""
        distal = c.distal
        if distal is None or distal.state == _VENT:
            return math.inf
        return distal.p

    def _fill_limit(self, c: _Chamber) -> float:
        return min(c.target - self.cc.stop_early_mmhg, self._cap(c))

    def _wants_air(self, c: _Chamber) -> bool:
        if c.leg in self._blind:
            return False
        if not (c.state in (_QUEUED, _FILL) or (c.state == _HELD and c.topping_up)):
            return False
        p = c.p
        cap = self._cap(c)
        c.capped = p >= (cap - CAP_REOPEN_MMHG if c.capped else cap)
        return not c.capped and p < c.target - self.cc.stop_early_mmhg

    def _arbitrate(self, now_s: float) -> dict[str, bool]:
        """Choose the one chamber the pump serves this tick (a top-up, else the fill it is on,
        else the most distal waiting fill) and open its fill valve."""
        wanting = {}
        top_ups = []
        for c in self._chamber_list:
            wanting[c.name] = wants = self._wants_air(c)
            if wants and c.state == _HELD and c.topping_up:
                top_ups.append(c)
        service = self._serving
        if service is not None and not wanting[service[1].name]:
            service = None
        if top_ups and (service is None or (service[0] == "fill" and self._may_interrupt(service[1]))):
            service = ("top_up", min(top_ups, key=self._rank))
        elif service is None:
            waiting = [leg.active[leg.index] for leg in self._leg_list
                       if leg.stage == _FILLING and wanting[leg.active[leg.index].name]]
            if waiting:
                service = ("fill", min(waiting, key=lambda c: (self._legs[c.leg].cycle_started_s, *self._rank(c))))
                if service[1].state == _QUEUED:
                    service = self._top_up_before(service)
        if service != self._serving:
            self._boost = 0.0
        self._serving = service

        fill_open = dict.fromkeys(self._chambers, False)
        if service is not None:
            c = service[1]
            fill_open[c.name] = True
            if c.state == _QUEUED:
                c.to_state(_FILL)
                c.fill_started_s = now_s
                c.fill_peak = c.p
                c.progress_due_s = None
                self.wave_log.append((now_s, c.leg, c.position))
        return fill_open

    def _top_up_before(self, fill: tuple[str, _Chamber]) -> tuple[str, _Chamber]:
        """Before a new fill starts, top up a held chamber that has sagged a little: the new
        fill may not be interrupted until it is half full, and meanwhile the others leak."""
        sagging = [c for c in self._chamber_list
                   if c.state == _HELD and not c.topping_up and c.leg not in self._blind
                   and c.mean_mmhg() < c.target - TOP_UP_BEFORE_FILL_MMHG]
        for c in sorted(sagging, key=self._rank):
            c.topping_up = True
            if self._wants_air(c):
                return "top_up", c
            c.topping_up = False
        return fill

    def _may_interrupt(self, c: _Chamber) -> bool:
        return c.p >= PREEMPT_FROM_FRACTION * c.target

    def _rank(self, c: _Chamber) -> tuple[int, int]:
        return c.order, self._leg_rank[c.leg]

    # ------------------------------------------------------------------ vents
    def _vents(self, now_s: float) -> dict[str, bool]:
        """Each vent's state this tick; and since when each closed vent has been closed."""
        vent_open = dict.fromkeys(self._chambers, True)  # (in the config's order)
        for leg in self._leg_list:
            blind = leg.name in self._blind
            bled = False  # one pulse a leg a tick: the leg is never seen all vented by a bleed
            for c in reversed(leg.chambers):  # proximal first: it makes room for the distal
                bleed = False
                if blind:
                    is_open = True
                elif c.state in _CLOSED_STATES:
                    # an eased anchor chamber above its support: a one-tick pulse
                    is_open = bleed = (c.eased and c.state == _HELD and not bled and self._others_closed(leg, c)
                                       and self._bleed(c, now_s))
                    bled = bled or bleed
                else:
                    is_open = self._staged_vent(c)
                vent_open[c.name] = is_open
                if is_open and not bleed:  # a bleed releases nothing: the hold guard runs on
                    c.closed_since_s = None
                elif c.closed_since_s is None:
                    c.closed_since_s = now_s
        return vent_open

    def _staged_vent(self, c: _Chamber) -> bool:
        """Proximal first: open once the venting chambers above it have fallen to a fraction of
        this one. (A held chamber above a venting one is one the program does not use here.)"""
        p = c.p
        if p <= EMPTY_MMHG:
            c.vent_latched = True
            return True
        highest = max((x.p for x in c.proximal if x.state in (_VENT, _QUEUED)), default=0.0)
        if c.vent_latched:
            if p > VENT_BACKSTOP_MIN_MMHG and p < highest - VENT_BACKSTOP_MMHG:
                c.vent_latched = False
        elif highest <= VENT_STAGE_RATIO * p:
            c.vent_latched = True
        return c.vent_latched

    # ------------------------------------------------------------------ pump
    def _pump_duty(self, dt_s: float) -> float:
        """The pump runs only into an open fill valve (the one it serves), slowing over the
        approach band."""
        if self._serving is None:
            return 0.0
        cc = self.cc
        kind, lead = self._serving
        if kind == "top_up":
            return cc.pump_max_duty
        remaining = self._fill_limit(lead) + cc.stop_early_mmhg - lead.p
        if cc.approach_band_mmhg <= 0 or remaining >= cc.approach_band_mmhg:
            self._boost = 0.0
            return cc.pump_max_duty
        fraction = max(0.0, remaining) / cc.approach_band_mmhg
        duty = cc.pump_min_duty + (cc.pump_max_duty - cc.pump_min_duty) * fraction
        if lead.rate_mmhg_per_s() < MIN_APPROACH_RATE_MMHG_PER_S:
            self._boost += STALL_BOOST_PER_S * dt_s
        return min(cc.pump_max_duty, duty + self._boost)
