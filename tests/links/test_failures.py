"""A link failure is read from its type and its protocol code where it happened, never from its text."""

from __future__ import annotations

import ssl

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from edge_agent.core.errors import LinkError
from edge_agent.links.failures import describe, link_error
from edge_agent.links.wire import LOST_CODES, REFUSED_CODES


def raised_by_aiomqtt(cause: BaseException, text: str) -> aiomqtt.MqttError:
    """What aiomqtt's `__aenter__` raises for a socket error: `MqttError(str(error)) from None`."""
    try:
        try:
            raise cause
        except OSError as exc:
            raise aiomqtt.MqttError(text or str(exc)) from None
    except aiomqtt.MqttError as error:
        return error


@pytest.mark.parametrize("code", sorted(REFUSED_CODES))
def test_every_refusing_connack_code_is_a_refusal_with_its_code(code: int) -> None:
    packet = PacketTypes.CONNACK
    rc = code if code < 0x80 else ReasonCode(packet, identifier=code)  # type: ignore[no-untyped-call]
    error = link_error(aiomqtt.MqttCodeError(rc, "Could not connect"))
    assert error.refused and not error.lost and error.code == code
    assert describe(aiomqtt.MqttCodeError(rc, "Could not connect")).refused


@pytest.mark.parametrize("code", [1, 3, 0x80, 0x88, 0x89, 0x97])
def test_other_connack_codes_are_retried_at_the_normal_pace(code: int) -> None:
    rc = code if code < 0x80 else ReasonCode(PacketTypes.CONNACK, identifier=code)  # type: ignore[no-untyped-call]
    failure = describe(aiomqtt.MqttCodeError(rc, "Could not connect"))
    assert not failure.refused and not failure.unexpected


def test_a_connection_that_went_away_under_a_working_session_is_lost() -> None:
    (code,) = LOST_CODES
    assert describe(aiomqtt.MqttCodeError(code, "Unexpected disconnection")).lost
    reset = raised_by_aiomqtt(ConnectionResetError(104, "Connection reset by peer"), "")
    assert link_error(reset).lost and describe(reset).lost


def test_a_broker_certificate_that_does_not_verify_is_a_refusal() -> None:
    bad = ssl.SSLCertVerificationError(1, "certificate verify failed")
    bad.verify_message = "unable to get local issuer certificate"
    error = raised_by_aiomqtt(bad, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    failure = describe(error)
    assert failure.refused and "unable to get local issuer certificate" in failure.text


def test_a_client_certificate_the_broker_refuses_is_a_refusal() -> None:
    alert = ssl.SSLError(1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required")
    alert.reason = "TLSV13_ALERT_CERTIFICATE_REQUIRED"
    assert describe(raised_by_aiomqtt(alert, "")).refused


def test_words_in_a_message_decide_nothing() -> None:
    """A message that merely mentions certificates or disconnection is neither a refusal nor lost."""
    for text in ("CERTIFICATE_VERIFY_FAILED", "bad certificate", "Disconnected during message iteration"):
        failure = describe(aiomqtt.MqttError(text))
        assert not failure.refused and not failure.lost and not failure.unexpected
        assert failure.text == text


def test_the_projects_own_errors_say_what_they_are() -> None:
    assert describe(LinkError("quota", retry_after=60.0)).retry_after == 60.0
    assert describe(LinkError("gone", lost=True)).lost
    assert describe(TimeoutError()).text == "TimeoutError: TimeoutError"
    assert not describe(FileNotFoundError(2, "No such file", "/dev/ttyUSB0")).unexpected  # a port not there


def test_anything_else_is_unexpected_and_its_traceback_is_logged_once() -> None:
    assert describe(ValueError("a bug")).unexpected
    assert describe(ExceptionGroup("several", [ValueError("x")])).unexpected
