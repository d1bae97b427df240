"""OAuth 2.0 mailbox logins against a real dovecot whose `oauth2` passdb validates each token at a local provider.

The provider (tests/integration/oauth_server.py) issues tokens as Entra ID (client credentials, with a secret or
a certificate) and Google (a refresh token, or a service account with domain-wide delegation) do, over HTTPS;
dovecot asks its introspection endpoint (RFC 7662, on 127.0.0.1) whether each token it is shown is live.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from emailpipe.cli.main import main as cli
from emailpipe.inbound import handler as inbound_handler
from emailpipe.local.mailclient import new_email
from emailpipe.local.stack import LocalStack
from emailpipe.store import repo

from .mailbox_server import MailServer, ensure_dovecot, self_signed_certificate, start_mail_server
from .oauth_server import OAuthServer
from .test_mailbox import PROVIDER, Mailbox, assert_a_reply_becomes_one_chat_message


@pytest.fixture(scope="session")
def oauth() -> Any:
    directory = Path(tempfile.mkdtemp(prefix="emailpipe-oauth-"))
    cert, key, pem = self_signed_certificate(directory)
    server = OAuthServer(str(cert), str(key), pem).start()
    yield server
    server.stop()


def _dovecot(oauth: OAuthServer, mechanisms: tuple[str, ...]) -> Any:
    reason = ensure_dovecot()
    if reason:
        pytest.skip(reason)
    server = start_mail_server(users=32, introspection_url=oauth.introspection.url, mechanisms=mechanisms)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def oauth_mail_server(oauth) -> Any:
    """A dovecot offering OAUTHBEARER and XOAUTH2 (as Gmail does)."""
    yield from _dovecot(oauth, ("oauthbearer", "xoauth2"))


@pytest.fixture(scope="session")
def xoauth2_mail_server(oauth) -> Any:
    """A dovecot offering XOAUTH2 only (as Outlook's IMAP and POP do)."""
    yield from _dovecot(oauth, ("xoauth2",))


class OAuthMailbox(Mailbox):
    """A mailbox whose secret holds OAuth settings instead of the password."""

    oauth: OAuthServer

    def configure_oauth(self, provider_settings: dict[str, Any], **overrides: Any) -> str:
        return self.configure(password=None, oauth={**provider_settings, "ca_bundle": self.oauth.ca_pem}, **overrides)

    def entra(
        self, mechanism: str | None = None, *, mailbox: str | None = None, secret: str | None = None, **overrides: Any
    ) -> Any:
        """A new Entra application with access to this mailbox (or to `mailbox`), and the secret configured for it
        (with its client secret, or `secret`)."""
        app = self.oauth.provider.add_entra_app(mailbox or self.user)
        settings = {
            "provider": "microsoft",
            "tenant_id": app.tenant,
            "client_id": app.client_id,
            "client_secret": secret or app.secret,
            "authority": self.oauth.tokens.url,
            "mechanism": mechanism,
        }
        self.configure_oauth({k: v for k, v in settings.items() if v is not None}, **overrides)
        return app

    def google_refresh_token(self, **overrides: Any) -> dict[str, str]:
        grant = self.oauth.provider.add_refresh_token(self.user)
        self.configure_oauth({"provider": "google", **grant, "token_uri": self.oauth.google_token_uri}, **overrides)
        return grant


def _box(server: MailServer, outputs: dict[str, str], oauth: OAuthServer) -> OAuthMailbox:
    user, password = server.add_user()
    box = OAuthMailbox(server, outputs, user, password)
    box.oauth = oauth
    return box


@pytest.fixture
def oauth_mailbox(env, oauth_mail_server, oauth, monkeypatch) -> OAuthMailbox:
    monkeypatch.setenv("MAILBOX_TRUSTED_AUTHSERV_IDS", PROVIDER)
    inbound_handler._context.cache_clear()
    return _box(oauth_mail_server, env.outputs, oauth)


@pytest.fixture
def quick_oauth_mailbox(server: LocalStack, oauth_mail_server, oauth) -> OAuthMailbox:
    assert server.info is not None
    repo.configure(server.info.outputs["TableName"])
    return _box(oauth_mail_server, server.info.outputs, oauth)


def _hello() -> bytes:
    return new_email("dana@customer.example", "Dana", "support@example.com", "Hello", "Hi")


# ---------------------------------------------------------------- the happy paths


def test_a_reply_in_a_microsoft_365_mailbox_becomes_one_chat_message(env, world, oauth_mailbox):
    box = oauth_mailbox
    app = box.entra()

    assert_a_reply_becomes_one_chat_message(env, world, box)

    # One token for both polls: the second reused it (a warm Lambda does the same).
    assert box.oauth.provider.token_requests(app.client_id) == 1


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
@pytest.mark.parametrize("flow", ["entra_certificate", "google_service_account", "google_refresh_token"])
def test_each_provider_flow_logs_in_and_copies(quick_oauth_mailbox, protocol, flow):
    box = quick_oauth_mailbox
    port = {"imap": box.server.ports["imaps"], "pop3": box.server.ports["pop3s"]}[protocol]
    if flow == "entra_certificate":
        from cryptography.hazmat.primitives import serialization

        from .oauth_server import certificate_and_key

        certificate, key = certificate_and_key()
        app = box.oauth.provider.add_entra_app(box.user, certificate=certificate)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        settings = {
            "provider": "microsoft",
            "tenant_id": app.tenant,
            "client_id": app.client_id,
            "private_key": pem,
            "thumbprint": app.thumbprint,
            "authority": box.oauth.tokens.url,
        }
    elif flow == "google_service_account":
        settings = {
            "provider": "google",
            "service_account": box.oauth.provider.add_service_account(box.oauth.google_token_uri, {box.user}),
        }
    else:
        grant = box.oauth.provider.add_refresh_token(box.user)
        settings = {"provider": "google", **grant, "token_uri": box.oauth.google_token_uri}
    box.configure_oauth(settings, protocol=protocol, port=port)
    box.deliver(_hello())

    result = box.poll()

    assert (result.status, result.error, result.copied) == ("ok", None, 1)
    assert len(box.objects()) == 1


# ---------------------------------------------------------------- mechanisms


@pytest.mark.parametrize(
    ("server_fixture", "protocol", "wanted", "used"),
    [
        ("oauth_mail_server", "imap", None, "OAUTHBEARER"),  # the standard, when offered
        ("oauth_mail_server", "imap", "xoauth2", "XOAUTH2"),  # as configured
        ("oauth_mail_server", "pop3", None, "OAUTHBEARER"),
        ("xoauth2_mail_server", "imap", None, "XOAUTH2"),  # the only one offered
        ("xoauth2_mail_server", "pop3", None, "XOAUTH2"),
    ],
)
def test_the_mechanism_is_the_one_the_server_offers_and_mailbox_test_reports_it(
    server, oauth, request, capsys, server_fixture, protocol, wanted, used
):
    mail_server = request.getfixturevalue(server_fixture)
    assert server.info is not None
    repo.configure(server.info.outputs["TableName"])
    box = _box(mail_server, server.info.outputs, oauth)
    port = {"imap": mail_server.ports["imaps"], "pop3": mail_server.ports["pop3s"]}[protocol]
    box.entra(mechanism=wanted, protocol=protocol, port=port)
    box.deliver(_hello())

    assert cli(["mailbox", "test", "--secret", box.secret_id]) == 0
    tested = capsys.readouterr().out
    polled = box.poll()

    assert f"login method: {used}, a token from Microsoft Entra ID client credentials (secret)" in tested
    assert "token expires 20" in tested and "1 new message" in tested
    assert (polled.status, polled.copied) == ("ok", 1)


def test_a_mechanism_the_server_does_not_offer_is_a_recorded_failure(quick_oauth_mailbox, xoauth2_mail_server):
    box = _box(xoauth2_mail_server, quick_oauth_mailbox.outputs, quick_oauth_mailbox.oauth)
    box.entra(mechanism="oauthbearer", port=xoauth2_mail_server.ports["imaps"])

    result = box.poll()

    assert (result.status, result.error) == ("error", "auth_failed")
    assert "does not offer OAUTHBEARER" in result.detail and "XOAUTH2" in result.detail


# ---------------------------------------------------------------- tokens: cache, expiry, refusal


def test_a_token_the_server_finds_expired_is_replaced_and_the_run_continues(quick_oauth_mailbox):
    box = quick_oauth_mailbox
    app = box.entra()
    box.deliver(_hello())
    assert box.poll().copied == 1
    box.oauth.provider.expire_all()  # expired for the provider; emailpipe's cache still holds it as valid
    box.deliver(new_email("erin@customer.example", "Erin", "support@example.com", "Again", "Hello again"))

    result = box.poll()

    assert (result.status, result.error, result.copied) == ("ok", None, 1)
    assert box.oauth.provider.token_requests(app.client_id) == 2  # the refused token was replaced once
    assert len(box.objects()) == 2


def test_a_token_close_to_its_expiry_is_not_used_again(quick_oauth_mailbox):
    box = quick_oauth_mailbox
    box.oauth.provider.lifetime = 200  # under the 5-minute margin: every run asks for a new one
    try:
        grant = box.google_refresh_token()
        results = [box.poll(), box.poll()]
    finally:
        box.oauth.provider.lifetime = 3600

    assert [r.status for r in results] == ["ok", "ok"]
    assert box.oauth.provider.token_requests(grant["client_id"]) == 2


def test_a_revoked_client_is_a_recorded_failure_and_nothing_is_copied(quick_oauth_mailbox):
    box = quick_oauth_mailbox
    app = box.entra()
    box.deliver(_hello())
    assert box.poll().copied == 1
    box.oauth.provider.revoke_client(app.client_id)
    uid = box.deliver(new_email("erin@customer.example", "Erin", "support@example.com", "Again", "Hello again"))

    result = box.poll()

    assert (result.status, result.error, result.copied) == ("error", "oauth_refused", 0)
    assert "AADSTS7000112" in result.detail and "disabled" in result.detail
    assert len(box.objects()) == 1  # only the copy from before the revocation
    assert "$EmailpipeCopied" not in box.server.folder(box.user)[uid]  # still waiting on the server
    status = box.status()
    assert (status.last_error, status.consecutive_errors) == ("oauth_refused", 1)
    assert "AADSTS7000112" in status.last_error_detail

    box.entra()  # the operator registers the mailbox again (a new application) and updates the secret
    recovered = box.poll()

    assert (recovered.status, recovered.copied) == ("ok", 1)  # the waiting message, once
    assert len(box.objects()) == 2
    assert "$EmailpipeCopied" in box.server.folder(box.user)[uid]
    assert box.status().consecutive_errors == 0  # last_error keeps the last one seen, for the record


def test_a_wrong_client_secret_names_entras_error(quick_oauth_mailbox):
    box = quick_oauth_mailbox
    box.entra(secret="not-the-secret")
    box.deliver(_hello())

    result = box.poll()

    assert (result.status, result.error, result.copied) == ("error", "oauth_refused", 0)
    assert "invalid_client" in result.detail and "AADSTS7000215" in result.detail
    assert "not-the-secret" not in result.detail
    assert box.objects() == {}


def test_an_expired_refresh_token_says_what_to_redo(quick_oauth_mailbox):
    box = quick_oauth_mailbox
    grant = box.google_refresh_token()
    box.oauth.provider.revoke_client(grant["client_id"])
    box.deliver(_hello())

    result = box.poll()

    assert (result.status, result.error, result.copied) == ("error", "oauth_reauthorize", 0)
    assert "invalid_grant" in result.detail
    assert f"authorize {box.user} again" in result.detail and "refresh_token" in result.detail
    assert box.objects() == {}


def test_a_service_account_without_delegation_for_the_mailbox_is_refused(quick_oauth_mailbox):
    box = quick_oauth_mailbox
    account = box.oauth.provider.add_service_account(box.oauth.google_token_uri, {"someone-else@mail.test"})
    box.configure_oauth({"provider": "google", "service_account": account})

    result = box.poll()

    assert (result.status, result.error) == ("error", "oauth_refused")
    assert "unauthorized_client" in result.detail and "Domain-wide delegation" in result.detail


@pytest.mark.parametrize(
    ("protocol", "mechanism"), [("imap", "oauthbearer"), ("pop3", "oauthbearer"), ("pop3", "xoauth2")]
)
def test_an_app_without_access_to_this_mailbox_is_refused_by_the_server(quick_oauth_mailbox, protocol, mechanism):
    box = quick_oauth_mailbox
    port = {"imap": box.server.ports["imaps"], "pop3": box.server.ports["pop3s"]}[protocol]
    # A token, but for another mailbox: the server's error challenge is answered and the refusal recorded.
    box.entra(mechanism=mechanism, mailbox="another-mailbox@mail.test", protocol=protocol, port=port)

    result = box.poll()

    assert (result.status, result.error) == ("error", "auth_failed")
    assert f"refused the {mechanism.upper()} token" in result.detail and "Add-MailboxPermission" in result.detail
    assert '"status"' in result.detail  # the server's own status (JSON), from its error challenge


def test_no_token_or_secret_reaches_the_output(quick_oauth_mailbox, capsys):
    box = quick_oauth_mailbox
    app = box.entra()
    box.deliver(_hello())

    assert cli(["mailbox", "poll", "--secret", box.secret_id]) == 0
    assert cli(["mailbox", "test", "--secret", box.secret_id]) == 0
    box.oauth.provider.revoke_client(app.client_id)
    box.poll()
    out = capsys.readouterr()

    issued = list(box.oauth.provider.issued)
    assert issued
    for secret in [app.secret, *issued]:
        assert secret not in out.out and secret not in out.err


@pytest.mark.parametrize("provider", ["microsoft", "google"])
def test_a_malformed_key_is_a_recorded_failure_not_a_crash(quick_oauth_mailbox, provider):
    box = quick_oauth_mailbox
    garbage = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"
    if provider == "microsoft":
        app = box.oauth.provider.add_entra_app(box.user)
        settings = {
            "provider": "microsoft",
            "tenant_id": app.tenant,
            "client_id": app.client_id,
            "private_key": garbage,
            "thumbprint": "AB" * 20,
            "authority": box.oauth.tokens.url,
        }
    else:
        account = box.oauth.provider.add_service_account(box.oauth.google_token_uri, {box.user})
        settings = {"provider": "google", "service_account": {**account, "private_key": garbage}}
    box.configure_oauth(settings)
    box.deliver(_hello())

    result = box.poll()

    assert (result.status, result.error, result.copied) == ("error", "oauth_refused", 0)
    assert result.detail and "bm90IGEga2V5" not in result.detail
    assert box.status().last_error == "oauth_refused"
