"""The notices in force: what the machine refused or capped for this person, and why.

Each new notice is stamped with the machine time, published as an ``event`` (MQTT, the
socket's stream, the panel's buzzer code) and kept in the state (``notices``, and the newest as
``notice``, retained on MQTT) until a later start attempt replaces them or what they were about
is settled (a confirmed profile drops "a profile is needed"). Bounded: a stream of refusals
cannot grow the state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from controller.model.notice import Notice, NoticeCode, daily_amount_passed

MAX_IN_FORCE = 8


class NoticeBoard:
    def __init__(self, publish_event: Callable[[dict], None]) -> None:
        self._publish = publish_event
        self.in_force: list[Notice] = []
        self.changed = False  # since the last snapshot (the supervisor publishes at once)

    def post(self, notices: Iterable[Notice], now_s: float, *, details: Mapping[str, object] | None = None) -> None:
        """``details``: keys the ``event`` carries beside the notice's own (never in place of them)."""
        for notice in notices:
            stamped = notice.at(now_s)
            key = (stamped.code, stamped.leg, stamped.text)
            self.in_force = [n for n in self.in_force if (n.code, n.leg, n.text) != key]
            self.in_force.append(stamped)
            del self.in_force[:-MAX_IN_FORCE]
            self._publish({**(details or {}), **stamped.event()})
            self.changed = True

    def drop(self, *codes: NoticeCode) -> None:
        kept = [n for n in self.in_force if n.code not in codes]
        if len(kept) != len(self.in_force):
            self.in_force = kept
            self.changed = True

    def clear_session_notices(self) -> None:
        """A new start attempt: its own notices replace those of the last one (the profile's
        own state, a change waiting for confirmation or a damaged file, stays)."""
        self.drop(NoticeCode.PROGRAM_REFUSED, NoticeCode.INTENSITY_CAPPED, NoticeCode.HEAT_CAPPED,
                  NoticeCode.LEG_SPARED, NoticeCode.PROFILE_NEEDED, NoticeCode.PROFILE_CHANGE_EXPIRED,
                  NoticeCode.DAILY_AMOUNT_PASSED, NoticeCode.GUIDE_PROMPT)

    def post_daily_amount(self, leg: str, minutes_today: float, limit_minutes: float, now_s: float) -> None:
        """A leg's day passed the guide's amount: a notice like any other (panel, socket, MQTT);
        its event also keeps the keys the daily record's event always had."""
        notice = daily_amount_passed(leg, minutes_today, limit_minutes)
        self.post([notice], now_s, details={"minutes_today": round(minutes_today, 1), "limit_minutes": limit_minutes,
                                            "message": notice.text})

    def show_prompt(self, prompt: Notice | None, now_s: float) -> None:
        """The step in force asks the person to do something (None: it does not): the last
        step's prompt is dropped, this one's posted (its chirp and LED show while it lasts)."""
        self.drop(NoticeCode.GUIDE_PROMPT)
        if prompt is not None:
            self.post([prompt], now_s)

    @property
    def latest(self) -> Notice | None:
        return self.in_force[-1] if self.in_force else None
