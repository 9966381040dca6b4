"""A link failure is read from its type and its protocol code where it happened, never from its text."""

from __future__ import annotations

import ssl

from edge_agent.core.errors import LinkError
from edge_agent.links.failures import describe, socket_error

# What a CONNACK, PUBACK or DISCONNECT code means is decided where it arrives (tests/links/test_client.py).


def test_a_connection_that_went_away_is_lost() -> None:
    reset = socket_error(ConnectionResetError(104, "Connection reset by peer"))
    assert reset.lost and not reset.refused and describe(reset).lost


def test_a_broker_certificate_that_does_not_verify_is_a_refusal() -> None:
    bad = ssl.SSLCertVerificationError(1, "certificate verify failed")
    bad.verify_message = "unable to get local issuer certificate"
    failure = describe(socket_error(bad))
    assert failure.refused and "unable to get local issuer certificate" in failure.text


def test_a_client_certificate_the_broker_refuses_is_a_refusal() -> None:
    alert = ssl.SSLError(1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required")
    alert.reason = "TLSV13_ALERT_CERTIFICATE_REQUIRED"
    assert describe(socket_error(alert)).refused


def test_words_in_a_message_decide_nothing() -> None:
    """A message that merely mentions certificates or disconnection is neither a refusal nor lost."""
    for text in ("CERTIFICATE_VERIFY_FAILED", "bad certificate", "Disconnected during message iteration"):
        for error in (LinkError(text), socket_error(OSError(text))):
            failure = describe(error)
            assert not failure.refused and not failure.lost and not failure.unexpected


def test_the_projects_own_errors_say_what_they_are() -> None:
    assert describe(LinkError("quota", retry_after=60.0)).retry_after == 60.0
    assert describe(LinkError("gone", lost=True)).lost
    assert describe(TimeoutError()).text == "TimeoutError: TimeoutError"
    assert not describe(FileNotFoundError(2, "No such file", "/dev/ttyUSB0")).unexpected  # a port not there


def test_anything_else_is_unexpected_and_its_traceback_is_logged_once() -> None:
    assert describe(ValueError("a bug")).unexpected
    assert describe(ExceptionGroup("several", [ValueError("x")])).unexpected
