"""The fleet tests use the MQTT tests' brokers (mosquitto, or amqtt where it is missing)."""

from tests.mqtt.conftest import make_broker, mqtt_broker, pytest_configure  # noqa: F401
