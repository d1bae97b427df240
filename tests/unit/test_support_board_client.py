"""The api.php client: request shape, answers and errors as Support Board's api.php gives them."""

from __future__ import annotations

import json

import pytest

from emailpipe.connectors.support_board.client import SupportBoardClient, SupportBoardError


def _client(status: int, body: bytes | str, seen: list | None = None) -> SupportBoardClient:
    def transport(url, data, headers, timeout):
        if seen is not None:
            seen.append((url, json.loads(data), headers, timeout))
        return status, body.encode() if isinstance(body, str) else body

    return SupportBoardClient("https://chat.example/include/api.php", "tok", timeout=4, transport=transport)


def test_send_message_posts_json_with_function_and_token_and_returns_the_message_id():
    seen: list = []
    client = _client(200, json.dumps({"success": True, "response": {"id": 91, "queue": False}}), seen)

    assert client.send_message("3", "71", "Refunded.", [["a.pdf", "https://x/a.pdf"]]) == "91"
    url, body, headers, timeout = seen[0]
    assert body == {
        "function": "send-message",
        "token": "tok",
        "user_id": "3",
        "conversation_id": "71",
        "message": "Refunded.",
        "attachments": [["a.pdf", "https://x/a.pdf"]],
    }
    assert headers["Content-Type"] == "application/json" and timeout == 4


@pytest.mark.parametrize(
    ("status", "body", "code", "transient"),
    [
        (
            200,
            '{"status": "error", "response": "invalid-token", "message": "Use a token of an administrator."}',
            "invalid-token",
            False,
        ),
        (200, '{"success": false, "response": "duplicate-email"}', "duplicate-email", False),
        (200, "<br />\n<b>Notice</b>:  Conversation not found.", "invalid-response", False),
        (503, "busy", "http-503", True),
    ],
)
def test_refusals_and_failures_are_errors_with_api_php_s_code(status, body, code, transient):
    with pytest.raises(SupportBoardError) as caught:
        _client(status, body).send_message("3", "71", "x", [])

    assert (caught.value.code, caught.value.transient) == (code, transient)


def test_an_unreachable_server_is_a_transient_error_and_the_token_never_shows():
    def refused(url, data, headers, timeout):
        raise ConnectionRefusedError("refused")

    client = SupportBoardClient("https://chat.example/include/api.php", "secret-token", transport=refused)
    with pytest.raises(SupportBoardError) as caught:
        client.get_agents_ids()

    assert caught.value.transient and caught.value.code == "unreachable"
    assert "secret-token" not in repr(client) + str(caught.value)


def test_get_user_answers_none_for_false_and_agents_ids_as_strings():
    assert _client(200, '{"success": true, "response": false}').get_user("9") is None
    assert _client(200, '{"success": true, "response": [1, 2]}').get_agents_ids() == ["1", "2"]
