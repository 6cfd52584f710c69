"""The deadbands: noise inside them never changes the payload, a real move always does."""

from controller.interfaces.state_filter import StateFilter, changed
from tests.fake_machine import make_state


def test_noise_inside_the_deadbands_is_held_and_a_real_move_is_published_rounded():
    f = StateFilter()
    first = f.payload(make_state(pads={"left_foot": {"temp_c": 36.04}}, chambers={"left_foot": {"pressure_mmhg": 2.4}}))
    assert (first["pads"]["left_foot"]["temp_c"], first["chambers"]["left_foot"]["pressure_mmhg"]) == (36.0, 2.0)
    for temp, pressure in ((36.13, 3.3), (35.95, 1.5), (36.1, 2.0)):  # < 0.1 °C, < 1 mmHg from 36.04 / 2.4
        noisy = f.payload(make_state(pads={"left_foot": {"temp_c": temp}},
                                     chambers={"left_foot": {"pressure_mmhg": pressure}}, seq=9, t_s=9.0))
        assert not changed(noisy, first), (temp, pressure)
    moved = f.payload(make_state(pads={"left_foot": {"temp_c": 36.14}}, chambers={"left_foot": {"pressure_mmhg": 3.4}}))
    assert (moved["pads"]["left_foot"]["temp_c"], moved["chambers"]["left_foot"]["pressure_mmhg"]) == (36.1, 3.0)
    assert changed(moved, first)


def test_a_lost_sensor_shows_at_once_and_other_fields_are_untouched():
    f = StateFilter()
    f.payload(make_state(pads={"left_foot": {"temp_c": 36.0}}))
    lost = f.payload(make_state(pads={"left_foot": {"temp_c": None}}, intensity=4))
    assert lost["pads"]["left_foot"]["temp_c"] is None and lost["intensity"] == 4
    assert f.payload(make_state(pads={"left_foot": {"temp_c": 36.02}}))["pads"]["left_foot"]["temp_c"] == 36.0
