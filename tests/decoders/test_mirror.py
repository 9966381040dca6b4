"""Mirror events for sharing a look with friends (SPEC §16) decode, or are refused with a reason."""

from __future__ import annotations

import pytest

from edge_agent.core.errors import DecodeError
from edge_agent.decoders.mirror import decode_mirror


def test_sharing_events_carry_their_circle_nickname_and_vote() -> None:
    share = decode_mirror("m1", b'{"event": "share_start", "session_id": "s", "circle": "both", "nickname": "Ada"}')
    assert (share.circle, share.nickname) == ("both", "Ada")
    vote = decode_mirror("m1", b'{"event": "friend_vote", "session_id": "s", "sku": "C-1", "value": "other_size"}')
    assert (vote.sku, vote.value) == ("C-1", "other_size")
    assert decode_mirror("m1", b'{"event": "share_stop", "session_id": "s"}').event == "share_stop"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"event": "share_start", "session_id": "s"}', "missing_field"),
        (b'{"event": "share_start", "session_id": "s", "circle": "everyone"}', "bad_value"),
        (b'{"event": "share_start", "session_id": "s", "circle": "both", "nickname": "' + b"x" * 21 + b'"}',
         "bad_value"),
        (b'{"event": "friend_vote", "session_id": "s", "sku": "C", "value": "love"}', "bad_value"),
        (b'{"event": "friend_vote", "session_id": "s", "value": "up"}', "missing_field"),
    ],
)  # fmt: skip
def test_an_off_spec_sharing_event_is_refused(payload: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as refused:
        decode_mirror("m1", payload)
    assert refused.value.reason == reason
