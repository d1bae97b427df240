"""Support Board's api.php over HTTP (urllib, a timeout on every call); the functions the connector uses.

api.php reads POST fields and merges a JSON body into them, answers `{"success": true, "response": ...}`, a
validation error `{"success": false, "response": <code>}`, or an error `{"status": "error", "response": <code>,
"message": ...}` (include/api.php, sb_api_success/sb_api_error). We send JSON so that booleans stay booleans.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TIMEOUT_SECONDS = 10.0


class SupportBoardError(Exception):
    """api.php refused a call, failed, or could not be reached; `code` is its error code or ours."""

    def __init__(self, function: str, code: str, message: str = "", *, transient: bool = False) -> None:
        super().__init__(f"{function}: {code}" + (f" ({message})" if message else ""))
        self.function = function
        self.code = code
        self.message = message
        self.transient = transient


Transport = Callable[[str, bytes, dict[str, str], float], tuple[int, bytes]]


def urllib_transport(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    """POST with the standard library: (status, body)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - the configured URL
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


@dataclass
class SupportBoardClient:
    """The admin-token client of one Support Board installation."""

    url: str
    token: str
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    transport: Transport = field(default=urllib_transport, repr=False)

    def __repr__(self) -> str:  # never show the token
        return f"SupportBoardClient(url={self.url!r})"

    def call(self, function: str, **arguments: Any) -> Any:
        """Call one api.php function; its `response` on success, SupportBoardError otherwise."""
        body = json.dumps({"function": function, "token": self.token, **arguments}).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "emailpipe"}
        try:
            status, raw = self.transport(self.url, body, headers, self.timeout)
        except (OSError, TimeoutError) as exc:  # refused, reset, DNS, timeout
            raise SupportBoardError(function, "unreachable", type(exc).__name__, transient=True) from exc
        if status >= 500 or status == 429:
            raise SupportBoardError(function, f"http-{status}", transient=True)
        try:
            answer = json.loads(raw.decode("utf-8", "replace"))
        except ValueError as exc:
            # A PHP warning instead of JSON, e.g. send-message into a conversation that does not exist.
            raise SupportBoardError(function, "invalid-response", f"HTTP {status}, not JSON") from exc
        if not isinstance(answer, dict):
            raise SupportBoardError(function, "invalid-response", f"HTTP {status}, not an object")
        if answer.get("status") == "error":
            raise SupportBoardError(function, str(answer.get("response")), str(answer.get("message") or ""))
        if answer.get("success") is not True:
            raise SupportBoardError(function, str(answer.get("response") or "failed"))
        return answer.get("response")

    # ------------------------------------------------------------ the functions used

    def get_user(self, user_id: str) -> dict[str, Any] | None:
        """A user row (get-user), or None when there is no such user."""
        user = self.call("get-user", user_id=user_id)
        return user if isinstance(user, dict) else None

    def get_user_by_email(self, email: str) -> dict[str, Any] | None:
        """The user with that email (get-user-by), or None."""
        user = self.call("get-user-by", by="email", value=email)
        return user if isinstance(user, dict) and user.get("id") else None

    def add_user(self, email: str, first_name: str, last_name: str) -> str:
        """Create a user (add-user) and return its id."""
        response = self.call("add-user", email=email, first_name=first_name, last_name=last_name, user_type="user")
        if isinstance(response, bool) or not str(response).isdigit():
            raise SupportBoardError("add-user", str(response))
        return str(response)

    def get_agents_ids(self) -> list[str]:
        """The ids of every agent and admin (get-agents-ids)."""
        response = self.call("get-agents-ids")
        return [str(i) for i in response or []]

    def get_online_agents(self) -> list[dict[str, Any]]:
        """The agents and admins online now (get-online-users with agents true)."""
        response = self.call("get-online-users", agents=True)
        return [u for u in response or [] if isinstance(u, dict)]

    def get_departments(self) -> Any:
        """`{id: {name, color, image}}` (get-departments)."""
        return self.call("get-departments") or {}

    def get_conversation(self, conversation_id: str) -> dict[str, Any]:
        """`{messages, details}` of a conversation (get-conversation)."""
        response = self.call("get-conversation", conversation_id=conversation_id)
        if not isinstance(response, dict) or not isinstance(response.get("details"), dict):
            raise SupportBoardError("get-conversation", "conversation-not-found")
        return response

    def new_conversation(self, user_id: str, title: str, department: str | None) -> str:
        """Open a conversation for a user (new-conversation) and return its id."""
        arguments: dict[str, Any] = {"user_id": user_id, "title": title}
        if department:
            arguments["department"] = department
        response = self.call("new-conversation", **arguments)
        details = response.get("details") if isinstance(response, dict) else None
        if not isinstance(details, dict) or not details.get("id"):
            raise SupportBoardError("new-conversation", "invalid-response")
        return str(details["id"])

    def send_message(self, user_id: str, conversation_id: str, message: str, attachments: list[list[str]]) -> str:
        """Post a message as `user_id` (send-message) and return the new message's id."""
        arguments: dict[str, Any] = {"user_id": user_id, "conversation_id": conversation_id, "message": message}
        if attachments:
            arguments["attachments"] = attachments
        response = self.call("send-message", **arguments)
        if not isinstance(response, dict) or not str(response.get("id", "")).isdigit():
            raise SupportBoardError("send-message", "invalid-response")
        return str(response["id"])
