"""``set_profile`` carries only the flags it names (``SetProfile.changes``): a flag left out is
unchanged, a flag sent false is a change to false (relaxing it), never dropped; the leg keys
and the person-level keys both come through under their own names."""

from __future__ import annotations

import pytest

from controller.model.commands import PROFILE_FLAGS, Source, parse_command


def test_only_the_flags_sent_are_changes_with_their_values():
    cmd = parse_command({"command": "set_profile", "pregnancy": True, "wound_or_infection_left": False,
                         "numbness_or_poor_circulation": True}, Source.MQTT)
    assert cmd.changes() == {"pregnancy": True, "wound_or_infection_left": False,
                             "numbness_or_poor_circulation": True}


def test_a_set_profile_naming_no_flag_changes_nothing():
    assert parse_command({"command": "set_profile"}, Source.PANEL).changes() == {}


@pytest.mark.parametrize("key", PROFILE_FLAGS)
@pytest.mark.parametrize("value", [True, False])
def test_every_profile_key_comes_through_alone_with_its_value(key, value):
    cmd = parse_command({"command": "set_profile", key: value}, Source.SOCKET)
    assert cmd.changes() == {key: value}
