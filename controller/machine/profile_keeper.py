"""Who may change the person's profile, and how: stricter from anywhere, relaxed only at the machine.

- **Raising** a flag (a condition is set) applies at once from every source: a stricter
  profile can only make the machine do less.
- **Relaxing** one (clearing a condition) needs a person at the machine: the panel or the
  technician socket (``legctl``) applies it; from MQTT (and so Home Assistant) it becomes a
  *request* that waits ``CONFIRM_WINDOW_S`` (60 s) for a confirmation at the panel (the
  ``confirm_profile`` command, sent by the panel's gesture). A remote request alone never
  relaxes anything; unconfirmed, it expires and says so.
- **Confirmed once**: until a person at the machine has confirmed a profile (even "no
  conditions"), programs are refused with a notice saying how to do it. The simulator and
  test rigs may start confirmed (``require_confirmation=False``) when no profile file exists.
- Every change is saved (``controller.storage.profile_store``) before it is reported done; a
  damaged file loads as the strictest profile.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from controller.model.commands import Source
from controller.model.notice import Notice, NoticeCode, make
from controller.model.profile import Profile, describe_key
from controller.storage.profile_store import load_profile, save_profile

log = logging.getLogger("legtherapy.profile")

CONFIRM_WINDOW_S = 60.0
#: the panel gesture, in the words the notices use (``controller.interfaces.panel``)
CONFIRM_GESTURE = "hold program + heat together for 2 s at the panel"


@dataclass(frozen=True)
class Pending:
    """A remote request to relax these fields, waiting for a panel confirmation until ``until_s``."""

    fields: tuple[str, ...]
    until_s: float
    source: Source


@dataclass(frozen=True)
class ProfileOutcome:
    ok: bool
    applied: tuple[str, ...] = ()  # fields changed now
    waiting: tuple[str, ...] = ()  # fields a remote source asked to relax (pending)
    error: str | None = None
    notices: tuple[Notice, ...] = ()


class ProfileKeeper:
    def __init__(self, state_dir: str, *, require_confirmation: bool = True) -> None:
        self.state_dir = state_dir
        loaded = load_profile(state_dir)
        self.profile: Profile = loaded.profile
        self.confirmed = loaded.confirmed or (not loaded.found and not require_confirmation)
        self.problem: str | None = loaded.problem
        self.pending: Pending | None = None
        if loaded.found and loaded.problem is None:
            log.info("profile loaded: %s%s", ", ".join(describe_key(k) for k, v in self.profile.stored().items() if v)
                     or "no conditions", "" if self.confirmed else " (not confirmed yet)")

    # ------------------------------------------------------------------ changes
    def request(self, changes: dict[str, bool], source: Source, now_s: float) -> ProfileOutcome:
        try:
            wanted = self.profile.with_changes(changes)
        except ValueError as err:
            return ProfileOutcome(False, error=str(err))
        raised = tuple(self.profile.raised_in(wanted))
        relaxed = tuple(self.profile.relaxed_in(wanted))
        if source.is_local:
            return self._apply(wanted, raised + relaxed, confirmed=True)
        stricter = self.profile.union(wanted)  # the raises alone
        outcome = self._apply(stricter, raised, confirmed=self.confirmed) if raised else ProfileOutcome(True)
        if not outcome.ok or not relaxed:
            return outcome
        self.pending = Pending(relaxed, now_s + CONFIRM_WINDOW_S, source)
        words = ", ".join(describe_key(k) for k in relaxed)
        notice = make(NoticeCode.PROFILE_CHANGE_WAITING,
                      f"a remote request to clear {words} waits for a person at the machine: "
                      f"{CONFIRM_GESTURE} within {CONFIRM_WINDOW_S:.0f} s to confirm it, or nothing changes")
        return ProfileOutcome(True, outcome.applied, relaxed, notices=(notice,))

    def confirm(self, now_s: float) -> ProfileOutcome:
        """A person at the machine confirms the profile, and any relax waiting for it."""
        pending, self.pending = self.pending, None
        if pending is not None and now_s <= pending.until_s:
            wanted = self.profile.with_changes(dict.fromkeys(pending.fields, False))
            return self._apply(wanted, tuple(pending.fields), confirmed=True)
        return self._apply(self.profile, (), confirmed=True)

    def expire(self, now_s: float) -> Notice | None:
        """Drop a request whose window has passed; its notice says nothing was relaxed."""
        pending = self.pending
        if pending is None or now_s <= pending.until_s:
            return None
        self.pending = None
        words = ", ".join(describe_key(k) for k in pending.fields)
        return make(NoticeCode.PROFILE_CHANGE_EXPIRED,
                    f"the remote request to clear {words} was not confirmed at the machine within "
                    f"{CONFIRM_WINDOW_S:.0f} s: nothing was relaxed")

    def _apply(self, profile: Profile, fields: tuple[str, ...], *, confirmed: bool) -> ProfileOutcome:
        """Save first, then take it: a change that could not be kept is not reported done
        (a raise is still taken: being stricter in memory than on disk is safe)."""
        relaxing = bool(self.profile.relaxed_in(profile))
        try:
            save_profile(self.state_dir, profile, confirmed)
        except OSError as err:
            log.error("cannot save the profile: %s", err)
            if relaxing:
                return ProfileOutcome(False, error=f"the profile could not be saved ({err.strerror or err}): "
                                                   "nothing was relaxed")
            self.profile = profile  # only stricter than before (nothing relaxed)
            return ProfileOutcome(True, fields, error=f"the profile could not be saved ({err.strerror or err})")
        self.profile = profile
        self.confirmed = confirmed
        if confirmed:
            self.problem = None  # a person set it again: the damaged file is replaced
        return ProfileOutcome(True, fields)

    # ------------------------------------------------------------------ reading
    def start_refusal(self) -> Notice | None:
        """Why no program may start yet (no confirmed profile, or a damaged file), or None."""
        if self.problem is not None:
            return make(NoticeCode.PROFILE_UNREADABLE, self.problem)
        if not self.confirmed:
            return make(NoticeCode.PROFILE_NEEDED,
                        "a profile is needed before the first program on this machine: "
                        f"{CONFIRM_GESTURE} to confirm no conditions, or set one with legctl profile set")
        return None

    def pending_flags(self) -> dict[str, bool] | None:
        """The published form of a waiting request: ``{field: False}`` (what it would clear)."""
        return None if self.pending is None else dict.fromkeys(self.pending.fields, False)
