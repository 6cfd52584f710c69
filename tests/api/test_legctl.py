"""``legctl`` against a live socket: what a technician types, sees, and gets as an exit code."""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket

from legctl.cli import main as legctl_main
from legctl.format import CLEAR_HOME


async def test_status_prints_a_readable_table(server, legctl, machine):
    code, out, err = await legctl("status")
    assert code == 0, err
    assert "mode        idle" in out
    for heading in ("heat pads", "chambers", "rollers", "faults      none"):
        assert heading in out
    left_foot = next(line for line in out.splitlines() if "left_foot" in line and "38.5" in line)
    assert "40.0" in left_foot and "open" in left_foot and "closed" in left_foot
    assert "left_thigh" in out


async def test_status_json_is_the_raw_snapshot(server, legctl, hub):
    code, out, _ = await legctl("status", "--json")
    assert code == 0
    ticking = ("seq", "t_s")  # the machine ticks on while legctl asks
    status, now = json.loads(out), hub.snapshot().json_ready()
    assert {k: v for k, v in status.items() if k not in ticking} == {k: v for k, v in now.items() if k not in ticking}
    assert list(status) == list(now)
    code, out, _ = await legctl("--json", "status")  # the option works before the subcommand too
    assert json.loads(out)["mode"] == "idle"


async def test_start_pause_resume_stop_round_trip(server, legctl, machine):
    code, out, _ = await legctl("start", "quick_circulation", "--intensity", "2", "--no-heat")
    assert code == 0 and "started quick_circulation (no heat)" in out
    start = machine.received[-1][0]
    assert (start.program, start.intensity, start.heat) == ("quick_circulation", 2, False)

    machine.elapsed_s = 12.0  # 12 s into the 3-minute program
    machine.publish()
    code, out, _ = await legctl("status")
    assert "mode        running" in out and "Quick circulation [quick_circulation]" in out
    assert "2:48 remaining" in out

    assert (await legctl("pause"))[:2] == (0, "paused\n")
    assert machine.mode == "paused"
    assert (await legctl("resume"))[:2] == (0, "resumed\n")
    assert (await legctl("stop"))[:2] == (0, "stopped\n")
    assert machine.mode == "idle"
    assert [c.command for c, _, _ in machine.received] == ["start", "pause", "resume", "stop"]


async def test_a_refused_command_prints_the_machines_reason_and_exits_1(server, legctl):
    code, out, err = await legctl("start", "moon_walk")
    assert code == 1
    assert "refused: unknown program 'moon_walk': see legctl programs" in err


async def test_a_command_the_daemon_rejects_as_invalid_exits_1(server, legctl):
    code, _, err = await legctl("autotune", "left_calf", "--target-c", "60")
    assert code == 1 and "target_c" in err


async def test_selftest_failure_prints_a_fail_row_and_exits_1(server, legctl, machine):
    machine.selftest_fails = True
    code, out, err = await legctl("selftest")
    assert code == 1
    row = next(line for line in out.splitlines() if line.startswith("vent:left_calf"))
    assert "FAIL" in row and "still 31 mmHg after 5 s" in row
    assert "relay" in out and "PASS" in out
    assert "1 FAILED" in out
    assert "self-test failed" in err


async def test_selftest_pass_exits_0(server, legctl, machine):
    code, out, _ = await legctl("selftest")
    assert code == 0 and "3 of 3 checks passed" in out and "FAIL" not in out


async def test_manual_drives_one_output_by_hand(server, legctl, machine):
    code, out, _ = await legctl("manual", "pump", "0.5")
    assert code == 0 and "pump set to 0.5" in out
    cmd = machine.received[-1][0]
    assert (cmd.command, cmd.output, cmd.value) == ("manual", "pump", 0.5)
    code, out, _ = await legctl("manual", "fill:left_calf", "release")
    assert code == 0 and machine.received[-1][0].value is None


async def test_manual_with_a_word_for_a_value_is_a_usage_error(legctl, capsys):
    code, _, _ = await legctl("manual", "pump", "half")
    assert code == 2
    assert "VALUE must be a number (0..1, rollers -1..1) or 'release'" in capsys.readouterr().err


async def test_technician_commands_send_what_they_say(server, legctl, machine):
    assert (await legctl("calibrate", "pressure"))[0] == 0
    assert (await legctl("autotune", "left_calf", "--target-c", "39"))[0] == 0
    assert (await legctl("reset-lockout"))[0] == 0
    assert (await legctl("ack"))[0] == 0
    assert (await legctl("sim", "inject", "stuck_vent:left_thigh"))[0] == 0
    assert (await legctl("sim", "inject", "estop"))[0] == 0
    got = [c.model_dump(exclude={"id"}) for c, _, _ in machine.received]
    assert got == [{"command": "calibrate_pressure"}, {"command": "autotune", "pad": "left_calf", "target_c": 39.0},
                   {"command": "reset_lockout"}, {"command": "ack"},
                   {"command": "sim_inject", "fault": "stuck_vent", "zone": "left_thigh"},
                   {"command": "sim_inject", "fault": "estop", "zone": None}]


async def test_programs_and_faults_are_tables_or_json(server, legctl):
    code, out, _ = await legctl("programs")
    assert code == 0 and "quick_circulation" in out and "3:00" in out and "deep" in out
    code, out, _ = await legctl("programs", "--json")
    assert json.loads(out)[1]["id"] == "deep_tissue"
    code, out, _ = await legctl("faults")
    assert code == 0 and "over_temp" in out and "left_calf pad at 45.3 °C" in out


async def test_watch_redraws_in_place_until_the_count(server, legctl, machine):
    code, out, _ = await legctl("watch", "--count", "2", "--interval", "0.05")
    assert code == 0
    assert out.count(CLEAR_HOME) == 2
    assert "mode        idle" in out and "Ctrl-C to quit" in out


async def test_daemon_not_running_exits_2_and_says_how_to_start_it(legctl, short_dir):
    missing = f"{short_dir}/nobody.sock"
    code, out, err = await legctl("status", socket=missing)
    assert code == 2 and out == ""
    assert f"daemon not running at {missing}" in err
    assert "systemctl start legtherapy" in err and f"legtherapy run --sim --socket {missing}" in err


async def test_a_leftover_socket_with_no_daemon_is_not_running_too(legctl, short_dir):
    path = f"{short_dir}/left.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()
    code, _, err = await legctl("stop", socket=path)
    assert code == 2 and "daemon not running at" in err


def test_permission_denied_names_the_group_to_join(short_dir, monkeypatch):
    path = f"{short_dir}/locked.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen()
    os.chmod(path, 0o000)

    def refuse(self, address):  # root ignores file modes, so the kernel's EACCES is played here
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    out, err = io.StringIO(), io.StringIO()
    try:
        code = legctl_main(["--socket", path, "status"], out=out, err=err)
    finally:
        s.close()
    assert code == 2
    assert f"permission denied on {path}: add your user to group legtherapy" in err.getvalue()
    assert "sudo usermod -aG legtherapy $USER, then log in again" in err.getvalue()


def test_socket_default_comes_from_the_environment(monkeypatch, short_dir):
    monkeypatch.setenv("LEGTHERAPY_SOCKET", f"{short_dir}/env.sock")
    err = io.StringIO()
    assert legctl_main(["ping"], out=io.StringIO(), err=err) == 2
    assert f"daemon not running at {short_dir}/env.sock" in err.getvalue()


def test_every_subcommand_has_help(capsys):
    for sub in ("status", "watch", "start", "pause", "resume", "stop", "programs", "faults", "ack",
                "reset-lockout", "selftest", "calibrate", "autotune", "manual", "plot", "sim"):
        assert legctl_main([sub, "--help"]) == 0
        assert "usage: legctl " + sub in capsys.readouterr().out
    assert legctl_main(["sim", "inject", "--help"]) == 0
    assert "NAME[:ZONE]" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys):
    assert legctl_main([]) == 2
    assert legctl_main(["start", "quick_circulation", "--intensity", "9"]) == 2
    assert "intensity must be a whole number 1-5" in capsys.readouterr().err
    assert legctl_main(["calibrate", "temperature"]) == 2


async def test_a_state_this_legctl_cannot_read_is_named_and_json_still_shows_it(legctl, short_dir):
    """The socket is an edge: legctl checks the state it gets instead of printing half a table."""
    path = f"{short_dir}/odd.sock"
    odd = {"seq": 1, "mode": "warp_drive"}

    async def answer(reader, writer):
        await reader.readline()
        writer.write(json.dumps({"ok": True, "state": odd}).encode() + b"\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(answer, path=path)
    async with server:
        code, out, err = await legctl("status", socket=path)
        assert code == 2 and out == ""
        assert f"the daemon at {path} sent a state this legctl cannot read (t_s: Field required)" in err
        assert "same version as the daemon" in err
        code, out, _ = await legctl("status", "--json", socket=path)
        assert code == 0 and json.loads(out) == odd
