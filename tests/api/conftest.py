"""Fixtures for the socket API: a hub, a fake machine behind it, a real Unix socket, legctl.

Socket I/O is real, so these tests run on real loop time (never looptime's fast-forward), and
every wait is an asyncio timeout. Socket paths live in a short /tmp directory: a Unix socket
path must fit in 108 bytes, which pytest's tmp_path does not promise.
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import tempfile

import pytest

from controller.interfaces.socket_api import SocketApi
from controller.model.config import SocketSettings
from controller.machine.hub import MachineHub
from legctl.cli import main as legctl_main
from tests.fake_machine import FakeMachine


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/api/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.looptime(False))


@pytest.fixture
def short_dir():
    path = tempfile.mkdtemp(prefix="lt-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def sock_path(short_dir) -> str:
    return f"{short_dir}/run/legtherapy.sock"  # "run" does not exist yet: the API creates it


@pytest.fixture
async def hub() -> MachineHub:
    return MachineHub()


@pytest.fixture
async def machine(hub):
    fake = FakeMachine(hub)
    task = asyncio.create_task(fake.run())
    yield fake
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def server(hub, machine, sock_path):
    api = SocketApi(SocketSettings(path=sock_path, group=None), hub)
    await api.start()
    yield api
    await api.close()


class RawClient:
    """A test client speaking the wire protocol directly, one line at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, data: bytes | dict) -> None:
        self.writer.write(data if isinstance(data, bytes) else json.dumps(data).encode() + b"\n")
        await self.writer.drain()

    async def read(self, timeout: float = 5.0) -> dict:
        line = await asyncio.wait_for(self.reader.readline(), timeout)
        assert line, "the server closed the connection"
        return json.loads(line)

    async def ask(self, data: bytes | dict, timeout: float = 5.0) -> dict:
        await self.send(data)
        return await self.read(timeout)

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


@pytest.fixture
async def connect(server, sock_path):
    clients: list[RawClient] = []

    async def _connect() -> RawClient:
        reader, writer = await asyncio.open_unix_connection(sock_path, limit=1 << 20)
        client = RawClient(reader, writer)
        clients.append(client)
        return client

    yield _connect
    for c in clients:
        await c.close()


@pytest.fixture
def legctl(sock_path):
    """Run ``legctl`` in a thread against the live server: (exit code, stdout, stderr)."""

    async def _run(*argv: str, socket: str | None = None) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = await asyncio.wait_for(
            asyncio.to_thread(legctl_main, ["--socket", socket or sock_path, *argv], out=out, err=err), 20)
        return code, out.getvalue(), err.getvalue()

    return _run
