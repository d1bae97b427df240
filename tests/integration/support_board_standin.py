"""A stand-in for Support Board: the subset of api.php and of its webhooks that the connector uses.

Written from Support Board's public source (include/api.php, include/ajax.php, the sb_webhooks function of
include/functions.php, sb_send_message and sb_new_conversation in include/functions_messages.php, sb_get_user and
the presence functions in include/functions_users.php; docs/support-board.md lists each behaviour and its source).
A real http.server on 127.0.0.1 that keeps its own users, departments, conversations and messages, and fires
webhooks at a URL the way Support Board does: one JSON POST `{function, key, data, sender-url}`, synchronously,
from inside the request that caused it (so the echo of a send-message arrives before send-message returns).
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

ONLINE_SECONDS = 30  # sb_is_online: last_activity within the last 30 seconds


def _now_text(ts: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if ts is None else ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


class _ApiError(Exception):
    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.message = message


# Required arguments per function, as api.php's $functions lists them (only the functions implemented here).
REQUIRED = {
    "get-user": ["user_id"],
    "get-user-by": ["by", "value"],
    "add-user": [],
    "get-agents-ids": [],
    "get-online-users": [],
    "get-departments": [],
    "get-conversation": ["conversation_id"],
    "new-conversation": ["user_id"],
    "send-message": ["user_id", "conversation_id"],
    "update-conversation-status": ["conversation_id", "status_code"],
    "is-online": ["user_id"],
}


@dataclass
class Webhook:
    """One webhook the stand-in sent, and how the receiver answered."""

    function: str
    body: dict[str, Any]
    status: int | None
    response: str


@dataclass
class SupportBoardStandin:
    """Support Board's state and its api.php/webhook behaviour."""

    admin_token: str = "admin-token-0123456789"
    webhook_key: str = "sb-webhook-key-0123456789"
    webhook_url: str | None = None
    webhooks_allowed: str = ""  # the "Active webhooks" setting: empty = all
    # Simulates Support Board dying inside the next send-message: the message is stored, then the connection drops
    # (no webhook, no answer).
    die_after_next_store: bool = False
    api_down: bool = False  # api.php answers 500 (the database is down, say); webhooks still go out
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    departments: dict[int, dict[str, str]] = field(default_factory=dict)
    conversations: dict[int, dict[str, Any]] = field(default_factory=dict)
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[Webhook] = field(default_factory=list)
    _ids: dict[str, int] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------ the server

    def start(self) -> SupportBoardStandin:
        """Serve api.php on a free port of 127.0.0.1."""
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    status, body, content_type = standin._serve(self.path, self.headers.get("Content-Type", ""), raw)
                except _Died:
                    self.close_connection = True
                    return
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def api_url(self) -> str:
        """The URL of api.php."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/supportboard/include/api.php"

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def reset(self) -> None:
        """Forget every user, conversation, message, call and webhook (between tests)."""
        with self._lock:
            for store in (self.users, self.departments, self.conversations, self.messages, self._ids):
                store.clear()
            self.calls.clear()
            self.webhooks.clear()
            self.webhook_url = None
            self.webhooks_allowed = ""
            self.die_after_next_store = False
            self.api_down = False

    def _serve(self, path: str, content_type: str, raw: bytes) -> tuple[int, bytes, str]:
        if not path.split("?")[0].endswith("/api.php"):
            return 404, b"not found", "text/plain"
        if self.api_down:
            return 500, b"Internal Server Error", "text/html"
        # api.php: $_POST (form fields), merged with a JSON body when there is one.
        post: dict[str, Any] = {}
        if "application/x-www-form-urlencoded" in content_type:
            post = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8")).items()}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if isinstance(body, dict):
            post.update(body)
        if "function" not in post:
            answer = {"status": "error", "response": "missing-function-name", "message": "Function name is required."}
            return 200, json.dumps(answer).encode(), "application/json"
        function = str(post["function"])
        with self._lock:
            self.calls.append({k: v for k, v in post.items() if k != "token"})
        try:
            if function not in REQUIRED:
                raise _ApiError("function-not-found", f"Function {function} not found.")
            if "token" not in post:
                raise _ApiError("token-not-found", "Admin token is required.")
            if not self._is_admin_token(str(post["token"])):
                raise _ApiError("invalid-token", "Use a token of an administrator.")
            for name in REQUIRED[function]:
                if name not in post:
                    raise _ApiError("missing-argument", f"Missing argument: {name}")
            for name in ("attachments", "payload"):  # api.php decodes these JSON strings for send-message
                if isinstance(post.get(name), str) and post[name]:
                    post[name] = json.loads(post[name])
            result = getattr(self, "_api_" + function.replace("-", "_"))(post)
        except _ApiError as exc:
            answer = {"status": "error", "response": exc.code}
            if exc.message:
                answer["message"] = exc.message
            return 200, json.dumps(answer).encode(), "application/json"
        except _PhpWarning as warning:
            return 200, str(warning).encode(), "text/html"
        if isinstance(result, _ValidationError):  # sb_api_success with an SBValidationError
            return 200, json.dumps({"success": False, "response": result.code}).encode(), "application/json"
        return 200, json.dumps({"success": True, "response": result}).encode(), "application/json"

    def _is_admin_token(self, token: str) -> bool:
        with self._lock:
            return any(u["token"] == token and u["user_type"] == "admin" for u in self.users.values())

    # ------------------------------------------------------------ api.php functions

    def _api_get_user(self, post: dict[str, Any]) -> Any:
        user = self.users.get(_int(post["user_id"]))
        return dict(user) if user else False

    def _api_get_user_by(self, post: dict[str, Any]) -> Any:
        if post["by"] != "email" or not post["value"]:
            return False
        for user in self.users.values():
            if user["email"] == post["value"]:
                return _public(user)
        return None

    def _api_add_user(self, post: dict[str, Any]) -> Any:
        email = post.get("email") or ""
        if email and any(u["email"] == email for u in self.users.values()):
            return _ValidationError("duplicate-email")
        return self.add_user(
            post.get("first_name") or "User",
            post.get("last_name") or "",
            email or None,
            post.get("user_type") or ("user" if email else "visitor"),
            _int(post.get("department")) or None,
        )

    def _api_get_agents_ids(self, post: dict[str, Any]) -> Any:
        admins = post.get("admins", True) not in (False, "false", 0, "0")
        types = {"agent", "admin"} if admins else {"agent"}
        return [uid for uid, u in sorted(self.users.items()) if u["user_type"] in types]

    def _api_get_online_users(self, post: dict[str, Any]) -> Any:
        agents = post.get("agents")
        if agents is True:
            types = {"agent", "admin"}
        elif agents:
            types = {str(agents)}  # sb_get_online_user_ids: user_type = "<agents>"
        else:
            types = {"visitor", "lead", "user"}
        return [_public(u) for u in self.users.values() if u["user_type"] in types and self._online(u)]

    def _api_is_online(self, post: dict[str, Any]) -> Any:
        user = self.users.get(_int(post["user_id"]))
        return bool(user and self._online(user))

    def _api_get_departments(self, post: dict[str, Any]) -> Any:
        return {str(k): dict(v) for k, v in self.departments.items()}

    def _api_get_conversation(self, post: dict[str, Any]) -> Any:
        return self.conversation_view(_int(post["conversation_id"])) or False

    def _api_new_conversation(self, post: dict[str, Any]) -> Any:
        user_id = _int(post["user_id"])
        if user_id not in self.users:
            return _ValidationError("user-not-found")
        status = post.get("status_code")
        status = 2 if status in (None, "", False, -1, "-1") else _int(status)  # sb_new_conversation's default
        return self.new_conversation(
            user_id, str(post.get("title") or ""), _int(post.get("department")) or None, status
        )

    def _api_send_message(self, post: dict[str, Any]) -> Any:
        conversation_id = _int(post["conversation_id"])
        if conversation_id not in self.conversations:
            # sb_send_message: trigger_error('Conversation not found.') - a PHP warning, not JSON.
            raise _PhpWarning("<br />\n<b>Notice</b>:  Conversation not found. in functions_messages.php<br />")
        return self.send_message(
            _int(post["user_id"]),
            conversation_id,
            str(post.get("message") or ""),
            post.get("attachments") or [],
            post.get("conversation_status_code", -1),
        )

    def _api_update_conversation_status(self, post: dict[str, Any]) -> Any:
        status = _int(post["status_code"])
        if status not in (0, 1, 2, 3, 4):
            return _ValidationError("invalid-status-code")
        conversation_id = _int(post["conversation_id"])
        self.conversations[conversation_id]["status_code"] = status
        self.fire("conversation-status-updated", {"conversation_id": conversation_id, "status_code": status})
        return True

    # ------------------------------------------------------------ what Support Board does

    def _next(self, kind: str) -> int:
        with self._lock:
            self._ids[kind] = self._ids.get(kind, 0) + 1
            return self._ids[kind]

    def add_user(
        self,
        first_name: str,
        last_name: str,
        email: str | None,
        user_type: str = "user",
        department: int | None = None,
        token: str | None = None,
    ) -> int:
        """A user row as sb_add_user inserts it (SELECT_FROM_USERS plus the password hash)."""
        user_id = self._next("user")
        self.users[user_id] = {
            "id": user_id,
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "profile_image": "",
            "user_type": user_type,
            "creation_time": _now_text(),
            "last_activity": _now_text(time.time() - 3600),
            "department": department,
            "token": token or f"token-{user_id}-{int(time.time() * 1000)}",
            "password": "$2y$10$hash",
        }
        return user_id

    def add_department(self, name: str) -> int:
        """A department of the departments setting."""
        department_id = self._next("department")
        self.departments[department_id] = {"name": name, "color": "", "image": ""}
        return department_id

    def set_online(self, user_id: int, online: bool) -> None:
        """Move last_activity into or out of the 30-second online window."""
        self.users[user_id]["last_activity"] = _now_text(time.time() - (0 if online else 3600))

    def _online(self, user: dict[str, Any]) -> bool:
        seen = datetime.strptime(user["last_activity"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
        return seen > time.time() - ONLINE_SECONDS

    def new_conversation(self, user_id: int, title: str = "", department: int | None = None, status: int = 2) -> Any:
        """sb_new_conversation: the row, then new-conversation-created with sb_get_conversation's result."""
        conversation_id = self._next("conversation")
        self.conversations[conversation_id] = {
            "id": conversation_id,
            "user_id": user_id,
            "title": title[:1].upper() + title[1:],
            "status_code": status,
            "creation_time": _now_text(),
            "department": department,
            "agent_id": None,
            "source": None,
            "extra": None,
            "tags": None,
        }
        view = self.conversation_view(conversation_id)
        self.fire("new-conversation-created", view)
        return view

    def conversation_view(self, conversation_id: int) -> dict[str, Any] | None:
        """sb_get_conversation: {messages, details} (details: the user's name fields and the conversation row)."""
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            return None
        user = self.users[conversation["user_id"]]
        details = {
            "user_id": user["id"],
            "first_name": user["first_name"],
            "last_name": user["last_name"],
            "profile_image": user["profile_image"],
            "user_type": user["user_type"],
            **conversation,
            "busy": False,
            "tags": [],
        }
        messages = []
        for message in sorted(self.messages.values(), key=lambda m: m["id"]):
            if message["conversation_id"] == conversation_id:
                sender = self.users[message["user_id"]]
                messages.append(
                    {
                        **message,
                        "first_name": sender["first_name"],
                        "last_name": sender["last_name"],
                        "profile_image": sender["profile_image"],
                        "user_type": sender["user_type"],
                    }
                )
        return {"messages": messages, "details": details}

    def send_message(
        self,
        sender_id: int,
        conversation_id: int,
        message: str,
        attachments: list[list[str]] | None = None,
        conversation_status_code: Any = -1,
    ) -> dict[str, Any]:
        """sb_send_message: store, update the status, then fire message-sent, all before answering."""
        conversation = self.conversations[conversation_id]
        sender = self.users[sender_id]
        is_agent = sender["user_type"] in ("agent", "admin")
        # sb_send_message rewrites blanks: \r and tabs to \n, three or more newlines to two.
        message = re.sub(r"\n{3,}", "\n\n", message.replace("\r", "\n").replace("\t", "\n"))
        message_id = self._next("message")
        attachments = [list(a) for a in attachments or []]
        self.messages[message_id] = {
            "id": message_id,
            "user_id": sender_id,
            "message": message,
            "creation_time": _now_text(),
            "status_code": 0,
            "attachments": json.dumps(attachments) if attachments else "",
            "payload": "",
            "conversation_id": conversation_id,
        }
        if self.die_after_next_store:
            self.die_after_next_store = False
            raise _Died
        code = _int(conversation_status_code) if str(conversation_status_code).lstrip("-").isdigit() else -1
        if code not in (0, 1, 2, 3, 4):
            code = 1 if is_agent else 2
        if code != conversation["status_code"]:
            conversation["status_code"] = code
            self.fire("conversation-status-updated", {"conversation_id": conversation_id, "status_code": code})
        self.fire(
            "message-sent",
            {
                "user_id": sender_id,
                "message_id": message_id,
                "message": message,
                "attachments": attachments,
                "conversation_user_id": conversation["user_id"],
                "conversation_id": conversation_id,
                "conversation_status_code": code,
                "conversation_source": conversation["source"],
            },
        )
        return {
            "id": message_id,
            "queue": False,
            "human_takeover_active": False,
            "notifications": [],
            "message": message,
        }

    def fire(self, function: str, data: Any, sender_url: str = "") -> Webhook | None:
        """sb_webhooks: one JSON POST to the webhook URL, 7 s timeout, no retry; None when not active."""
        if not self.webhook_url:
            return None
        allowed = [w for w in self.webhooks_allowed.replace(" ", "").split(",") if w]
        if allowed and function not in allowed:
            return None
        body = {"function": function, "key": self.webhook_key, "data": data, "sender-url": sender_url}
        return self.post_webhook(body)

    def post_webhook(self, body: dict[str, Any], raw: bytes | None = None) -> Webhook:
        """POST a webhook body as sb_curl does (also used by tests to send malformed ones)."""
        assert self.webhook_url is not None
        payload = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(  # noqa: S310 - loopback
            self.webhook_url,
            data=payload,
            headers={"Content-Type": "application/json", "User-Agent": "SB"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=7) as response:  # noqa: S310
                status, text = int(response.status), response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status, text = int(exc.code), exc.read().decode("utf-8", "replace")
        except OSError as exc:
            status, text = None, f"{type(exc).__name__}: {exc}"
        webhook = Webhook(str(body.get("function", "")), body, status, text)
        with self._lock:
            self.webhooks.append(webhook)
        return webhook

    def calls_of(self, function: str) -> list[dict[str, Any]]:
        """The api.php calls of one function, oldest first (without the token)."""
        with self._lock:
            return [c for c in self.calls if c.get("function") == function]

    def messages_in(self, conversation_id: int) -> list[dict[str, Any]]:
        """The stored messages of a conversation, oldest first."""
        view = self.conversation_view(conversation_id)
        return view["messages"] if view else []


class _Died(Exception):
    """The PHP process ended in the middle of a request."""


class _PhpWarning(Exception):
    """What PHP prints instead of JSON when a function triggers an error."""


@dataclass
class _ValidationError:
    code: str


def _int(value: Any) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        return 0


def _public(user: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in user.items() if k != "password"}
