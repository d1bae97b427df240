"""A local OAuth 2.0 provider for the mailbox tests: token endpoints shaped like Entra ID's and Google's, over HTTPS,
and the token introspection endpoint dovecot's `oauth2` passdb asks (plain HTTP on 127.0.0.1).

What it knows mirrors what the real providers check:
- **Entra ID** (`/<tenant>/v2.0/.well-known/openid-configuration`, `/<tenant>/oauth2/v2.0/token`): applications
  registered in a tenant, each with a client secret or a certificate (the client assertion's signature is
  verified with PyJWT against the certificate's public key, and its `x5t` against the thumbprint), and the one
  mailbox the application was given access to (Exchange's Add-MailboxPermission; dovecot compares the
  introspected `email` with the login name). Refusals carry Entra's error shapes and AADSTS codes.
- **Google** (`/google/token`): refresh tokens issued to a user for a client, and service accounts whose
  JWT-bearer assertions are verified with PyJWT, delegated to some users (domain-wide delegation).
- **Introspection** (`/introspect`, RFC 7662 form POST): `{"active": true, "email": user}` for a token it issued
  that is neither expired nor revoked, else `{"active": false}`.
"""

from __future__ import annotations

import base64
import json
import secrets
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import jwt

from emailpipe.local.loopback import LoopbackServer, QuietHandler

CLIENT_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_AUDIENCE = "https://oauth2.googleapis.com/token"


@dataclass
class EntraApp:
    tenant: str
    client_id: str
    mailbox: str  # the one mailbox it may open
    secret: str = ""
    public_key: Any = None  # the certificate's key, for a certificate credential
    thumbprint: str = ""  # SHA-1 of the certificate (hex, upper case)
    disabled: bool = False


@dataclass
class Issued:
    user: str
    expires_at: float
    grant: str
    revoked: bool = False


@dataclass
class Provider:
    """The provider's state; the tests register clients and change it (revoke, expire) through these methods."""

    lifetime: int = 3600
    apps: dict[str, EntraApp] = field(default_factory=dict)
    refresh_tokens: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # token -> (client, secret, user)
    service_accounts: dict[str, tuple[Any, set[str]]] = field(default_factory=dict)  # email -> (key, users)
    issued: dict[str, Issued] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (grant, client) of every token request
    introspections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def token_requests(self, client: str) -> int:
        """How many times `client` (an Entra or Google client id) asked for a token."""
        return sum(1 for _grant, who in self.requests if who == client)

    # ---------------------------------------------------------------- registration
    def add_entra_app(self, mailbox: str, *, certificate: Any = None) -> EntraApp:
        """An application with a secret (or, given a cryptography certificate, that certificate) for `mailbox`."""
        from cryptography.hazmat.primitives import hashes

        app = EntraApp(tenant=secrets.token_hex(8), client_id=secrets.token_hex(8), mailbox=mailbox)
        if certificate is None:
            app.secret = secrets.token_urlsafe(24)
        else:
            app.public_key = certificate.public_key()
            app.thumbprint = certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - Entra's x5t
        self.apps[app.client_id] = app
        return app

    def add_refresh_token(self, user: str) -> dict[str, str]:
        """A Google OAuth client and a refresh token the user granted it: the secret's `oauth` fields."""
        client_id, client_secret, token = secrets.token_hex(8), secrets.token_urlsafe(16), secrets.token_urlsafe(32)
        self.refresh_tokens[token] = (client_id, client_secret, user)
        return {"client_id": client_id, "client_secret": client_secret, "refresh_token": token}

    def add_service_account(self, token_uri: str, users: set[str]) -> dict[str, str]:
        """A service account key file (JSON fields as Google's console writes them), delegated to `users`."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        email = f"piping-{secrets.token_hex(4)}@project.iam.gserviceaccount.test"
        self.service_accounts[email] = (key.public_key(), set(users))
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return {
            "type": "service_account",
            "project_id": "project",
            "private_key_id": secrets.token_hex(20),
            "private_key": pem.decode("ascii"),
            "client_email": email,
            "client_id": str(secrets.randbelow(10**20)),
            "token_uri": token_uri,
        }

    def revoke_client(self, client_id: str) -> None:
        """Disable an Entra application (or revoke a Google client's grant): its tokens stop working too."""
        with self.lock:
            if client_id in self.apps:
                self.apps[client_id].disabled = True
            for token, (client, _secret, _user) in list(self.refresh_tokens.items()):
                if client == client_id:
                    del self.refresh_tokens[token]
            for issued in self.issued.values():
                if issued.grant == client_id:
                    issued.revoked = True

    def expire_all(self) -> None:
        """Every token issued so far expires now (as the provider sees it; the client's cache does not know)."""
        with self.lock:
            for issued in self.issued.values():
                issued.expires_at = time.time() - 1

    # ---------------------------------------------------------------- the endpoints' logic
    def _issue(self, user: str, grant: str) -> dict[str, Any]:
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.issued[token] = Issued(user=user, expires_at=time.time() + self.lifetime, grant=grant)
        return {"token_type": "Bearer", "expires_in": self.lifetime, "access_token": token}

    def entra_token(self, tenant: str, form: dict[str, str], endpoint: str) -> tuple[int, dict[str, Any]]:
        self.requests.append(("client_credentials", form.get("client_id", "")))
        app = self.apps.get(form.get("client_id", ""))
        if form.get("grant_type") != "client_credentials":
            return 400, _entra_error("unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
        if app is None or app.tenant != tenant:
            return 400, _entra_error(
                "unauthorized_client",
                700016,
                f"Application with identifier '{form.get('client_id')}' was not found in the directory '{tenant}'.",
            )
        if app.disabled:
            return 400, _entra_error("unauthorized_client", 7000112, f"Application '{app.client_id}' is disabled.")
        if form.get("scope") != "https://outlook.office365.com/.default":
            return 400, _entra_error("invalid_scope", 1002012, "The provided value for scope is not valid.")
        if app.secret:
            if not secrets.compare_digest(form.get("client_secret", ""), app.secret):
                return 401, _entra_error("invalid_client", 7000215, "Invalid client secret provided.")
        elif not _valid_assertion(form, app, endpoint):
            return 401, _entra_error("invalid_client", 700027, "Client assertion failed signature validation.")
        return 200, {**self._issue(app.mailbox, app.client_id), "ext_expires_in": self.lifetime}

    def google_token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = form.get("grant_type", "")
        client = form.get("client_id", "")
        if grant == JWT_BEARER:
            client = str(jwt.decode(form.get("assertion", ""), options={"verify_signature": False}).get("iss", ""))
        self.requests.append((grant, client))
        if grant == "refresh_token":
            found = self.refresh_tokens.get(form.get("refresh_token", ""))
            if found is None:
                return 400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
            client_id, client_secret, user = found
            if form.get("client_id") != client_id or form.get("client_secret") != client_secret:
                return 401, {"error": "invalid_client", "error_description": "Unauthorized"}
            return 200, {**self._issue(user, client_id), "scope": "https://mail.google.com/"}
        if grant == JWT_BEARER:
            assertion = form.get("assertion", "")
            issuer = jwt.decode(assertion, options={"verify_signature": False}).get("iss", "")
            if issuer not in self.service_accounts:
                return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            key, users = self.service_accounts[issuer]
            try:
                # Google's documented audience, whatever the token_uri: google-auth always writes it.
                claims = jwt.decode(assertion, key, algorithms=["RS256"], audience=GOOGLE_AUDIENCE)
            except jwt.InvalidTokenError:
                return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            if claims.get("sub") not in users or "https://mail.google.com/" not in str(claims.get("scope", "")).split():
                return 401, {
                    "error": "unauthorized_client",
                    "error_description": "Client is unauthorized to retrieve access tokens using this method, or "
                    "client not authorized for any of the scopes requested.",
                }
            return 200, self._issue(str(claims["sub"]), issuer)
        return 400, {"error": "unsupported_grant_type", "error_description": f"Invalid grant_type: {grant}"}

    def introspect(self, token: str) -> dict[str, Any]:
        with self.lock:
            self.introspections += 1
            issued = self.issued.get(token)
            if issued is None or issued.revoked or issued.expires_at <= time.time():
                return {"active": False}
            return {"active": True, "email": issued.user, "exp": int(issued.expires_at)}


def _entra_error(error: str, code: int, text: str) -> dict[str, Any]:
    trace = secrets.token_hex(8)
    return {
        "error": error,
        "error_description": f"AADSTS{code}: {text} Trace ID: {trace} Correlation ID: {trace} Timestamp: now",
        "error_codes": [code],
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }


def _valid_assertion(form: dict[str, str], app: EntraApp, endpoint: str) -> bool:
    """msal's client assertion: a JWT signed with the certificate's key, naming it by its SHA-1 thumbprint."""
    if form.get("client_assertion_type") != CLIENT_ASSERTION or app.public_key is None:
        return False
    assertion = form.get("client_assertion", "")
    try:
        header = jwt.get_unverified_header(assertion)
        x5t = header.get("x5t") or ""
        thumbprint = base64.urlsafe_b64decode(x5t + "=" * (-len(x5t) % 4)).hex().upper()
        claims = jwt.decode(assertion, app.public_key, algorithms=["RS256", "PS256"], audience=endpoint)
    except (jwt.InvalidTokenError, ValueError):
        return False
    return thumbprint == app.thumbprint and claims.get("iss") == claims.get("sub") == app.client_id


class OAuthServer:
    """The token endpoints (HTTPS, with the given certificate) and the introspection endpoint (HTTP)."""

    def __init__(self, cert: str, key: str, ca_pem: str) -> None:
        self.ca_pem = ca_pem  # what the mailbox secret's oauth.ca_bundle must trust
        self.provider = Provider()
        provider = self.provider
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)

        class Tokens(QuietHandler):
            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                parts = self.path.split("?")[0].strip("/").split("/")
                if len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
                    tenant = parts[0]
                    if not any(app.tenant == tenant for app in provider.apps.values()):
                        self._reply(400, _entra_error("invalid_tenant", 90002, f"Tenant '{tenant}' not found."))
                        return
                    base = f"{outer.tokens.url}/{tenant}"
                    self._reply(
                        200,
                        {
                            "issuer": f"{base}/v2.0",
                            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                            "token_endpoint": f"{base}/oauth2/v2.0/token",
                            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                        },
                    )
                    return
                self._reply(404, {"error": "not_found"})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                path = self.path.split("?")[0]
                endpoint = f"{outer.tokens.url}{path}"
                parts = path.strip("/").split("/")
                if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
                    self._reply(*provider.entra_token(parts[0], form, endpoint))
                elif path == "/google/token":
                    self._reply(*provider.google_token(form))
                else:
                    self._reply(404, {"error": "not_found"})

        class Introspection(Tokens):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                self._reply(200, provider.introspect(form.get("token", "")))

        outer = self
        self.tokens = LoopbackServer(Tokens, name="oauth-tokens", tls=tls)
        self.introspection = LoopbackServer(Introspection, name="oauth-introspection", path="/introspect")

    @property
    def google_token_uri(self) -> str:
        return f"{self.tokens.url}/google/token"

    def start(self) -> OAuthServer:
        self.tokens.start()
        self.introspection.start()
        return self

    def stop(self) -> None:
        self.tokens.stop()
        self.introspection.stop()


def certificate_and_key() -> tuple[Any, Any]:
    """A self-signed RSA certificate and its key, as one uploads to an Entra app registration."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from .mailbox_server import certificate_for

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return certificate_for(key, "emailpipe mailbox app"), key
