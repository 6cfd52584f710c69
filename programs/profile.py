"""The user's safety profile and what it allows: the guide's safety notes made into rules.

The guide says: avoid deep massage with varicose veins, skin infections or open wounds, or a
suspected blood clot, and speak to a doctor if unsure. So, with any flag set:

- deep programs are refused;
- intensity is capped at ``CAPPED_INTENSITY`` (2): gentler pressure and slower rollers;
- with a suspected clot, compression is refused altogether (squeezing a leg could move a clot),
  and so are the rollers, for the same reason: the only safe advice is to see a doctor first;
- in pregnancy heat is capped at ``PREGNANCY_MAX_HEAT_C`` (38 °C): the usual advice is not to
  raise body temperature (hot-tub guidance keeps water below about 39 °C), and leg pads cover a
  large area for a long time, so we keep a margin below that. The cap is a *target* cap: the
  runner passes ``ProfileDecision.max_heat_c`` to the heat controller as an upper bound on every
  phase's ``heat_c``; ``None`` means the machine's own limit applies.

The decision is re-taken whenever the profile or intensity changes, so a flag set mid-session
takes effect at once.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from programs.schema import Program

CAPPED_INTENSITY = 2
PREGNANCY_MAX_HEAT_C = 38.0

#: how each flag reads in a sentence
_FLAG_WORDS = {
    "varicose_veins": "varicose veins",
    "wound_or_infection": "a skin infection or an open wound",
    "suspected_clot": "a suspected blood clot",
    "pregnancy": "pregnancy",
}


class Profile(BaseModel):
    """Conditions that make some therapy unsafe. All off by default."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    varicose_veins: bool = False
    wound_or_infection: bool = False
    suspected_clot: bool = False
    pregnancy: bool = False

    @property
    def flags_set(self) -> list[str]:
        return [name for name in _FLAG_WORDS if getattr(self, name)]


class ProfileDecision(BaseModel):
    """Whether a program may run for this profile, at what intensity and heat, and why."""

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    allowed: bool
    intensity: int
    reasons: list[str] = []
    max_heat_c: float | None = None


def _words(flags: list[str]) -> str:
    words = [_FLAG_WORDS[f] for f in flags]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def check_profile(program: Program, intensity: int, profile: Profile) -> ProfileDecision:
    """Apply the profile to a start (or intensity change) request."""
    if isinstance(intensity, bool) or not isinstance(intensity, int) or not 1 <= intensity <= 5:
        raise ValueError(f"intensity must be one of 1-5, got {intensity!r}")
    flags = profile.flags_set
    allowed = True
    reasons: list[str] = []
    max_heat_c: float | None = None

    if flags and program.deep:
        allowed = False
        reasons.append(f"{program.id} is refused: deep massage is not safe with {_words(flags)}")
    if profile.suspected_clot and program.uses_compression:
        allowed = False
        reasons.append("compression is refused with a suspected blood clot: see a doctor first")
    if profile.suspected_clot and program.uses_rollers:
        allowed = False
        reasons.append("massage rollers are refused with a suspected blood clot: see a doctor first")
    if flags and intensity > CAPPED_INTENSITY:
        reasons.append(f"intensity is capped at {CAPPED_INTENSITY} (asked for {intensity}) because of "
                       f"{_words(flags)}")
        intensity = CAPPED_INTENSITY
    if profile.pregnancy:
        max_heat_c = PREGNANCY_MAX_HEAT_C
        hottest = program.max_heat_c
        if hottest is not None and hottest > PREGNANCY_MAX_HEAT_C:
            reasons.append(f"heat is capped at {PREGNANCY_MAX_HEAT_C:g} °C (the program asks for {hottest:g} °C) "
                           "during pregnancy")
    return ProfileDecision(allowed=allowed, intensity=intensity, reasons=reasons, max_heat_c=max_heat_c)
