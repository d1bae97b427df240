"""IMAP (imaplib) and POP3 (poplib) sessions over verified TLS, behind the logic's MailboxClient interface."""

from __future__ import annotations

import base64
import binascii
import contextlib
import email.utils
import hashlib
import imaplib
import poplib
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from emailpipe.ingress.logic import Listed, MailboxClient, MailboxError, MessageError, RemoteMessage
from emailpipe.ingress.settings import MailboxSettings

COPIED_KEYWORD = "$EmailpipeCopied"
# imaplib refuses response lines over 1 MB; a first SEARCH of a big folder lists more UIDs than that.
imaplib._MAXLINE = max(imaplib._MAXLINE, 20_000_000)  # type: ignore[attr-defined]
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_FETCH_ITEM = re.compile(rb"(UID|RFC822\.SIZE) (\d+)")
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')
_SAFE_UIDL = re.compile(r"^[A-Za-z0-9._-]{1,70}$")


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """A client context that verifies the server's certificate and name (against `ca_bundle` PEM when given)."""
    context = ssl.create_default_context(cadata=ca_bundle) if ca_bundle else ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list | tuple):
        return " ".join(_text(v) for v in value)
    return str(value)


@contextmanager
def _connection_errors(stage: str) -> Iterator[None]:
    """Turn network and TLS exceptions into a MailboxError with a reason an operator can act on."""
    try:
        yield
    except MailboxError:
        raise
    except ssl.SSLCertVerificationError as exc:
        raise MailboxError("tls_failed", exc.verify_message or str(exc)) from exc
    except ssl.SSLError as exc:
        raise MailboxError("tls_failed", str(exc)) from exc
    except TimeoutError as exc:
        raise MailboxError("timeout" if stage != "connect" else "unreachable", f"{stage}: timed out") from exc
    except socket.gaierror as exc:
        raise MailboxError("unreachable", f"name lookup failed: {exc}") from exc
    except (imaplib.IMAP4.abort, EOFError, OSError) as exc:
        raise MailboxError("unreachable" if stage == "connect" else "connection_lost", f"{stage}: {exc}") from exc
    except (imaplib.IMAP4.error, poplib.error_proto) as exc:
        raise MailboxError("protocol_error", f"{stage}: {_text(exc.args)}"[:300]) from exc


@dataclass(frozen=True, slots=True)
class Login:
    """How a session logged in (what `emailpipe mailbox test` prints): the method and the token's expiry."""

    method: str  # LOGIN / USER+PASS (password), OAUTHBEARER or XOAUTH2
    token_expires_at: float | None = None
    via: str = "password"  # the token's source (OAuthSettings.label) for an OAuth login


# When the server refuses a token, what the operator should check (the token endpoint said yes, the mail server no).
_REFUSED_TOKEN_HINT = {
    "microsoft": "the app needs the {perm} application permission with admin consent, a service principal in "
    "Exchange Online (New-ServicePrincipal) and FullAccess to this mailbox (Add-MailboxPermission)",
    "google": "the token's scope must include https://mail.google.com/ and the user must have IMAP/POP enabled",
}


def _oauth_login(
    settings: MailboxSettings, offered: set[str] | None, authenticate: Callable[[str, bytes], str | None]
) -> Login:
    """Log in with a token: one SASL exchange; a cached token the server refuses is replaced once and tried again.

    `authenticate(mechanism, initial response)` runs the exchange and returns None, or the server's refusal;
    `offered` is None when the server does not say which mechanisms it has."""
    from emailpipe.ingress import oauth

    config = settings.oauth
    assert config is not None
    mechanism = oauth.choose_mechanism(offered, config.mechanism)
    token = oauth.access_token(config, settings.username, timeout=settings.timeout)
    refusal = authenticate(
        mechanism, oauth.sasl_response(mechanism, settings.username, token.token, settings.host, settings.port)
    )
    if refusal is not None and not token.fresh:
        # Revoked or expired early (a password change, a policy): ask the provider for a new one, once.
        token = oauth.access_token(config, settings.username, timeout=settings.timeout, renew=True)
        refusal = authenticate(
            mechanism, oauth.sasl_response(mechanism, settings.username, token.token, settings.host, settings.port)
        )
    if refusal is not None:
        oauth.forget(config, settings.username)
        perm = "IMAP.AccessAsApp" if settings.protocol == "imap" else "POP.AccessAsApp"
        hint = _REFUSED_TOKEN_HINT[config.provider].format(perm=perm)
        raise MailboxError("auth_failed", f"the server refused the {mechanism} token: {refusal}; {hint}"[:500])
    return Login(mechanism, token.expires_at, config.label)


def _sasl_refusal(challenges: list[bytes], final: str) -> str:
    """The server's reason: its decoded error challenges (a JSON status for XOAUTH2 and OAUTHBEARER), then its
    final reply."""
    parts = [c.decode("utf-8", "replace").strip() for c in challenges]
    return " ".join([*(p for p in parts if p), final.strip()])[:300]


def _b64decode(data: bytes) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return data


def connect(settings: MailboxSettings) -> MailboxClient:
    """A logged-in session on the configured folder, or a MailboxError saying why not."""
    if settings.protocol == "pop3":
        return Pop3Mailbox.open(settings)
    return ImapMailbox.open(settings)


def _quote(mailbox: str) -> str:
    # imaplib sends arguments verbatim; a folder name with a space or quote must be a quoted string.
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapMailbox:
    """One folder of an IMAP mailbox, selected read-write."""

    def __init__(self, conn: imaplib.IMAP4, settings: MailboxSettings, uidvalidity: str, keywords: bool) -> None:
        self._conn = conn
        self._settings = settings
        self.uidvalidity = uidvalidity
        self.state_prefix = f"UID#{uidvalidity}#"
        # With keywords the flag mode can leave flagged mail out of the listing; without (a server refusing
        # custom keywords) flagged mail is still listed and only the recorded state says it is done.
        self._keywords = keywords
        self.lists_handled = settings.mark == "flag" and not keywords
        self._capabilities: set[str] = set()
        self.login = Login("LOGIN")

    @classmethod
    def open(cls, settings: MailboxSettings) -> ImapMailbox:
        """Connect, log in and select the folder."""
        context = tls_context(settings.ca_bundle)
        with _connection_errors("connect"):
            if settings.tls == "ssl":
                conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    settings.host, settings.port, ssl_context=context, timeout=settings.timeout
                )
            else:
                conn = imaplib.IMAP4(settings.host, settings.port, timeout=settings.timeout)
                try:
                    conn.starttls(context)
                except imaplib.IMAP4.error as exc:
                    raise MailboxError("tls_failed", f"STARTTLS refused: {_text(exc.args)}") from exc
        try:
            with _connection_errors("login"):
                login = _imap_login(conn, settings)
                typ, data = conn.select(_quote(settings.folder))
                if typ != "OK":
                    raise MailboxError("folder_missing", _text(data)[:300])
                uidvalidity = _text(conn.untagged_responses.get("UIDVALIDITY", [b""])[-1]).strip()
                permanent = _text(conn.untagged_responses.get("PERMANENTFLAGS", [b""])[-1])
                typ, data = conn.capability()
                capabilities = set(_text(data).upper().split()) if typ == "OK" else set()
        except MailboxError:
            _logout_quietly(conn)
            raise
        if not uidvalidity.isdigit():
            _logout_quietly(conn)
            raise MailboxError("protocol_error", "the server sent no UIDVALIDITY")
        mailbox = cls(conn, settings, uidvalidity, keywords="\\*" in permanent)
        mailbox._capabilities = capabilities
        mailbox.login = login
        return mailbox

    def _uid(self, command: str, *args: str, reason: str = "") -> list[Any]:
        with _connection_errors(command.lower()):
            typ, data = self._conn.uid(command, *args)
        if typ != "OK":
            raise MessageError(reason or f"{command.lower()}_failed", _text(data)[:300])
        return list(data)

    def list_new(self, after_uid: int, since: float | None) -> list[Listed]:
        """UIDs above the high-water mark (arrived since the start date, not flagged copied), ascending."""
        criteria = ["UID", f"{after_uid + 1}:*"]
        if since:
            # SEARCH SINCE has day granularity in the server's time zone: ask a day early, filter exactly later.
            day = datetime.fromtimestamp(since, UTC) - timedelta(days=1)
            criteria += ["SINCE", f"{day.day:02d}-{_MONTHS[day.month - 1]}-{day.year}"]
        if self._settings.mark == "flag" and self._keywords:
            criteria += ["UNKEYWORD", COPIED_KEYWORD]
        try:
            data = self._uid("SEARCH", *criteria)
        except MessageError as exc:
            raise MailboxError("protocol_error", str(exc)) from exc
        # "n:*" always includes the highest UID, even below n: keep only UIDs really above the mark.
        uids = sorted({int(u) for u in _text(data).split() if u.isdigit() and int(u) > after_uid})
        return [Listed(key=f"{self.state_prefix}{uid:010d}", uid=uid) for uid in uids]

    def describe(self, listed: Sequence[Listed]) -> list[RemoteMessage]:
        """Size and INTERNALDATE of each listed UID (one FETCH); a UID expunged meanwhile is left out."""
        if not listed:
            return []
        try:
            data = self._uid("FETCH", ",".join(str(item.uid) for item in listed), "(UID RFC822.SIZE INTERNALDATE)")
        except MessageError as exc:
            raise MailboxError("protocol_error", str(exc)) from exc
        found: dict[int, RemoteMessage] = {}
        for line in data:
            raw = line[0] if isinstance(line, tuple) else line
            if not isinstance(raw, bytes):
                continue
            items = {name: int(value) for name, value in _FETCH_ITEM.findall(raw)}
            if b"UID" not in items:
                continue
            uid = items[b"UID"]
            internal = imaplib.Internaldate2tuple(raw) if _INTERNALDATE.search(raw) else None
            found[uid] = RemoteMessage(
                key=f"{self.state_prefix}{uid:010d}",
                name=f"{self.uidvalidity}-{uid}",
                ref=str(uid),
                size=items.get(b"RFC822.SIZE", 0),
                received_at=time.mktime(internal) if internal else None,
                uid=uid,
            )
        return [found[item.uid] for item in listed if item.uid in found]

    def fetch(self, message: RemoteMessage) -> bytes:
        """The message's bytes (BODY.PEEK, so fetching alone does not mark it read)."""
        data = self._uid("FETCH", message.ref, "(BODY.PEEK[])")
        for part in data:
            if isinstance(part, tuple) and len(part) == 2 and b"BODY[]" in part[0]:
                return bytes(part[1])
        raise MessageError("fetch_failed", "the message is gone from the folder")

    def mark_handled(self, message: RemoteMessage) -> None:
        """Flag the message (seen + $EmailpipeCopied) or move it to the configured folder."""
        if self._settings.mark == "move" and self._settings.move_to:
            self._move(message.ref, _quote(self._settings.move_to))
            return
        flags = f"(\\Seen {COPIED_KEYWORD})" if self._keywords else "(\\Seen)"
        self._uid("STORE", message.ref, "+FLAGS.SILENT", flags, reason="mark_failed")

    def _move(self, uid: str, target: str) -> None:
        def attempt() -> tuple[str, str]:
            with _connection_errors("move"):
                if "MOVE" in self._capabilities:
                    typ, data = self._conn.uid("MOVE", uid, target)
                else:
                    typ, data = self._conn.uid("COPY", uid, target)
            return typ, _text(data)

        typ, text = attempt()
        if typ != "OK" and "TRYCREATE" in text.upper():
            with _connection_errors("create"):
                self._conn.create(target)
            typ, text = attempt()
        if typ != "OK":
            raise MessageError("mark_failed", text[:300])
        if "MOVE" not in self._capabilities:
            # COPY then delete; without UIDPLUS a plain EXPUNGE would also purge mail someone else marked
            # deleted, so the original then waits, flagged, for the user's own expunge.
            self._uid("STORE", uid, "+FLAGS.SILENT", f"(\\Deleted {COPIED_KEYWORD})", reason="mark_failed")
            if "UIDPLUS" in self._capabilities:
                self._uid("EXPUNGE", uid, reason="mark_failed")

    def close(self) -> None:
        """Log out (no CLOSE: that would expunge messages other clients marked deleted)."""
        _logout_quietly(self._conn)


def _imap_login(conn: imaplib.IMAP4, settings: MailboxSettings) -> Login:
    if settings.oauth is None:
        try:
            conn.login(settings.username, settings.password)
        except imaplib.IMAP4.error as exc:
            raise MailboxError("auth_failed", _text(exc.args)[:300]) from exc
        return Login("LOGIN")
    offered = {c.upper().removeprefix("AUTH=") for c in conn.capabilities if c.upper().startswith("AUTH=")}

    def authenticate(mechanism: str, response: bytes) -> str | None:
        challenges: list[bytes] = []

        def respond(challenge: bytes) -> bytes:
            # imaplib hands over each decoded challenge. The first asks for the initial response; a later one is
            # the server's error, answered as the mechanism says, a bounded number of times.
            challenges.append(challenge)
            if len(challenges) == 1:
                return response
            if len(challenges) > _SASL_ROUNDS:
                raise MailboxError("protocol_error", "the server kept the SASL exchange going")
            return _error_answer(mechanism)

        try:
            conn.authenticate(mechanism, respond)
        except imaplib.IMAP4.abort:
            raise  # the connection broke: connection_lost, not a refused token
        except imaplib.IMAP4.error as exc:
            return _sasl_refusal(challenges[1:], _text(exc.args))
        except binascii.Error as exc:
            raise MailboxError("protocol_error", "the server's SASL challenge is not base64") from exc
        return None

    return _oauth_login(settings, offered, authenticate)


# A server's error challenge ends the exchange after one answer; a server that keeps sending them is broken.
_SASL_ROUNDS = 3


def _error_answer(mechanism: str) -> bytes:
    """What the client sends after an error challenge: %x01 for OAUTHBEARER (RFC 7628 3.2.3), an empty response
    for XOAUTH2 (Google's and Microsoft's documentation)."""
    return b"\x01" if mechanism == "OAUTHBEARER" else b""


def _logout_quietly(conn: imaplib.IMAP4) -> None:
    try:
        conn.logout()
    except (imaplib.IMAP4.error, OSError, EOFError):
        conn.shutdown()


class Pop3Mailbox:
    """A POP3 maildrop: UIDL identifies messages, LIST gives sizes; deletion takes effect at QUIT."""

    uidvalidity = ""
    state_prefix = "UIDL#"

    def __init__(self, conn: poplib.POP3, settings: MailboxSettings) -> None:
        self._conn = conn
        self._settings = settings
        self.lists_handled = not settings.delete_after_copy
        self._sizes: dict[str, int] = {}
        self._numbers: dict[str, str] = {}
        self.login = Login("USER/PASS")

    @classmethod
    def open(cls, settings: MailboxSettings) -> Pop3Mailbox:
        """Connect and log in."""
        context = tls_context(settings.ca_bundle)
        with _connection_errors("connect"):
            if settings.tls == "ssl":
                conn: poplib.POP3 = poplib.POP3_SSL(
                    settings.host, settings.port, context=context, timeout=settings.timeout
                )
            else:
                conn = poplib.POP3(settings.host, settings.port, timeout=settings.timeout)
                try:
                    conn.stls(context)
                except poplib.error_proto as exc:
                    raise MailboxError("tls_failed", f"STLS refused: {_text(exc.args)}") from exc
        try:
            with _connection_errors("login"):
                login = _pop3_login(conn, settings)
        except MailboxError:
            with contextlib.suppress(OSError):
                conn.close()
            raise
        mailbox = cls(conn, settings)
        mailbox.login = login
        return mailbox

    def list_new(self, after_uid: int, since: float | None) -> list[Listed]:
        """Every message in the maildrop, in server order (POP3 has no search; the state filters)."""
        with _connection_errors("uidl"):
            _, uidls, _ = self._conn.uidl()
            _, sizes, _ = self._conn.list()
        size_of = {}
        for line in sizes:
            number, _, size = _text(line).partition(" ")
            size_of[number] = int(size.split()[0]) if size.split() else 0
        listed = []
        for line in uidls:
            number, _, uidl = _text(line).strip().partition(" ")
            self._numbers[uidl] = number
            self._sizes[uidl] = size_of.get(number, 0)
            listed.append(Listed(key=f"UIDL#{uidl}"))
        return listed

    def describe(self, listed: Sequence[Listed]) -> list[RemoteMessage]:
        """Sizes from LIST; with a start date, the arrival time from the topmost Received header (TOP n 0)."""
        described = []
        for item in listed:
            uidl = item.key.removeprefix("UIDL#")
            number = self._numbers[uidl]
            # A UIDL may hold any printable character; one unfit for an S3 key is named by its hash instead.
            name = f"pop3-{uidl}" if _SAFE_UIDL.match(uidl) else f"pop3-h{hashlib.sha256(uidl.encode()).hexdigest()}"
            received = self._arrival(number) if self._settings.start_date else None
            described.append(
                RemoteMessage(key=item.key, name=name, ref=number, size=self._sizes[uidl], received_at=received)
            )
        return described

    def _arrival(self, number: str) -> float | None:
        with _connection_errors("top"):
            try:
                _, lines, _ = self._conn.top(int(number), 0)
            except poplib.error_proto:
                return None
        return arrival_time(b"\r\n".join(lines))

    def fetch(self, message: RemoteMessage) -> bytes:
        """The message's bytes (RETR; poplib undoes the dot-stuffing and the lines are joined with CRLF)."""
        with _connection_errors("retr"):
            try:
                _, lines, _ = self._conn.retr(int(message.ref))
            except poplib.error_proto as exc:
                raise MessageError("fetch_failed", _text(exc.args)[:300]) from exc
        return b"\r\n".join(lines) + b"\r\n"

    def mark_handled(self, message: RemoteMessage) -> None:
        """Delete the message when configured (takes effect at QUIT); otherwise the recorded state is the mark."""
        if not self._settings.delete_after_copy:
            return
        with _connection_errors("dele"):
            try:
                self._conn.dele(int(message.ref))
            except poplib.error_proto as exc:
                raise MessageError("mark_failed", _text(exc.args)[:300]) from exc

    def close(self) -> None:
        """QUIT, which commits the deletions."""
        with _connection_errors("quit"):
            self._conn.quit()


def _pop3_refusal(exc: poplib.error_proto) -> MailboxError:
    text = _text(exc.args)
    return MailboxError("mailbox_in_use" if "[IN-USE]" in text.upper() else "auth_failed", text[:300])


def _pop3_login(conn: poplib.POP3, settings: MailboxSettings) -> Login:
    if settings.oauth is None:
        try:
            conn.user(settings.username)
            conn.pass_(settings.password)
        except poplib.error_proto as exc:
            raise _pop3_refusal(exc) from exc
        return Login("USER/PASS")
    try:
        offered: set[str] | None = {m.upper() for m in conn.capa().get("SASL", [])}
    except poplib.error_proto:
        offered = None  # no CAPA: the mechanisms are not known (RFC 5034 does not forbid trying one)

    def authenticate(mechanism: str, response: bytes) -> str | None:
        # poplib has no AUTH command (RFC 5034): the exchange is written with its line primitives.
        challenges: list[bytes] = []
        try:
            reply = conn._shortcmd(f"AUTH {mechanism}")  # type: ignore[attr-defined]
            if reply.startswith(b"+ ") or reply == b"+":
                reply = conn._shortcmd(base64.b64encode(response).decode("ascii"))  # type: ignore[attr-defined]
            while not reply.startswith(b"+OK"):
                challenges.append(_b64decode(reply[2:]))  # an error challenge
                if len(challenges) > _SASL_ROUNDS:
                    raise MailboxError("protocol_error", "the server kept the SASL exchange going")
                answer = base64.b64encode(_error_answer(mechanism)).decode("ascii")
                reply = conn._shortcmd(answer)  # type: ignore[attr-defined]
        except poplib.error_proto as exc:
            text = _text(exc.args)
            if "EOF" in text.upper().split():
                raise EOFError(text) from exc  # poplib's name for a closed connection: connection_lost
            if "[IN-USE]" in text.upper():
                raise _pop3_refusal(exc) from exc
            return _sasl_refusal(challenges, text)
        return None

    return _oauth_login(settings, offered, authenticate)


def arrival_time(header_block: bytes) -> float | None:
    """When the mailbox's server received a message: the date of its topmost Received header, else Date."""
    text = header_block.decode("latin-1")
    unfolded = re.sub(r"\r?\n[ \t]+", " ", text)
    candidates = [line.rpartition(";")[2] for line in unfolded.splitlines() if line.lower().startswith("received:")]
    candidates += [line[5:] for line in unfolded.splitlines() if line.lower().startswith("date:")]
    for value in candidates:
        try:
            return email.utils.parsedate_to_datetime(value.strip()).timestamp()
        except (TypeError, ValueError, IndexError):
            continue
    return None
