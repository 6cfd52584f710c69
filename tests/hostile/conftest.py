"""The MQTT attack tests use the broker fixtures of tests/mqtt (mosquitto, or amqtt's broker)."""

from tests.mqtt.conftest import make_broker, mqtt_broker, rig  # noqa: F401 - pytest fixtures
