"""The person's safety profile as data: which conditions are set, person-wide or per leg.

The guide's safety notes (no deep massage with varicose veins, skin infections or open wounds,
or a suspected clot; speak to a doctor if unsure) become flags. Two of them are about a place
on the body, so they are kept per leg: a wound or infection, and numbness or poor circulation
(a numb foot does not feel a pad getting too hot: a burn risk). The others are about the whole
person (a clot can travel; pregnancy and recent surgery concern the body as a whole).

This module is only the data (it lives in ``controller.model`` so the profile store, the
interfaces and ``legctl`` can read it); what a profile allows is ``programs.profile``.

Compatibility: ``wound_or_infection`` (the old person-level flag) still works as input and
means both legs; in the published flags it reads True when either leg has one. The same holds
for ``numbness_or_poor_circulation``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

LEGS = ("left", "right")
#: flags about the whole person
PERSON_FLAGS = ("varicose_veins", "suspected_clot", "pregnancy", "unsure_or_recent_surgery")
#: flags about one leg (given without a leg, they mean both)
LEG_FLAGS = ("wound_or_infection", "numbness_or_poor_circulation")
#: the stored fields: the person's flags, then each leg flag per leg
FIELDS = PERSON_FLAGS + tuple(f"{flag}_{leg}" for flag in LEG_FLAGS for leg in LEGS)
#: every key a profile can be set or shown by (the person-level leg flags included)
ALL_KEYS = ("varicose_veins", "wound_or_infection", "suspected_clot", "pregnancy",
            "numbness_or_poor_circulation", "unsure_or_recent_surgery") + FIELDS[len(PERSON_FLAGS):]

#: how each flag reads in a sentence (the guide's words)
FLAG_WORDS = {
    "varicose_veins": "varicose veins",
    "wound_or_infection": "a skin infection or an open wound",
    "suspected_clot": "a suspected blood clot",
    "pregnancy": "pregnancy",
    "numbness_or_poor_circulation": "numbness or poor circulation",
    "unsure_or_recent_surgery": "recent surgery or being unsure",
}


class Profile(BaseModel):
    """Conditions that make some therapy unsafe. All off by default (no conditions)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    varicose_veins: bool = False
    suspected_clot: bool = False
    pregnancy: bool = False
    unsure_or_recent_surgery: bool = False
    wound_or_infection_left: bool = False
    wound_or_infection_right: bool = False
    numbness_or_poor_circulation_left: bool = False
    numbness_or_poor_circulation_right: bool = False

    @model_validator(mode="before")
    @classmethod
    def _person_level_means_both_legs(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for flag in LEG_FLAGS:
            if flag in data:
                value = data.pop(flag)
                if not isinstance(value, bool):
                    raise ValueError(f"{flag} must be true or false, got {value!r}")
                for leg in LEGS:
                    data.setdefault(f"{flag}_{leg}", value)  # an explicit leg value wins
        return data

    # ------------------------------------------------------------------ reading it
    def on_leg(self, flag: str, leg: str) -> bool:
        """A leg flag on ``leg`` (a person flag is on every leg)."""
        if flag in LEG_FLAGS:
            return bool(getattr(self, f"{flag}_{leg}", False))
        return bool(getattr(self, flag))

    @property
    def wound_or_infection(self) -> bool:
        return self.wound_or_infection_left or self.wound_or_infection_right

    @property
    def numbness_or_poor_circulation(self) -> bool:
        return self.numbness_or_poor_circulation_left or self.numbness_or_poor_circulation_right

    def legs_with(self, flag: str) -> tuple[str, ...]:
        return tuple(leg for leg in LEGS if self.on_leg(flag, leg))

    @property
    def spared_legs(self) -> frozenset[str]:
        """Legs given nothing at all (no heat, compression or rollers): a wound or infection."""
        return frozenset(self.legs_with("wound_or_infection"))

    @property
    def no_heat_legs(self) -> frozenset[str]:
        """Legs whose pads stay off: spared, or numb (a numb foot does not feel a burn)."""
        return self.spared_legs | frozenset(self.legs_with("numbness_or_poor_circulation"))

    @property
    def flags_set(self) -> list[str]:
        """The conditions set, by their person-level names (a leg flag counts once)."""
        return [name for name in FLAG_WORDS if getattr(self, name)]

    def flags(self) -> dict[str, bool]:
        """Every key with its value, as published (``ALL_KEYS`` order)."""
        return {key: bool(getattr(self, key)) for key in ALL_KEYS}

    def stored(self) -> dict[str, bool]:
        """Only the stored fields: what the profile file holds."""
        return {key: bool(getattr(self, key)) for key in FIELDS}

    # ------------------------------------------------------------------ changing it
    def with_changes(self, changes: Mapping[str, bool | None]) -> "Profile":
        """A copy with these keys changed (None: unchanged). A person-level leg flag sets both
        legs first; a leg's own key given in the same change then wins for that leg."""
        current = self.stored()
        unknown = sorted(set(changes) - set(ALL_KEYS))
        if unknown:
            raise ValueError(f"unknown profile flag(s): {', '.join(unknown)} (known: {', '.join(ALL_KEYS)})")
        for flag in LEG_FLAGS:
            if changes.get(flag) is not None:
                for leg in LEGS:
                    current[f"{flag}_{leg}"] = changes[flag]
        for key in FIELDS:
            if changes.get(key) is not None:
                current[key] = changes[key]
        return Profile(**current)

    def relaxed_in(self, other: "Profile") -> list[str]:
        """The stored fields set here and cleared in ``other``: what going to ``other`` relaxes."""
        return [k for k in FIELDS if getattr(self, k) and not getattr(other, k)]

    def raised_in(self, other: "Profile") -> list[str]:
        return [k for k in FIELDS if not getattr(self, k) and getattr(other, k)]

    def union(self, other: "Profile") -> "Profile":
        """Every flag set in either (the stricter of the two)."""
        return Profile(**{k: getattr(self, k) or getattr(other, k) for k in FIELDS})


#: what a damaged profile file loads as: every condition, on both legs
STRICTEST = Profile(**dict.fromkeys(FIELDS, True))


def describe_key(key: str) -> str:
    """``wound_or_infection_left`` -> ``a skin infection or an open wound (left leg)``."""
    for flag in LEG_FLAGS:
        for leg in LEGS:
            if key == f"{flag}_{leg}":
                return f"{FLAG_WORDS[flag]} ({leg} leg)"
    return FLAG_WORDS.get(key, key)
