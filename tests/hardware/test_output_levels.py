"""Pi issue 2: every output pin is low, driven or pulled down, at every moment the controller
is not driving it: at power-up (the Pi's boot pulls), after a stop, after the ``safe-state``
hook and after a crash; never floating. On the simulator's model of the Pi's pins (boot pulls,
gpiozero's close leaving a pin floating, the kernel freeing a dead process's lines)."""

import pytest
from gpiozero import DigitalOutputDevice

from controller.machine.board import build_board, make_simulator
from controller.model.config import ConfigError, load_config
from controller.model.outputs import Outputs
from sim.gpio import SimPinFactory


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def everything_on(cfg) -> Outputs:
    off = Outputs.safe(cfg.pad_names, cfg.chamber_names, cfg.roller_names)
    return off.with_(relay_closed=True, pump_duty=0.7,
                     heater_duty=dict.fromkeys(cfg.pad_names, 1.0),
                     fill_open=dict.fromkeys(cfg.chamber_names, True), vent_open=dict.fromkeys(cfg.chamber_names, False),
                     roller_speed=dict.fromkeys(cfg.roller_names, -0.8))


async def running_board(cfg, clock):
    sim = make_simulator(cfg, clock)
    board = build_board(cfg, sim=sim)
    for _ in range(5):
        clock.t += 0.02
        await board.read(clock.t, thermal=False)
        await board.write(everything_on(cfg))
        board.toggle_heartbeat()
    levels = sim.output_levels()
    assert levels["relay"] == levels["heater:left_foot"] == levels["motor_dir:left_calf"] == "high"
    return sim, board


def all_low(levels: dict[str, str]) -> bool:
    return set(levels.values()) == {"low"}


def test_the_sim_models_the_hazard_gpiozero_close_leaves_a_pin_floating():
    factory = SimPinFactory(Clock())
    assert factory.level(5) == "high" and factory.level(17) == "low"  # boot pulls: 0-8 up, 9-27 down
    device = DigitalOutputDevice(17, initial_value=True, pin_factory=factory)
    assert factory.level(17) == "high"
    device.close()
    assert factory.level(17) == "floating"  # lgpio: input, bias disabled


def test_at_power_up_every_output_of_the_board_is_pulled_low():
    cfg = load_config()
    sim = make_simulator(cfg, Clock())
    levels = sim.output_levels()
    assert all_low(levels), levels


def test_an_output_on_a_pin_pulled_high_at_boot_is_refused(tmp_path):
    text = load_config.__globals__["DEFAULT_CONFIG_PATH"].read_text().replace("heater_pin = 9\n", "heater_pin = 8\n")
    text = text.replace("start_pause = 8", "start_pause = 9")
    path = tmp_path / "board.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"pads.left_foot.heater_pin: GPIO 8 is pulled high at boot"):
        load_config(path)


async def test_after_a_stop_every_output_is_pulled_low_not_floating():
    cfg, clock = load_config(), Clock()
    sim, board = await running_board(cfg, clock)
    board.safe_state()
    clock.t += 0.02  # the PWM pins' last cycle (1 ms) has ended
    driven = sim.output_levels()
    assert driven.pop("heartbeat") in ("high", "low")  # still toggled by a live loop; the relay is open
    assert all_low(driven), driven  # driven low
    board.close()
    levels = sim.output_levels()
    assert all_low(levels), levels  # released, pulled down
    assert {sim.pin_factory.pin(n).function for n in (cfg.board.relay_pin, cfg.pads[0].heater_pin)} == {"input"}


async def test_after_a_crash_the_kernel_frees_the_lines_and_every_output_stays_pulled_low():
    cfg, clock = load_config(), Clock()
    sim, board = await running_board(cfg, clock)
    sim.crash()  # no safe state, no close: the process is gone
    levels = sim.output_levels()
    assert all_low(levels), levels
    clock.t += 0.02
    assert not sim.true_state()["powered"]


async def test_the_safe_state_hook_after_a_crash_leaves_every_output_pulled_low():
    """systemd's ExecStopPost runs ``legtherapy safe-state``: a new board on the same pins."""
    cfg, clock = load_config(), Clock()
    sim, board = await running_board(cfg, clock)
    sim.crash()
    hook = build_board(cfg, sim=sim)
    assert all_low(sim.output_levels())  # claimed low
    hook.safe_state()
    hook.close()
    levels = sim.output_levels()
    assert all_low(levels), levels
