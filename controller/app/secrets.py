"""The MQTT password and TLS key, from where only the service user can read them.

The technicians' group may read the config (it is how they see the machine's wiring), so a
secret in it is readable by every technician. Where a secret comes from, first found wins:

1. a systemd credential (``LoadCredential=mqtt:/etc/legtherapy/credentials`` in the unit puts
   ``password`` and ``tls-key`` from that root-only folder into ``$CREDENTIALS_DIRECTORY`` as
   ``mqtt_password`` and ``mqtt_tls-key``, readable by this service alone);
2. ``password_file`` / ``tls.keyfile`` in the config, refused unless no one but its owner can
   read it (mode 0600 or stricter);
3. an inline ``password`` in the config: accepted with a warning.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from controller.model.config import ConfigError, MqttSettings, TlsSettings

log = logging.getLogger("legtherapy.secrets")

PASSWORD_CREDENTIAL = "mqtt_password"
TLS_KEY_CREDENTIAL = "mqtt_tls-key"
#: a password or key file is small; a bigger one is a mistake (a wrong path), not a secret
MAX_SECRET_BYTES = 64 * 1024


def _credential(environ: Mapping[str, str], name: str) -> Path | None:
    folder = environ.get("CREDENTIALS_DIRECTORY")
    if not folder:
        return None
    path = Path(folder) / name
    return path if path.is_file() else None


def _private_file(path: Path, what: str) -> Path:
    try:
        st = path.stat()
    except OSError as err:
        raise ConfigError(f"mqtt.{what} {path}: {err.strerror or err}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"mqtt.{what} {path}: not a regular file")
    if st.st_mode & 0o077:
        raise ConfigError(f"mqtt.{what} {path}: readable by group or others (mode 0{st.st_mode & 0o777:o}); "
                          f"chmod 600 it, or use the systemd credential")
    if st.st_size > MAX_SECRET_BYTES:
        raise ConfigError(f"mqtt.{what} {path}: {st.st_size} bytes is not a secret file")
    return path


def _read_secret(path: Path, what: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"mqtt.{what} {path}: cannot read it ({err})") from None
    return text.rstrip("\r\n")


def resolve_mqtt_secrets(settings: MqttSettings, environ: Mapping[str, str] | None = None) -> MqttSettings:
    """``settings`` with the password and TLS key taken from where they are kept safely."""
    environ = os.environ if environ is None else environ
    update: dict[str, object] = {}
    cred = _credential(environ, PASSWORD_CREDENTIAL)
    if cred is not None:
        update["password"] = _read_secret(cred, "password (credential)")
    elif settings.password_file:
        update["password"] = _read_secret(_private_file(Path(settings.password_file), "password_file"),
                                          "password_file")
    elif settings.password:
        log.warning("mqtt.password is inline in the config, which the technicians' group can read: "
                    "move it to a systemd credential or a 0600 password_file")
    key = _credential(environ, TLS_KEY_CREDENTIAL)
    if key is not None:
        update["tls"] = (settings.tls or TlsSettings()).model_copy(update={"keyfile": str(key)})
    elif settings.tls is not None and settings.tls.keyfile:
        _private_file(Path(settings.tls.keyfile), "tls.keyfile")
    return settings.model_copy(update=update) if update else settings
