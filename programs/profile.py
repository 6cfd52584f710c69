"""What the person's safety profile allows: the guide's safety notes made into rules.

The guide says: avoid deep massage with varicose veins, skin infections or open wounds, or a
suspected blood clot, and speak to a doctor if unsure. So, with any flag set:

- deep programs are refused;
- intensity is capped at ``CAPPED_INTENSITY`` (2): gentler pressure and slower rollers;
- with a suspected clot, compression is refused altogether (squeezing a leg could move a clot),
  and so are the rollers, for the same reason: the only safe advice is to see a doctor first;
- unsure, or after recent surgery: every program is refused ("ask a doctor first");
- a leg with a wound or infection is spared: no heat, compression or rollers on it (touching a
  wound spreads an infection and breaks the skin further); the other leg runs. With both legs
  flagged nothing can be given, so the program is refused;
- numbness or poor circulation: heat off on that leg (a numb foot does not feel a pad getting
  too hot: a burn risk) and pressure capped (the intensity cap);
- in pregnancy heat is capped at ``PREGNANCY_MAX_HEAT_C`` (38 °C): the usual advice is not to
  raise body temperature (hot-tub guidance keeps water below about 39 °C), and leg pads cover a
  large area for a long time, so we keep a margin below that. The cap is a *target* cap: the
  runner passes ``ProfileDecision.max_heat_c`` to the heat controller as an upper bound on every
  phase's ``heat_c``; ``None`` means the machine's own limit applies.

Each reason is also a typed ``Notice`` (``controller.model.notice``) so the panel, ``legctl``
and MQTT can show it. The decision is re-taken whenever the profile or intensity changes, so a
flag set mid-session takes effect at once.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from controller.model.notice import Notice, NoticeCode, make
from controller.model.profile import FLAG_WORDS, LEGS, Profile
from programs.schema import Program

__all__ = ["CAPPED_INTENSITY", "PREGNANCY_MAX_HEAT_C", "Profile", "ProfileDecision", "check_profile"]

CAPPED_INTENSITY = 2
PREGNANCY_MAX_HEAT_C = 38.0


class ProfileDecision(BaseModel):
    """Whether a program may run for this profile, at what intensity and heat, on which legs,
    and why (``reasons`` as sentences, ``notices`` as the same sentences typed)."""

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    allowed: bool
    intensity: int
    reasons: list[str] = []
    max_heat_c: float | None = None
    spared_legs: frozenset[str] = frozenset()  # no heat, compression or rollers
    no_heat_legs: frozenset[str] = frozenset()  # pads off (spared legs included)
    notices: tuple[Notice, ...] = ()


def _words(flags: list[str]) -> str:
    words = [FLAG_WORDS[f] for f in flags]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def check_profile(program: Program, intensity: int, profile: Profile) -> ProfileDecision:
    """Apply the profile to a start (or intensity change) request."""
    if isinstance(intensity, bool) or not isinstance(intensity, int) or not 1 <= intensity <= 5:
        raise ValueError(f"intensity must be one of 1-5, got {intensity!r}")
    flags = profile.flags_set
    allowed = True
    notices: list[Notice] = []
    max_heat_c: float | None = None

    def refuse(text: str) -> None:
        nonlocal allowed
        allowed = False
        notices.append(make(NoticeCode.PROGRAM_REFUSED, text))

    if profile.unsure_or_recent_surgery:
        refuse(f"{program.id} is refused: after recent surgery, or when unsure, ask a doctor first")
    if flags and program.deep:
        refuse(f"{program.id} is refused: deep massage is not safe with {_words(flags)}")
    if profile.suspected_clot and program.uses_compression:
        refuse("compression is refused with a suspected blood clot: see a doctor first")
    if profile.suspected_clot and program.uses_rollers:
        refuse("massage rollers are refused with a suspected blood clot: see a doctor first")
    spared = profile.spared_legs
    if spared == frozenset(LEGS):
        refuse(f"{program.id} is refused: both legs have {FLAG_WORDS['wound_or_infection']}, and nothing is "
               "given on such a leg")
    if flags and intensity > CAPPED_INTENSITY:
        notices.append(make(NoticeCode.INTENSITY_CAPPED,
                            f"intensity is capped at {CAPPED_INTENSITY} (asked for {intensity}) because of "
                            f"{_words(flags)}"))
        intensity = CAPPED_INTENSITY
    uses_heat = program.max_heat_c is not None
    if len(spared) == 1:
        (leg,) = spared
        other = next(x for x in LEGS if x != leg)
        notices.append(make(NoticeCode.LEG_SPARED,
                            f"the {leg} leg is spared because of {FLAG_WORDS['wound_or_infection']}: no heat, "
                            f"compression or rollers on it; the {other} leg runs", leg=leg))
    for leg in profile.legs_with("numbness_or_poor_circulation"):
        if uses_heat and leg not in spared:
            notices.append(make(NoticeCode.HEAT_CAPPED,
                                f"heat is off on the {leg} leg because of "
                                f"{FLAG_WORDS['numbness_or_poor_circulation']}: a numb foot does not feel a burn",
                                leg=leg))
    if profile.pregnancy:
        max_heat_c = PREGNANCY_MAX_HEAT_C
        hottest = program.max_heat_c
        if hottest is not None and hottest > PREGNANCY_MAX_HEAT_C:
            notices.append(make(NoticeCode.HEAT_CAPPED,
                                f"heat is capped at {PREGNANCY_MAX_HEAT_C:g} °C (the program asks for {hottest:g} °C) "
                                "during pregnancy"))
    return ProfileDecision(allowed=allowed, intensity=intensity, reasons=[n.text for n in notices],
                           max_heat_c=max_heat_c, spared_legs=spared, no_heat_legs=profile.no_heat_legs,
                           notices=tuple(notices))
