"""The MQTT password and TLS key come from where only the service user can read them."""

import logging

import pytest

from controller.app.secrets import resolve_mqtt_secrets
from controller.model.config import ConfigError, MqttSettings, TlsSettings


def test_the_systemd_credential_wins(tmp_path):
    (tmp_path / "mqtt_password").write_text("s3cret\n")
    (tmp_path / "mqtt_tls-key").write_text("KEY")
    out = resolve_mqtt_secrets(MqttSettings(password="inline"), {"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert out.password == "s3cret"
    assert out.tls is not None and out.tls.keyfile == str(tmp_path / "mqtt_tls-key")


def test_a_private_password_file_is_read(tmp_path):
    f = tmp_path / "pw"
    f.write_text("pw-from-file\n")
    f.chmod(0o600)
    assert resolve_mqtt_secrets(MqttSettings(password_file=str(f)), {}).password == "pw-from-file"


@pytest.mark.parametrize("mode", [0o640, 0o644, 0o604, 0o660])
def test_a_password_file_the_technicians_can_read_is_refused(tmp_path, mode):
    f = tmp_path / "pw"
    f.write_text("pw")
    f.chmod(mode)
    with pytest.raises(ConfigError, match=r"mqtt\.password_file .*readable by group or others"):
        resolve_mqtt_secrets(MqttSettings(password_file=str(f)), {})


def test_a_group_readable_tls_key_is_refused(tmp_path):
    key = tmp_path / "key.pem"
    key.write_text("KEY")
    key.chmod(0o640)
    with pytest.raises(ConfigError, match=r"mqtt\.tls\.keyfile"):
        resolve_mqtt_secrets(MqttSettings(tls=TlsSettings(keyfile=str(key))), {})


def test_a_missing_password_file_names_it(tmp_path):
    with pytest.raises(ConfigError, match=r"mqtt\.password_file .*nope"):
        resolve_mqtt_secrets(MqttSettings(password_file=str(tmp_path / "nope")), {})


def test_an_inline_password_works_but_warns(caplog):
    with caplog.at_level(logging.WARNING):
        assert resolve_mqtt_secrets(MqttSettings(password="inline"), {}).password == "inline"
    assert "technicians' group can read" in caplog.text


