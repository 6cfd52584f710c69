"""A notice: a refusal or an automatic cap, told to the person in the guide's words.

Faults say what went wrong with the machine; notices say what the machine chose not to do for
this person (a program refused, intensity capped, heat off on a leg, a leg spared) and why.
They are shown everywhere a person looks: the panel (an LED pattern and a buzzer code, by
``panel_code``), ``legctl status``/``watch``, and MQTT (an ``event`` and the retained
``notice`` in the state), and so Home Assistant.

``panel_code`` is a small number a person can count: the fault LED gives that many short
flashes, and the buzzer one long beep then that many short ones (README: "Notices").
"""

from __future__ import annotations

from enum import StrEnum

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, computed_field


class NoticeCode(StrEnum):
    PROFILE_NEEDED = "profile_needed"  # no profile confirmed on this machine yet
    PROGRAM_REFUSED = "program_refused"  # the profile refuses the program
    INTENSITY_CAPPED = "intensity_capped"
    HEAT_CAPPED = "heat_capped"  # heat lowered (pregnancy) or off on a leg (numbness)
    LEG_SPARED = "leg_spared"  # a leg gets no heat, compression or rollers (a wound)
    PROFILE_CHANGE_WAITING = "profile_change_waiting"  # a remote relax waits for the panel
    PROFILE_CHANGE_EXPIRED = "profile_change_expired"  # ... and was not confirmed in time
    PROFILE_UNREADABLE = "profile_unreadable"  # the profile file was damaged: strictest profile
    PUMP_SERVICE = "pump_service"  # the service record measured a weak pump: service it
    DAILY_AMOUNT_PASSED = "daily_amount_passed"  # a leg's day passed the guide's "5-10 minutes per leg"
    GUIDE_PROMPT = "guide_prompt"  # a step the person does (toe pulls, a stretch): the machine waits


#: flashes and beeps per code (a person counts them; 1-10; a prompt sounds a chirp instead)
PANEL_CODES: dict[NoticeCode, int] = {
    NoticeCode.PROFILE_NEEDED: 1,
    NoticeCode.PROGRAM_REFUSED: 2,
    NoticeCode.INTENSITY_CAPPED: 3,
    NoticeCode.HEAT_CAPPED: 4,
    NoticeCode.LEG_SPARED: 5,
    NoticeCode.PROFILE_CHANGE_WAITING: 6,
    NoticeCode.PROFILE_CHANGE_EXPIRED: 6,
    NoticeCode.PROFILE_UNREADABLE: 7,
    NoticeCode.DAILY_AMOUNT_PASSED: 8,
    NoticeCode.GUIDE_PROMPT: 9,
    NoticeCode.PUMP_SERVICE: 10,
}

#: a notice's text is a sentence or two; the state stays small
MAX_TEXT = 300


class Notice(BaseModel):
    """One notice. ``leg`` names the leg it is about (None: the whole person or machine)."""

    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)

    # a code from a newer version is kept as text, not refused
    code: Annotated[NoticeCode | str, Field(union_mode="left_to_right")]
    text: str = Field(max_length=MAX_TEXT)
    leg: str | None = None
    zone: str | None = None
    t_s: float | None = None  # machine time it was raised; None until it is

    @computed_field
    @property
    def panel_code(self) -> int:
        """Flashes and beeps on the panel for this notice (0: a code this version does not know)."""
        try:
            return PANEL_CODES[NoticeCode(self.code)]
        except ValueError:
            return 0

    def at(self, t_s: float) -> "Notice":
        return self.model_copy(update={"t_s": round(t_s, 3)})

    def event(self) -> dict:
        """The MQTT/socket event for it."""
        return {"type": "notice", "t_s": self.t_s, "code": str(self.code), "text": self.text, "leg": self.leg,
                "zone": self.zone, "panel_code": self.panel_code}


def make(code: NoticeCode, text: str, leg: str | None = None) -> Notice:
    return Notice(code=code, text=text[:MAX_TEXT], leg=leg)


def daily_amount_passed(leg: str, minutes_today: float, limit_minutes: float) -> Notice:
    """A leg's day passed the threshold (config ``therapy.daily_minutes_per_leg_notice``)."""
    return make(NoticeCode.DAILY_AMOUNT_PASSED,
                f"the {leg} leg has had {minutes_today:.0f} minutes today, more than the {limit_minutes:g} minutes "
                "the guide suggests (5 to 10 minutes per leg daily)", leg=leg)


def guide_prompt(text: str, duration_s: float, heated: bool) -> Notice:
    """A step the machine cannot do itself: the person does it while the sleeves stay empty."""
    warm = "; the pads stay warm" if heated else ""
    return make(NoticeCode.GUIDE_PROMPT,
                f"{text}: {duration_s:g} s (the sleeves stay empty and the rollers still{warm})")
