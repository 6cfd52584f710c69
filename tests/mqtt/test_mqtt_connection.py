"""How the bridge connects: identity, credentials, TLS, last will, backoff, flood control."""

from __future__ import annotations

import asyncio

import aiomqtt
import pytest

from controller.model.config import MqttSettings, TlsSettings
from controller.machine.hub import MachineHub
from controller.interfaces.mqtt import Backoff, MqttBridge, TokenBucket, _raw_id, _to_json, client_options
from tests.fake_machine import CHAMBERS, PADS, ROLLERS, FakeMachine

# A throwaway test CA with a server certificate (127.0.0.1, localhost) and a client certificate,
# valid 2000-2100, made with openssl for these tests only. Never use these keys for anything else.
CA_PEM = """\
-----BEGIN CERTIFICATE-----
MIIBbzCCARSgAwIBAgICEAAwCgYIKoZIzj0EAwIwHTEbMBkGA1UEAwwSbGVndGhl
cmFweSB0ZXN0IENBMCAXDTAwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAwMDAwWjAd
MRswGQYDVQQDDBJsZWd0aGVyYXB5IHRlc3QgQ0EwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASjdrXlc0YwIuRIp+IKTVlussrRZMzB4uaA6aLN7uMwpGle64iPuJBh
T6ZQTsb+qQ2BOp0IGTAyXOCa3IXo+ETwo0IwQDAPBgNVHRMBAf8EBTADAQH/MA4G
A1UdDwEB/wQEAwIBBjAdBgNVHQ4EFgQU1/FzYVuIuFGWIp+gW7f6blbO3fkwCgYI
KoZIzj0EAwIDSQAwRgIhANtvPWfMiNZbq4SuGOq6lusSiW3ax3f89Ti7pgATPm9O
AiEA8CZelgj/T4sTAJOmZ004eh6TVuddsa+fTbddnK5Xk6w=
-----END CERTIFICATE-----
"""
SERVER_PEM = """\
-----BEGIN CERTIFICATE-----
MIIBuzCCAWGgAwIBAgICEAEwCgYIKoZIzj0EAwIwHTEbMBkGA1UEAwwSbGVndGhl
cmFweSB0ZXN0IENBMCAXDTAwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAwMDAwWjAc
MRowGAYDVQQDDBFsZWd0aGVyYXB5LXNlcnZlcjBZMBMGByqGSM49AgEGCCqGSM49
AwEHA0IABDC0zX9SlZGZP+UIOEdkeTxOC1VVKZe7R8j+nBUv/Q9R+JZeMMCm8z+1
wtC821ug1ldExqhOW6zsoIpJ+LTX4JijgY8wgYwwCQYDVR0TBAIwADAOBgNVHQ8B
Af8EBAMCBaAwEwYDVR0lBAwwCgYIKwYBBQUHAwEwGgYDVR0RBBMwEYcEfwAAAYIJ
bG9jYWxob3N0MB8GA1UdIwQYMBaAFNfxc2FbiLhRliKfoFu3+m5Wzt35MB0GA1Ud
DgQWBBQzLw2gs8XTF17OX+J6KcF+dXH1bzAKBggqhkjOPQQDAgNIADBFAiEAhsWn
I5leaRe72FtR821+CsjpAdQWEgBd/rWBUvN+Kk4CIBJfxEA8Wq+pfGRljjTycFRQ
2wuecxz1oAEwu9ZpswPn
-----END CERTIFICATE-----
"""
SERVER_KEY = """\
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgkIJRXy7YEMqV71l5
96bfYBuMQBJITDscVk81xZCPu5GhRANCAAQwtM1/UpWRmT/lCDhHZHk8TgtVVSmX
u0fI/pwVL/0PUfiWXjDApvM/tcLQvNtboNZXRMaoTlus7KCKSfi01+CY
-----END PRIVATE KEY-----
"""
CLIENT_PEM = """\
-----BEGIN CERTIFICATE-----
MIIBnTCCAUOgAwIBAgICEAIwCgYIKoZIzj0EAwIwHTEbMBkGA1UEAwwSbGVndGhl
cmFweSB0ZXN0IENBMCAXDTAwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAwMDAwWjAc
MRowGAYDVQQDDBFsZWd0aGVyYXB5LWNsaWVudDBZMBMGByqGSM49AgEGCCqGSM49
AwEHA0IABNDYkCeIHfRcb8i0m3OEoTfiJ54oc2zkEvzy5Jqj6zX2OcQ3yAXau20j
voIHLcexBV4gq9ijqiMHTeFJbWjBL5yjcjBwMAkGA1UdEwQCMAAwDgYDVR0PAQH/
BAQDAgeAMBMGA1UdJQQMMAoGCCsGAQUFBwMCMB8GA1UdIwQYMBaAFNfxc2FbiLhR
liKfoFu3+m5Wzt35MB0GA1UdDgQWBBT0l/xFsOQaet/Mm/t+tMG1lIxADjAKBggq
hkjOPQQDAgNIADBFAiArRfWwiCnq8PZ9+KgocnJ/lfc83571gfZKHYgdF2YXggIh
ANQFe2rQFq+cg9JUnfO+jnaQItgO895bXbVaUOXtQrqf
-----END CERTIFICATE-----
"""
CLIENT_KEY = """\
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgjkUAcmwwud/t0o/y
00txJPMWMFXnF68z62sVFMXit8ChRANCAATQ2JAniB30XG/ItJtzhKE34ieeKHNs
5BL88uSao+s19jnEN8gF2rttI76CBy3HsQVeIKvYo6ojB03hSW1owS+c
-----END PRIVATE KEY-----
"""


def test_client_identity_will_and_clean_session():
    opts = client_options(MqttSettings(device_id="bedroom"), will_topic="legtherapy/bedroom/availability")
    assert opts["identifier"] == "legtherapy-bedroom"
    assert opts["will"] == aiomqtt.Will("legtherapy/bedroom/availability", b"offline", qos=1, retain=True)
    assert opts["clean_session"] is True, "commands sent while we were away must not be replayed"
    assert "tls_params" not in opts and opts["username"] is None
    custom = client_options(MqttSettings(client_id="my-id", username="u", password="p", host="broker.lan",
                                         port=8883), will_topic="x")
    assert (custom["identifier"], custom["username"], custom["password"]) == ("my-id", "u", "p")
    assert (custom["hostname"], custom["port"]) == ("broker.lan", 8883)


def test_tls_settings_become_aiomqtt_tls_parameters():
    tls = TlsSettings(ca_file="/etc/ca.pem", certfile="/etc/me.pem", keyfile="/etc/me.key")
    opts = client_options(MqttSettings(tls=tls), will_topic="x")
    assert opts["tls_params"] == aiomqtt.TLSParameters(ca_certs="/etc/ca.pem", certfile="/etc/me.pem",
                                                       keyfile="/etc/me.key")


def test_backoff_doubles_from_one_second_to_thirty_and_starts_over():
    backoff = Backoff(1.0, 30.0)
    assert [backoff.next() for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    backoff.reset()
    assert backoff.upcoming == 1 and backoff.next() == 1


def test_token_bucket_allows_a_burst_then_the_rate():
    now = [0.0]
    bucket = TokenBucket(rate=20, burst=40, clock=lambda: now[0])
    assert sum(bucket.take() for _ in range(100)) == 40
    now[0] += 0.5
    assert sum(bucket.take() for _ in range(100)) == 10
    now[0] += 100.0  # saving up never exceeds the burst
    assert sum(bucket.take() for _ in range(100)) == 40


def test_the_id_of_a_command_that_did_not_parse_is_still_found():
    assert _raw_id(b'{"id": "a1", "command": "dance"}', 4096) == "a1"
    assert _raw_id(b'{"id": 7}', 4096) == 7
    assert _raw_id(b'{"id": true}', 4096) is None
    assert _raw_id(b"not json", 4096) is None
    assert _raw_id(b'["id"]', 4096) is None
    assert _raw_id(b'{"id": "x"}' + b" " * 5000, 4096) is None, "oversized payloads are not parsed at all"


def test_state_json_is_strict_even_when_a_sensor_reads_nan():
    text = _to_json({"pads": {"a": {"temp_c": float("nan")}}, "x": [float("inf"), 1.5]})
    assert text == b'{"pads":{"a":{"temp_c":null}},"x":[null,1.5]}'


@pytest.fixture
def certs(tmp_path):
    paths = {}
    for name, text in (("ca.pem", CA_PEM), ("server.pem", SERVER_PEM), ("server.key", SERVER_KEY),
                       ("client.pem", CLIENT_PEM), ("client.key", CLIENT_KEY)):
        (tmp_path / name).write_text(text)
        paths[name] = str(tmp_path / name)
    return paths


async def run_bridge_until(settings, condition, timeout=15.0):
    hub = MachineHub()
    machine = FakeMachine(hub)
    bridge = MqttBridge(settings, hub, pad_names=PADS, chamber_names=CHAMBERS, roller_names=ROLLERS)
    tasks = [asyncio.create_task(machine.run()), asyncio.create_task(bridge.run())]
    try:
        async with asyncio.timeout(timeout):
            while not condition(bridge):
                assert not tasks[1].done(), "the bridge stopped"
                await asyncio.sleep(0.05)
        return bridge
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.looptime(False)
async def test_the_bridge_connects_over_tls_with_a_client_certificate(make_broker, certs):
    broker = make_broker(tls={"cafile": certs["ca.pem"], "certfile": certs["server.pem"],
                              "keyfile": certs["server.key"]})
    tls = TlsSettings(ca_file=certs["ca.pem"], certfile=certs["client.pem"], keyfile=certs["client.key"])
    settings = MqttSettings(host="127.0.0.1", port=broker.port, device_id="tls", tls=tls)
    bridge = await run_bridge_until(settings, lambda b: b.connected.is_set())
    assert bridge.stats["connections"] == 1

    # a broker certificate that our CA did not sign is refused, and the bridge keeps trying
    untrusted = settings.model_copy(update={"tls": TlsSettings()})  # system CAs only
    bridge = await run_bridge_until(untrusted, lambda b: b.stats["connect_failures"] >= 1)
    assert bridge.stats["connections"] == 0
