"""systemd notifications reach a fake service manager's socket, and never hurt the control loop."""

import logging
import os
import socket
import tempfile
import uuid

import pytest

from controller.app.systemd_notify import SystemdNotifier


def receive(sock):
    sock.settimeout(2.0)
    return sock.recv(4096).decode()


@pytest.fixture
def manager_socket(tmp_path):
    """A datagram socket bound to a path, as systemd's /run/systemd/notify is."""
    path = tmp_path / "notify"
    if len(str(path).encode()) > 100:  # sun_path is 108 bytes
        path = type(tmp_path)(tempfile.mkdtemp(prefix="sdn")) / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    yield sock, str(path)
    sock.close()


@pytest.fixture
def abstract_socket():
    name = f"legtherapy-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    yield sock, "@" + name
    sock.close()


def test_ready_status_watchdog_and_stopping_reach_the_socket(manager_socket):
    sock, path = manager_socket
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    assert notifier.ready("running")
    assert receive(sock) == "READY=1\nSTATUS=running"
    assert notifier.status("running: lymphatic")
    assert receive(sock) == "STATUS=running: lymphatic"
    assert notifier.watchdog()
    assert receive(sock) == "WATCHDOG=1"
    assert notifier.stopping()
    assert receive(sock) == "STOPPING=1"
    notifier.close()


def test_an_abstract_socket_name_starting_with_at_is_reached(abstract_socket):
    sock, name = abstract_socket
    notifier = SystemdNotifier({"NOTIFY_SOCKET": name})
    assert notifier.ready()
    assert receive(sock) == "READY=1"
    assert notifier.watchdog()
    assert receive(sock) == "WATCHDOG=1"
    notifier.close()


def test_a_status_text_stays_one_line(manager_socket):
    sock, path = manager_socket
    SystemdNotifier({"NOTIFY_SOCKET": path}).status("fault:\nover-pressure\nWATCHDOG=1")
    assert receive(sock) == "STATUS=fault: over-pressure WATCHDOG=1"


def test_without_notify_socket_every_call_is_a_quiet_no_op(caplog):
    notifier = SystemdNotifier({})
    assert not notifier.enabled
    with caplog.at_level(logging.DEBUG):
        assert notifier.ready("running") is False
        assert notifier.status("x") is False
        assert notifier.watchdog() is False
        assert notifier.stopping() is False
    assert notifier.watchdog_interval_s() is None
    assert caplog.records == []


def test_default_environment_is_os_environ(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not SystemdNotifier().enabled


def test_a_missing_manager_is_logged_once_never_raised(tmp_path, caplog):
    path = str(tmp_path / "gone")
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path})
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            assert notifier.watchdog() is False
    assert len([r for r in caplog.records if "systemd notify" in r.message]) == 1
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # the manager comes (back)
    sock.bind(path)
    try:
        assert notifier.watchdog()
        assert receive(sock) == "WATCHDOG=1"
    finally:
        sock.close()


def test_a_relative_notify_socket_is_refused_not_used(caplog):
    with caplog.at_level(logging.WARNING):
        notifier = SystemdNotifier({"NOTIFY_SOCKET": "relative/path"})
    assert not notifier.enabled and notifier.ready() is False
    assert any("NOTIFY_SOCKET" in r.message for r in caplog.records)


@pytest.mark.parametrize("env, expected", [
    ({"WATCHDOG_USEC": "5000000"}, 2.5),
    ({"WATCHDOG_USEC": "5000000", "WATCHDOG_PID": str(os.getpid())}, 2.5),
    ({"WATCHDOG_USEC": "200000"}, 0.1),
    ({"WATCHDOG_USEC": "5000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),  # meant for another process
    ({}, None),
    ({"WATCHDOG_USEC": "0"}, None),
    ({"WATCHDOG_USEC": "soon"}, None),
    ({"WATCHDOG_USEC": "5000000", "WATCHDOG_PID": "me"}, None),
])
def test_watchdog_interval_is_half_of_watchdog_usec_for_our_pid(env, expected):
    assert SystemdNotifier(env).watchdog_interval_s() == expected
