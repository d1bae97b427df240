"""OAuth 2.0 access tokens for a mailbox login (XOAUTH2 / OAUTHBEARER), from Microsoft Entra ID or Google.

The providers' own libraries obtain the tokens: msal for Entra ID's client-credentials flow, google-auth for a
service account with domain-wide delegation or a stored refresh token. Each is imported only when a mailbox uses
that provider, so a password mailbox's cold start does not pay for them. A token is kept in the process (a warm
Lambda reuses it) until shortly before it expires; a token the server refuses is dropped and asked for once more.
Tokens and secrets are never logged and never part of an error's text.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC
from typing import Any

from emailpipe.ingress.logic import MailboxError
from emailpipe.ingress.settings import OAuthSettings

# Ask for a new token when the cached one has less than this left: a long run must not log in with a token that
# expires mid-session, and the clocks of Lambda and the provider may differ by a little.
REFRESH_MARGIN_SECONDS = 300.0
_PROVIDER = {"microsoft": "Entra ID", "google": "Google"}
# What to do about Entra ID's commonest refusals (AADSTS codes), appended to the recorded detail.
_ENTRA_HINTS = {
    7000215: "the client secret is wrong: store the secret's value, not its id",
    7000222: "the client secret has expired: add a new one to the app registration and update the mailbox secret",
    700016: "no such application in this tenant: check tenant_id and client_id",
    7000112: "the application is disabled in the tenant: enable it, or register a new one",
    700027: "the certificate is not the app's: upload it to the app registration and check the thumbprint",
    65001: "admin consent is missing or was revoked: grant it again (API permissions, Grant admin consent)",
    90002: "no such tenant: check tenant_id",
    500011: "the scope's resource is not in the tenant: check scope (https://outlook.office365.com/.default)",
}


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A bearer token and when it expires (epoch seconds)."""

    token: str = field(repr=False)
    expires_at: float
    fresh: bool = True  # False when it came from the process's cache


class OAuthTokenError(MailboxError):
    """No token: oauth_refused (the provider said no), oauth_reauthorize (a refresh token is dead),
    oauth_unreachable (the token endpoint could not be asked)."""


_cache: dict[str, AccessToken] = {}
_apps: dict[str, Any] = {}
_lock = threading.Lock()


def _identity(oauth: OAuthSettings, username: str) -> str:
    # The settings themselves (secrets included) name the cache entry, hashed: a changed secret never reuses
    # the token obtained with the old one.
    text = json.dumps([asdict(oauth), username], sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def access_token(oauth: OAuthSettings, username: str, *, timeout: float = 30.0, renew: bool = False) -> AccessToken:
    """A token for `username`'s mailbox: the cached one while it has more than the margin left, else a new one.

    `renew` drops the cached token first (the server refused it: revoked or expired early)."""
    key = _identity(oauth, username)
    with _lock:
        if renew:
            _cache.pop(key, None)
        cached = None if renew else _cache.get(key)
    if cached is not None and cached.expires_at - REFRESH_MARGIN_SECONDS > time.time():
        return AccessToken(cached.token, cached.expires_at, fresh=False)
    if oauth.provider == "microsoft":
        token = _entra_token(oauth, key, timeout, renew)
    else:
        token = _google_token(oauth, username, timeout)
    with _lock:
        _cache[key] = token
    return token


def forget(oauth: OAuthSettings, username: str) -> None:
    """Drop the cached token (the server refused it), and msal's application with its own token cache: the next run
    asks the provider again (after a permission is granted, say) instead of being handed the refused token."""
    key = _identity(oauth, username)
    with _lock:
        _cache.pop(key, None)
        _apps.pop(key, None)


def _unexpected(provider: str, exc: Exception) -> OAuthTokenError:
    """A library failure that is not the provider's answer (a malformed key or certificate, say): its type and first
    line, which never hold the secret (the key's bytes are not in these messages)."""
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    return OAuthTokenError("oauth_refused", f"{_PROVIDER[provider]}: {type(exc).__name__}: {first}".rstrip(": "))


def load_library(provider: str) -> None:
    """Import what a mailbox of `provider` needs for its first token (benchmarks/bench_coldstart.py measures it)."""
    import requests  # noqa: F401

    if provider == "microsoft":
        import msal  # noqa: F401
    else:
        import google.auth.transport.requests  # noqa: F401
        import google.oauth2.credentials  # noqa: F401
        import google.oauth2.service_account  # noqa: F401


def _session(pem: str | None, timeout: float) -> Any:
    """A requests session that verifies the token endpoint against `pem` (else the public CAs), on every request.

    requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's own `verify` (psf/requests#3829), so
    the choice is bound to each call instead; so is the timeout, which requests has no session-wide setting for."""
    import functools

    import requests

    session = requests.Session()
    session.request = functools.partial(session.request, verify=_ca_file(pem), timeout=timeout)  # type: ignore[method-assign]
    adapter = requests.adapters.HTTPAdapter(max_retries=1)  # what msal mounts on its own session
    session.mount("https://", adapter)
    return session


def _ca_file(pem: str | None) -> str | bool:
    """What requests' `verify` takes: True (the public CAs) or a file holding the configured PEM."""
    if not pem:
        return True
    path = os.path.join(tempfile.gettempdir(), f"emailpipe-ca-{hashlib.sha256(pem.encode()).hexdigest()[:16]}.pem")
    if not os.path.exists(path):
        with tempfile.NamedTemporaryFile("w", dir=tempfile.gettempdir(), delete=False, suffix=".pem") as handle:
            handle.write(pem)
        os.replace(handle.name, path)
    return path


def _refused(provider: str, error: str, description: str, hint: str = "", reason: str = "oauth_refused") -> Exception:
    first = (description or "").strip().splitlines()[0] if description else ""
    detail = f"{_PROVIDER[provider]} refused the token request: {error}" + (f" ({first})" if first else "")
    return OAuthTokenError(reason, (detail + (f"; {hint}" if hint else ""))[:500])


# ---------------------------------------------------------------- Microsoft Entra ID (msal)


def _entra_token(oauth: OAuthSettings, key: str, timeout: float, renew: bool) -> AccessToken:
    try:
        import msal  # only for a Microsoft mailbox: its import costs what a password mailbox should not pay
        import requests
    except ImportError as exc:  # pragma: no cover - the function's requirements include it
        raise OAuthTokenError("oauth_unreachable", f"msal is not installed: {exc}") from exc
    try:
        with _lock:
            if renew:
                _apps.pop(key, None)  # and its token cache, which would hand back the refused token
            app = _apps.get(key)
        if app is None:
            credential: Any = (
                oauth.client_secret
                if oauth.flow == "client_secret"
                else {"private_key": oauth.private_key, "thumbprint": oauth.thumbprint}
            )
            app = msal.ConfidentialClientApplication(
                oauth.client_id,
                client_credential=credential,
                authority=f"{oauth.authority}/{oauth.tenant_id}",
                # The authority comes from the operator's secret; asking login.microsoftonline.com whether it
                # knows the host would add a request (and fail for a sovereign cloud's own host).
                instance_discovery=False,
                http_client=_session(oauth.ca_bundle, timeout),
                token_cache=msal.TokenCache(),
            )
            with _lock:
                _apps[key] = app
        result = app.acquire_token_for_client(scopes=[oauth.scope])
    except (requests.RequestException, json.JSONDecodeError, OSError) as exc:
        # No answer, or not JSON (a proxy's page): transient or the network path. The message names the URL only;
        # the chain is cut, as the request it holds carries the secret or the signed assertion.
        raise OAuthTokenError(
            "oauth_unreachable", f"Entra ID token endpoint: {type(exc).__name__}: {exc}"[:300]
        ) from None
    except ValueError as exc:  # msal: the tenant's OpenID configuration could not be read (unknown tenant)
        raise OAuthTokenError("oauth_refused", f"Entra ID: {str(exc).splitlines()[0][:300]}") from None
    except Exception as exc:  # noqa: BLE001 - pyjwt's InvalidKeyError, cryptography's TypeError for a bad key
        raise _unexpected("microsoft", exc) from None
    if "access_token" not in result:
        codes = result.get("error_codes") or []
        hint = next((_ENTRA_HINTS[c] for c in codes if c in _ENTRA_HINTS), "")
        raise _refused(
            "microsoft", str(result.get("error", "unknown_error")), result.get("error_description", ""), hint
        )
    # msal answers from its own cache while the token lasts: such a token is not a fresh one (a refused one is
    # then replaced once).
    return AccessToken(
        str(result["access_token"]),
        time.time() + float(result.get("expires_in") or 0),
        fresh=result.get("token_source") != "cache",
    )


# ---------------------------------------------------------------- Google (google-auth)


def _google_token(oauth: OAuthSettings, username: str, timeout: float) -> AccessToken:
    try:
        import google.auth.exceptions
        from google.auth.transport.requests import Request
        from google.oauth2 import credentials, service_account
    except ImportError as exc:  # pragma: no cover - the function's requirements include it
        raise OAuthTokenError("oauth_unreachable", f"google-auth is not installed: {exc}") from exc
    session = _session(oauth.ca_bundle, timeout)
    creds: Any
    try:
        if oauth.flow == "service_account":
            info = {"token_uri": oauth.token_uri, **json.loads(oauth.service_account)}
            creds = service_account.Credentials.from_service_account_info(info, scopes=[oauth.scope], subject=username)
        else:
            creds = credentials.Credentials(
                None,
                refresh_token=oauth.refresh_token,
                client_id=oauth.client_id,
                client_secret=oauth.client_secret,
                token_uri=oauth.token_uri,
                scopes=[oauth.scope],
            )
        creds.refresh(_TimedRequest(Request(session), timeout))
    except google.auth.exceptions.RefreshError as exc:
        if getattr(exc, "retryable", False):  # 5xx or 429 after google-auth's own retries
            raise OAuthTokenError("oauth_unreachable", "Google token endpoint: no answer after retries") from None
        error, _, description = str(exc.args[0] if exc.args else exc).partition(":")
        data = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
        error = str(data.get("error") or error).strip()
        description = str(data.get("error_description") or description).strip()
        if oauth.flow == "refresh_token" and error == "invalid_grant":
            raise _refused(
                "google",
                error,
                description,
                f"the refresh token is expired or revoked: authorize {username} again (the consent flow) and put "
                "the new refresh_token in the mailbox secret",
                reason="oauth_reauthorize",
            ) from None
        hint = (
            f"allow client {json.loads(oauth.service_account).get('client_id', '?')} the scope {oauth.scope} in "
            "the Admin console (Security, API controls, Domain-wide delegation)"
            if oauth.flow == "service_account" and error == "unauthorized_client"
            else ""
        )
        raise _refused("google", error or "refused", description, hint) from None
    except (google.auth.exceptions.TransportError, OSError) as exc:
        raise OAuthTokenError("oauth_unreachable", f"Google token endpoint: {type(exc).__name__}") from None
    except Exception as exc:  # noqa: BLE001 - a malformed key in the key file (MalformedError, ValueError)
        raise _unexpected("google", exc) from None
    finally:
        session.close()
    expiry = creds.expiry.replace(tzinfo=UTC).timestamp() if creds.expiry else time.time() + 3600
    return AccessToken(str(creds.token), expiry)


class _TimedRequest:
    """google-auth's requests transport with the mailbox's timeout on every call."""

    def __init__(self, inner: Any, timeout: float) -> None:
        self._inner = inner
        self._timeout = timeout

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self._timeout)
        return self._inner(*args, **kwargs)


# ---------------------------------------------------------------- SASL


def sasl_response(mechanism: str, username: str, token: str, host: str, port: int) -> bytes:
    """The client's first (and only) SASL message: XOAUTH2 (Google's and Microsoft's) or OAUTHBEARER (RFC 7628)."""
    if mechanism == "XOAUTH2":
        return f"user={username}\x01auth=Bearer {token}\x01\x01".encode()
    # RFC 7628 section 3.1: a GS2 header naming the user (RFC 5801 saslname: "," and "=" escaped), then key=value
    # pairs separated by ^A.
    saslname = username.replace("=", "=3D").replace(",", "=2C")
    return f"n,a={saslname},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01".encode()


def choose_mechanism(offered: set[str] | None, wanted: str | None) -> str:
    """OAUTHBEARER (the standard) when offered, else XOAUTH2; or the configured one, if the server offers it.

    `offered` None: the server does not say (a POP3 server without CAPA): the configured one, else XOAUTH2, which
    Microsoft's and Google's servers both take."""
    if offered is None:
        return (wanted or "XOAUTH2").upper()
    if wanted:
        if wanted.upper() not in offered:
            raise MailboxError(
                "auth_failed", f"the server does not offer {wanted.upper()} (it offers: {_list(offered)})"
            )
        return wanted.upper()
    for mechanism in ("OAUTHBEARER", "XOAUTH2"):
        if mechanism in offered:
            return mechanism
    raise MailboxError(
        "auth_failed", f"the server offers neither OAUTHBEARER nor XOAUTH2 (it offers: {_list(offered)})"
    )


def _list(offered: set[str]) -> str:
    return ", ".join(sorted(offered)) or "no SASL mechanism"
