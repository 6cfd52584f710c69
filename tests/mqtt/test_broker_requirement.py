"""In CI a missing mosquitto fails the broker tests: never a quiet fallback to amqtt's broker."""

import pytest

from tests.mqtt import conftest


@pytest.mark.parametrize("env", [{"CI": "true"}, {"LEGTHERAPY_REQUIRE_MOSQUITTO": "1"}])
def test_where_mosquitto_is_required_its_absence_fails(monkeypatch, env):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("LEGTHERAPY_REQUIRE_MOSQUITTO", raising=False)
    monkeypatch.delenv("LEGTHERAPY_TEST_BROKER", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(conftest, "find_mosquitto", lambda: None)
    with pytest.raises(pytest.fail.Exception, match="mosquitto is required here"):
        conftest.broker_kind()
    monkeypatch.setenv("LEGTHERAPY_TEST_BROKER", "amqtt")
    monkeypatch.setattr(conftest, "find_mosquitto", lambda: "/usr/sbin/mosquitto")
    with pytest.raises(pytest.fail.Exception, match="contradicts"):
        conftest.broker_kind()
    monkeypatch.delenv("LEGTHERAPY_TEST_BROKER")
    assert conftest.broker_kind() == "mosquitto"


def test_elsewhere_the_fallback_is_allowed(monkeypatch):
    for key in ("CI", "LEGTHERAPY_REQUIRE_MOSQUITTO", "LEGTHERAPY_TEST_BROKER"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(conftest, "find_mosquitto", lambda: None)
    assert conftest.broker_kind() is None  # LocalBroker then runs amqtt's
