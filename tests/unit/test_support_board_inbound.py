"""The webhook's checks that come before anything is stored: the body must be JSON, the key must match."""

from __future__ import annotations

import json

import pytest

from emailpipe.connectors.support_board import inbound, mapping


def _never() -> inbound.Connector:
    raise AssertionError("nothing is acted on before the key is checked")


def test_a_wrong_or_missing_key_is_refused_before_anything_is_recorded_or_done():
    body = {"function": "message-sent", "key": "guess", "data": {}, "sender-url": ""}

    with pytest.raises(inbound.UnauthorizedError):
        inbound.receive(json.dumps(body), "the-key", _never, lambda: 0.0)
    with pytest.raises(inbound.UnauthorizedError):
        inbound.receive(json.dumps({**body, "key": ""}), "", _never, lambda: 0.0)  # an empty configured key too


@pytest.mark.parametrize(
    ("raw", "field"),
    [(b"function=message-sent&key=k", "body"), (b"[1, 2]", "body"), (b'{"key": "k"}', "function")],
)
def test_a_body_support_board_would_not_send_names_what_is_wrong(raw, field):
    with pytest.raises(mapping.InvalidWebhookError) as caught:
        inbound.receive(raw, "k", _never, lambda: 0.0)

    assert caught.value.field == field


def test_the_kept_body_has_no_key_and_its_digest_is_stable():
    body = {"function": "login", "key": "secret-key", "data": {"b": 1, "a": 2}, "sender-url": ""}

    kept, digest = inbound.body_digest(body)
    again, same = inbound.body_digest(dict(reversed(list(body.items()))))

    assert "secret-key" not in kept and json.loads(kept)["data"] == {"a": 2, "b": 1}
    assert (kept, digest) == (again, same)
