"""The program file schema: what a therapy program may ask of the machine.

A program is data, not code, so the only place to stop a harmful one is here, at load. Every
rule the seed asks of the therapy (always toward the heart, a graded 5-10 mmHg gradient, the
pressure, heat, hold and session limits) is checked before a program can be run. The limits
come from the machine's ``SafetyLimits`` passed as validation context
(``Program.model_validate(data, context={"limits": limits})``); without a context the compiled
defaults apply, so a ``Program`` built in code is held to the same rules as a file.

Rule failures are raised as one pydantic error per model whose ``ctx["problems"]`` holds
``(sub_path, reason)`` pairs; ``programs.library`` turns them into file + field path + reason.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from controller.model.config import CHAMBER_ORDER
from controller.model.limits import SafetyLimits

ChamberPosition = Literal["foot", "calf", "thigh"]
PadPosition = Literal["foot", "calf"]
RollerPosition = Literal["foot", "calf"]
Category = Literal["circulation", "warm_up", "focus", "lymphatic", "deep", "recovery", "relief"]

#: a chamber's fill time assumed when estimating how long it stays closed in one wave
NOMINAL_FILL_S = 3.0
#: below body-warm a pad target is pointless; a typo (3.8 for 38) is caught instead of obeyed
MIN_HEAT_TARGET_C = 30.0
#: an active pattern vents between cycles at least this long: a chamber that never empties is
#: a tourniquet by another name, and the vent check needs a few seconds to see it empty
MIN_REST_S = 2.0
#: above this (at intensity 5) pressure is "strong": the program must say deep = true, so the
#: profile flags that refuse deep massage cannot be bypassed by leaving the flag off
DEEP_PRESSURE_MMHG = 80.0

#: a prompt step (toe pulls, a stretch) lasts this long: time to do it, not a wait
PROMPT_MIN_S = 10.0
PROMPT_MAX_S = 120.0
#: a prompt's words fit a notice with room for its time
MAX_PROMPT_TEXT = 200

Problems = list[tuple[str, str]]


class ProgramError(Exception):
    """A program file was refused; the message names the file, the field path and the reason."""

    def __init__(self, path: object, problems: Problems | None = None):
        self.path = str(path)
        self.problems = list(problems or [])
        if not self.problems:  # a bare message, e.g. ProgramError("no program named 'x'")
            text = self.path
        elif len(self.problems) == 1:
            field, reason = self.problems[0]
            text = f"program {self.path}: {field}: {reason}"
        else:
            lines = [f"program {self.path} is invalid:"]
            lines += [f"  {field}: {reason}" for field, reason in self.problems]
            text = "\n".join(lines)
        super().__init__(text)


def _limits(info: ValidationInfo) -> SafetyLimits:
    ctx = info.context or {}
    return ctx.get("limits") or SafetyLimits()


def _raise_if(problems: Problems) -> None:
    if problems:
        summary = "; ".join(f"{field}: {reason}" for field, reason in problems)
        raise PydanticCustomError("program_rule", "{summary}", {"summary": summary, "problems": tuple(problems)})


def _fmt(value: float) -> str:
    return f"{value:g}"


class _Strict(BaseModel):
    # strict: TOML already has types; "60" where a number belongs is a mistake, not a number
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class CompressionSpec(_Strict):
    """What the chambers do during a phase; pressures are at intensity 5.

    - ``wave``: fill the listed chambers one after another, distal -> proximal, hold ``hold_s``
      once the last is full, vent all, rest ``rest_s`` vented, repeat (effleurage);
    - ``pulse``: the listed chambers fill together, hold, vent, rest, repeat (kneading pulses);
    - ``hold``: fill in order and keep ``hold_s``, vent, rest, repeat (the ankle squeeze);
    - ``press``: fill in order and keep until the person releases it (the panel's start/pause
      button, or the ``release_hold`` command) or the hold limit comes near, whichever first;
      vent, rest, repeat ("if you feel a knot, press and hold until it relaxes"). ``hold_s``
      must be 0: the person, not the file, ends the hold;
    - ``anchor``: fill in order; the chambers below the last hold as an anchor while the last
      one (the thigh) squeezes ``squeezes`` times: hold ``hold_s``, vent, rest
      ``squeeze_rest_s``, refill. Then the whole leg vents and rests ``rest_s`` (the anchor
      may not stay closed near the hold limit). Foot ≥ calf ≥ thigh holds throughout: the
      anchor stays at its pressures while the thigh cycles below them ("focus on the thighs").
      With ``support_mmhg`` each anchor chamber, once it has reached its own pressure (the
      wave rolling up), eases down to its support pressure and holds there while the thigh
      works: the thigh, not the foot, spends the step at its target. The supports keep the
      gradient with the thigh's pressure (5-10 mmHg steps, foot ≥ calf ≥ thigh) and lie below
      each chamber's own pressure;
    - ``off``: chambers vented.

    ``legs = "alternate"`` runs each cycle on the left leg, then on the right. ``strokes``
    (waves only) is how many upward strokes each leg gets in the phase: once a leg has made
    that many it rests vented until the phase ends, so a program's stroke count does not drift
    with the intensity (lighter pressures fill faster) and its description can say it.
    """

    pattern: Literal["wave", "pulse", "hold", "press", "anchor", "off"]
    legs: Literal["both", "alternate"] = "both"
    chambers: list[ChamberPosition] = []
    pressure_mmhg: dict[ChamberPosition, Annotated[float, Field(gt=0)]] = {}
    hold_s: float = Field(0.0, ge=0)
    rest_s: float = Field(0.0, ge=0)
    strokes: int | None = Field(None, ge=1, le=500)
    squeezes: int = Field(0, ge=0, le=50)
    squeeze_rest_s: float = Field(0.0, ge=0)
    #: anchor only: the pressures the chambers below the last ease to while it squeezes
    support_mmhg: dict[ChamberPosition, Annotated[float, Field(gt=0)]] = {}

    @property
    def active(self) -> bool:
        return self.pattern != "off"

    def closed_s(self, chamber: str) -> float:
        """Roughly how long ``chamber`` stays closed in one cycle: hold + the fills after it
        (an anchor chamber: every squeeze of the last chamber too)."""
        after = 0 if self.pattern == "pulse" else len(self.chambers) - 1 - self.chambers.index(chamber)
        if self.pattern == "anchor" and chamber != self.chambers[-1]:
            squeeze_s = self.hold_s + self.squeeze_rest_s + NOMINAL_FILL_S
            return NOMINAL_FILL_S * after + self.squeezes * squeeze_s - self.squeeze_rest_s
        return self.hold_s + NOMINAL_FILL_S * after

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> "CompressionSpec":
        _raise_if(compression_problems(self, _limits(info)))
        return self


def compression_problems(spec: CompressionSpec, limits: SafetyLimits) -> Problems:
    """Order, gradient, pressure and hold rules; paths are relative to the spec."""
    out: Problems = []
    if not spec.active:
        if spec.chambers or spec.pressure_mmhg or spec.support_mmhg:
            out.append(("chambers", "pattern 'off' vents every chamber: list no chambers or pressures"))
        return out
    if not spec.chambers:
        out.append(("chambers", f"pattern {spec.pattern!r} needs at least one chamber"))
        return out

    idx = [CHAMBER_ORDER.index(c) for c in spec.chambers]
    ordered = all(a < b for a, b in zip(idx, idx[1:]))
    if not ordered:
        out.append(("chambers", f"must run {' → '.join(CHAMBER_ORDER)} (toward the heart), each at most once; "
                                f"got {', '.join(spec.chambers)}"))
    elif spec.chambers != list(CHAMBER_ORDER[:len(spec.chambers)]):
        # foot >= calf >= thigh must hold in the sleeve, not only in the file: a calf or thigh
        # squeezed over an empty foot chamber pushes blood back down the leg.
        need = [c for c in CHAMBER_ORDER[:CHAMBER_ORDER.index(spec.chambers[-1])] if c not in spec.chambers]
        out.append(("chambers", f"must start at the foot with no gaps: {spec.chambers[-1]} over an empty "
                                f"{', '.join(need)} chamber pushes blood away from the heart; list "
                                f"{', '.join(CHAMBER_ORDER[:CHAMBER_ORDER.index(spec.chambers[-1]) + 1])}"))
    for c in spec.chambers:
        if c not in spec.pressure_mmhg:
            out.append((f"pressure_mmhg.{c}", f"missing: {c} is listed in chambers and needs a pressure"))
    for c in spec.pressure_mmhg:
        if c not in spec.chambers:
            out.append((f"pressure_mmhg.{c}", f"{c} is not listed in chambers"))

    for c, p in spec.pressure_mmhg.items():
        if p > limits.max_pressure_mmhg:
            out.append((f"pressure_mmhg.{c}", f"{_fmt(p)} mmHg is above the {_fmt(limits.max_pressure_mmhg)} mmHg "
                                              "pressure limit"))

    if ordered and all(c in spec.pressure_mmhg for c in spec.chambers):
        lo, hi = limits.gradient_step_min_mmhg, limits.gradient_step_max_mmhg
        for distal, proximal in zip(spec.chambers, spec.chambers[1:]):
            p_d, p_p = spec.pressure_mmhg[distal], spec.pressure_mmhg[proximal]
            step = p_d - p_p
            if not lo <= step <= hi:
                why = "inverted: pressure must fall toward the heart" if step < 0 else (
                    "step too small" if step < lo else "step too big")
                out.append((f"pressure_mmhg.{proximal}",
                            f"{proximal} {_fmt(p_p)} mmHg must be {_fmt(lo)}-{_fmt(hi)} mmHg below {distal} "
                            f"{_fmt(p_d)} mmHg (step {_fmt(step)}: {why})"))

    if spec.hold_s > limits.max_hold_s:
        out.append(("hold_s", f"{_fmt(spec.hold_s)} s is above the {_fmt(limits.max_hold_s)} s hold limit"))
    elif ordered:
        for c in spec.chambers:
            closed = spec.closed_s(c)
            if closed > limits.max_hold_s:
                out.append(("hold_s", f"the {c} chamber stays closed about {_fmt(closed)} s per cycle (hold + "
                                      f"{_fmt(NOMINAL_FILL_S)} s per later fill), above the "
                                      f"{_fmt(limits.max_hold_s)} s hold limit"))
                break
    if spec.rest_s < MIN_REST_S:
        out.append(("rest_s", f"{_fmt(spec.rest_s)} s is too short: chambers must vent at least "
                              f"{_fmt(MIN_REST_S)} s between cycles"))
    out += _pattern_field_problems(spec)
    if spec.pattern == "anchor" and ordered:
        out += _support_problems(spec, limits)
    return out


def _pattern_field_problems(spec: CompressionSpec) -> Problems:
    """Fields that belong to one pattern only, and what that pattern needs of them."""
    out: Problems = []
    if spec.strokes is not None and spec.pattern != "wave":
        out.append(("strokes", f"strokes counts upward waves: pattern {spec.pattern!r} makes none"))
    if spec.pattern == "press" and spec.hold_s != 0:
        out.append(("hold_s", "a press is held until the person releases it (or the hold limit): hold_s must be 0"))
    if spec.pattern == "anchor":
        if len(spec.chambers) < 2:
            out.append(("chambers", "an anchor needs chambers below the one that squeezes: list at least two"))
        if spec.squeezes < 1:
            out.append(("squeezes", "an anchor squeezes its last chamber at least once per cycle"))
        if spec.squeeze_rest_s < MIN_REST_S:
            out.append(("squeeze_rest_s", f"{_fmt(spec.squeeze_rest_s)} s is too short: the squeezing chamber "
                                          f"must vent at least {_fmt(MIN_REST_S)} s between squeezes"))
    elif spec.squeezes or spec.squeeze_rest_s:
        out.append(("squeezes", f"squeezes and squeeze_rest_s belong to pattern 'anchor', not {spec.pattern!r}"))
    if spec.support_mmhg and spec.pattern != "anchor":
        out.append(("support_mmhg", f"support pressures belong to pattern 'anchor', not {spec.pattern!r}"))
    return out


def _support_problems(spec: CompressionSpec, limits: SafetyLimits) -> Problems:
    """An anchor's supports: one for each chamber below the squeezing one, each below that
    chamber's own pressure (an easing, never a rise), and with the squeezing chamber's
    pressure a graded gradient (5-10 mmHg steps: foot ≥ calf ≥ thigh while the thigh works)."""
    if not spec.support_mmhg:
        return []
    out: Problems = []
    below = spec.chambers[:-1]
    if set(spec.support_mmhg) != set(below):
        return [("support_mmhg", f"give a support pressure for each chamber below the squeezing one "
                                 f"({', '.join(below)}), and only for them")]
    for c in below:
        own = spec.pressure_mmhg.get(c)
        if own is not None and not spec.support_mmhg[c] < own:
            out.append((f"support_mmhg.{c}", f"{_fmt(spec.support_mmhg[c])} mmHg must be below the {c}'s own "
                                             f"{_fmt(own)} mmHg: the anchor eases, it never rises"))
    last = spec.chambers[-1]
    if last not in spec.pressure_mmhg:
        return out
    chain = [(c, spec.support_mmhg[c], f"support_mmhg.{c}") for c in below]
    chain.append((last, spec.pressure_mmhg[last], f"pressure_mmhg.{last}"))
    lo, hi = limits.gradient_step_min_mmhg, limits.gradient_step_max_mmhg
    for (distal, p_d, _), (proximal, p_p, where) in zip(chain, chain[1:]):
        step = p_d - p_p
        if not lo <= step <= hi:
            out.append((where, f"{proximal} {_fmt(p_p)} mmHg must be {_fmt(lo)}-{_fmt(hi)} mmHg below the {distal}'s "
                               f"support {_fmt(p_d)} mmHg (step {_fmt(step)})"))
    return out


class RollerSpec(_Strict):
    """What the rollers do: glide (steady, slow), knead (alternating), friction (fast, short)."""

    pattern: Literal["glide", "knead", "friction", "off"]
    positions: list[RollerPosition] = []

    @property
    def active(self) -> bool:
        return self.pattern != "off"

    @model_validator(mode="after")
    def _rules(self) -> "RollerSpec":
        out: Problems = []
        if not self.active and self.positions:
            out.append(("positions", "pattern 'off' stops the rollers: list no positions"))
        if self.active and not self.positions:
            out.append(("positions", f"pattern {self.pattern!r} needs at least one roller position"))
        if len(set(self.positions)) != len(self.positions):
            out.append(("positions", "a roller position is listed twice"))
        _raise_if(out)
        return self


class PromptSpec(_Strict):
    """A step the machine cannot do itself (the guide's toe pulls and leg stretch): the person
    is told what to do, in the guide's words, and does it while the step lasts. The machine
    keeps the pads at the step's heat and the sleeves vented and the rollers still, so a leg
    that moves is never squeezed or rubbed."""

    action: Literal["toe_pulls", "leg_stretch"]
    #: what the person is asked to do ("gently pull your toes toward you and hold")
    text: str = Field(min_length=1, max_length=MAX_PROMPT_TEXT)


class Phase(_Strict):
    """One step of a program. Heat targets apply to the pad at that position on both legs.

    A step with a ``prompt`` is done by the person: it may not use the chambers or the
    rollers, and it lasts ``PROMPT_MIN_S``-``PROMPT_MAX_S`` (long enough to do, short enough
    not to leave the person waiting)."""

    name: str = Field(min_length=1)
    duration_s: float = Field(gt=0)
    heat_c: dict[PadPosition, float] = {}
    compression: CompressionSpec | None = None
    rollers: RollerSpec | None = None
    prompt: PromptSpec | None = None

    @property
    def has_compression(self) -> bool:
        return self.compression is not None and self.compression.active

    @property
    def has_rollers(self) -> bool:
        return self.rollers is not None and self.rollers.active

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> "Phase":
        limits = _limits(info)
        out: Problems = []
        if self.prompt is not None:
            out += _prompt_problems(self)
        for pad, c in self.heat_c.items():
            if c > limits.max_heat_target_c:
                out.append((f"heat_c.{pad}", f"{_fmt(c)} °C is above the {_fmt(limits.max_heat_target_c)} °C "
                                             "heat limit"))
            elif c < MIN_HEAT_TARGET_C:
                out.append((f"heat_c.{pad}", f"{_fmt(c)} °C is below {_fmt(MIN_HEAT_TARGET_C)} °C: leave the pad "
                                             "out to keep it off"))
        _raise_if(out)
        return self


def _prompt_problems(phase: Phase) -> Problems:
    """A person moving their leg is never squeezed or rubbed; the step has a doable length."""
    out: Problems = []
    if phase.has_compression:
        out.append(("compression", "a prompt step is done by the person: the sleeves stay vented (no compression)"))
    if phase.has_rollers:
        out.append(("rollers", "a prompt step is done by the person: the rollers stay still (no rollers)"))
    if not PROMPT_MIN_S <= phase.duration_s <= PROMPT_MAX_S:
        out.append(("duration_s", f"a prompt step lasts {_fmt(PROMPT_MIN_S)}-{_fmt(PROMPT_MAX_S)} s, "
                                  f"got {_fmt(phase.duration_s)} s"))
    return out


class Program(_Strict):
    """A therapy program: a named sequence of phases, loaded from a TOML file."""

    id: str = Field(pattern=r"^[a-z0-9_]+$", max_length=64)
    name: str = Field(min_length=1)
    summary: str = Field(min_length=1)
    for_whom: list[str] = []
    category: Category
    deep: bool = False
    phases: list[Phase] = Field(min_length=1)

    @property
    def duration_s(self) -> float:
        return sum(p.duration_s for p in self.phases)

    @property
    def uses_compression(self) -> bool:
        return any(p.has_compression for p in self.phases)

    @property
    def uses_rollers(self) -> bool:
        return any(p.has_rollers for p in self.phases)

    @property
    def max_heat_c(self) -> float | None:
        temps = [c for p in self.phases for c in p.heat_c.values()]
        return max(temps) if temps else None

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> "Program":
        _raise_if(program_problems(self, _limits(info)))
        return self


def program_problems(program: Program, limits: SafetyLimits) -> Problems:
    """Rules that need the whole program: session length, lymphatic and deep consistency."""
    out: Problems = []
    if program.duration_s > limits.max_session_s:
        out.append(("phases", f"the phases' duration_s add up to {_fmt(program.duration_s)} s, above the "
                              f"{_fmt(limits.max_session_s)} s session limit"))
    lymphatic = program.category == "lymphatic"
    if lymphatic and program.deep:
        out.append(("deep", "a lymphatic program is gentle by definition and cannot be deep"))
    if program.category == "deep" and not program.deep:
        out.append(("deep", "category 'deep' needs deep = true so the safety profile can refuse it"))
    for i, phase in enumerate(program.phases):
        comp, rollers = phase.compression, phase.rollers
        if comp is not None:
            for c, p in comp.pressure_mmhg.items():
                where = f"phases[{i}].compression.pressure_mmhg.{c}"
                if lymphatic and p > limits.lymphatic_max_pressure_mmhg:
                    out.append((where, f"{_fmt(p)} mmHg is above the {_fmt(limits.lymphatic_max_pressure_mmhg)} "
                                       "mmHg lymphatic limit"))
                if p > DEEP_PRESSURE_MMHG and not program.deep:
                    out.append((where, f"{_fmt(p)} mmHg is deep pressure (above {_fmt(DEEP_PRESSURE_MMHG)} mmHg): "
                                       "the program must say deep = true"))
        if rollers is not None:
            if lymphatic and rollers.pattern not in ("glide", "off"):
                out.append((f"phases[{i}].rollers.pattern", "a lymphatic program may only glide its rollers"))
            if rollers.pattern == "friction" and not program.deep:
                out.append((f"phases[{i}].rollers.pattern", "friction is deep massage: the program must say "
                                                            "deep = true"))
    return out
