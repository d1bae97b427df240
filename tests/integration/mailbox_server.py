"""A real IMAP and POP3 server for the mailbox tests: Debian's dovecot on 127.0.0.1, installed with apt if missing.

Runs `dovecot -F -c <generated config>` from a temporary directory: TLS with a certificate made here, users in a
passwd-file (one fresh user per test, so each test starts with an empty mailbox and no cleanup is needed),
maildir storage. As root, the login and internal processes run as Debian's `dovenull` and `dovecot` users and
mail as `nobody` (dovecot refuses mail access as UID 0); as another user, everything runs as that user.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import imaplib
import ipaddress
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DOVECOT = "/usr/sbin/dovecot"
PACKAGES = ("dovecot-imapd", "dovecot-pop3d")
_INSTALL_LOCK = Path(tempfile.gettempdir()) / "emailpipe-dovecot-install.lock"


def _installed() -> bool:
    return Path(DOVECOT).exists() and Path("/usr/lib/dovecot/imap").exists() and Path("/usr/lib/dovecot/pop3").exists()


def ensure_dovecot() -> str | None:
    """None when dovecot with IMAP and POP3 is installed (installing it with apt when root); else why not."""
    if _installed():
        return None
    if os.geteuid() != 0:
        return "dovecot is not installed and installing it needs root (apt-get install dovecot-imapd dovecot-pop3d)"
    if not shutil.which("apt-get"):
        return "dovecot is not installed and apt-get is not available"
    # Test workers start together; dpkg allows one install at a time.
    with open(_INSTALL_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed():
            return None
        # RUNLEVEL=1: the package scripts must not start a system-wide dovecot; the tests run their own.
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", RUNLEVEL="1")
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]
        done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            # A fresh machine may have no package lists yet.
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, text=True, timeout=600)
            done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not _installed():
            return "apt-get could not install dovecot: " + (done.stderr or done.stdout).strip()[-500:]
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def certificate_for(key: Any, common_name: str, names: Any = None) -> Any:
    """A self-signed certificate (its own CA) of `key`, valid for two days, for the subject alternative `names`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
    )
    if names is not None:
        builder = builder.add_extension(names, critical=False)
    return (
        builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def self_signed_certificate(directory: Path) -> tuple[Path, Path, str]:
    """A certificate for localhost and 127.0.0.1 (its own CA) and its key; returns (cert, key, cert PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    cert = certificate_for(
        key,
        "emailpipe test mail server",
        x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(pem)
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path, pem.decode("ascii")


@dataclass
class MailServer:
    """A running dovecot: ports, the CA to trust, and helpers to create users and deliver mail."""

    root: Path
    ca_pem: str
    ports: dict[str, int]
    process: subprocess.Popen | None = None
    users: dict[str, str] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)

    @property
    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def add_user(self) -> tuple[str, str]:
        """A user nobody used yet, so an empty mailbox; returns (username, password)."""
        # Users are made before dovecot starts: it re-reads a changed passwd-file at most once a second.
        username = next(user for user in self.users if user not in self.taken)
        self.taken.add(username)
        return username, self.users[username]

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's certificate."""
        return ssl.create_default_context(cadata=self.ca_pem)

    def imap(self, username: str) -> imaplib.IMAP4_SSL:
        """A logged-in IMAPS session (the test's own view of the mailbox)."""
        conn = imaplib.IMAP4_SSL("127.0.0.1", self.ports["imaps"], ssl_context=self.ssl_context(), timeout=10)
        conn.login(username, self.users[username])
        return conn

    def deliver(self, username: str, raw: bytes, *, when: float | None = None, folder: str = "INBOX") -> int:
        """Put a message in the mailbox (IMAP APPEND, with its arrival time); returns its UID."""
        conn = self.imap(username)
        try:
            typ, data = conn.append(folder, None, imaplib.Time2Internaldate(when or time.time()), raw)
            assert typ == "OK", data
            return int(data[0].split(b"APPENDUID ")[1].split(b" ")[1].rstrip(b"]"))
        finally:
            conn.logout()

    def folder(self, username: str, folder: str = "INBOX") -> dict[int, str]:
        """UID -> flags of every message in a folder."""
        conn = self.imap(username)
        try:
            typ, _ = conn.select(f'"{folder}"', readonly=True)
            if typ != "OK":
                return {}
            typ, data = conn.uid("FETCH", "1:*", "(UID FLAGS)")
            found = {}
            for line in data:
                if isinstance(line, bytes) and b"UID " in line:
                    uid = int(line.split(b"UID ")[1].split()[0].rstrip(b")"))
                    found[uid] = line.split(b"FLAGS (")[1].split(b")")[0].decode()
            return found
        finally:
            conn.logout()

    def stop(self) -> None:
        """Stop dovecot and remove its directory."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def _oauth_config(root: Path, introspection_url: str | None, mechanisms: tuple[str, ...]) -> tuple[str, str]:
    """(auth_mechanisms, the passdb blocks): with an introspection URL, OAuth tokens are checked there (dovecot's
    oauth2 passdb) and passwords, for the test's own view of the mailbox, by the passwd-file."""
    password_passdb = f"""passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
  {"mechanisms = plain login" if introspection_url else ""}
}}"""
    if not introspection_url:
        return "plain login", password_passdb
    (root / "oauth2.conf.ext").write_text(
        f"""introspection_mode = post
introspection_url = {introspection_url}
force_introspection = yes
username_attribute = email
active_attribute = active
active_value = true
"""
    )
    oauth_passdb = f"""passdb {{
  driver = oauth2
  mechanisms = {" ".join(mechanisms)}
  args = {root}/oauth2.conf.ext
}}"""
    return f"plain login {' '.join(mechanisms)}", f"{oauth_passdb}\n{password_passdb}"


def _config(
    root: Path,
    cert: Path,
    key: Path,
    ports: dict[str, int],
    introspection_url: str | None = None,
    mechanisms: tuple[str, ...] = (),
) -> str:
    auth_mechanisms, passdbs = _oauth_config(root, introspection_url, mechanisms)
    if os.geteuid() == 0:
        login_user, internal_user = "dovenull", "dovecot"
        nobody = pwd.getpwnam("nobody")
        mail_uid, mail_gid = nobody.pw_uid, nobody.pw_gid
    else:
        login_user = internal_user = pwd.getpwuid(os.getuid()).pw_name
        mail_uid, mail_gid = os.getuid(), os.getgid()
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = {auth_mechanisms}
# Wrong-password tests should not wait out the anti-guessing delay.
auth_failure_delay = 0
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = 1
first_valid_gid = 1
{passdbs}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
protocol imap {{
  mail_max_userip_connections = 50
}}
protocol pop3 {{
  mail_max_userip_connections = 50
}}
# Nor should later logins pay the penalty anvil adds after a failed one: an unusable socket turns it off.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = {ports["imap"]}
  }}
  inet_listener imaps {{
    port = {ports["imaps"]}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {ports["pop3"]}
  }}
  inet_listener pop3s {{
    port = {ports["pop3s"]}
    ssl = yes
  }}
}}
"""


def start_mail_server(
    users: int = 64,
    timeout: float = 15.0,
    *,
    introspection_url: str | None = None,
    mechanisms: tuple[str, ...] = ("oauthbearer", "xoauth2"),
) -> MailServer:
    """Start dovecot on free loopback ports and wait until every listener accepts connections.

    With `introspection_url`, it also takes OAuth 2.0 logins (the SASL `mechanisms`), validating each token at
    that URL (RFC 7662)."""
    root = Path(tempfile.mkdtemp(prefix="emailpipe-dovecot-"))
    # The unprivileged dovecot processes must reach their sockets and the mail under this directory.
    root.chmod(0o755)
    home = root / "home"
    home.mkdir()
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(home, nobody.pw_uid, nobody.pw_gid)
    cert, key, pem = self_signed_certificate(root)
    accounts = {f"u{uuid.uuid4().hex[:10]}@mail.test": uuid.uuid4().hex for _ in range(users)}
    (root / "passwd").write_text("".join(f"{user}:{{PLAIN}}{secret}::::::\n" for user, secret in accounts.items()))
    ports = {name: _free_port() for name in ("imap", "imaps", "pop3", "pop3s")}
    conf = root / "dovecot.conf"
    conf.write_text(_config(root, cert, key, ports, introspection_url, mechanisms))
    server = MailServer(root=root, ca_pem=pem, ports=ports, users=accounts)
    server.process = subprocess.Popen(  # noqa: S603 - a fixed binary and our own config
        [DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + timeout
    waiting = set(ports.values())
    while waiting and time.monotonic() < deadline:
        if server.process.poll() is not None:
            error = server.process.stderr.read().decode(errors="replace") if server.process.stderr else ""
            server.stop()
            raise RuntimeError(f"dovecot exited: {error}")
        for port in list(waiting):
            with socket.socket() as sock, contextlib.suppress(OSError):
                sock.settimeout(0.2)
                sock.connect(("127.0.0.1", port))
                waiting.discard(port)
        if waiting:
            time.sleep(0.05)
    if waiting:
        log = server.log
        server.stop()
        raise RuntimeError(f"dovecot did not listen on {sorted(waiting)}: {log[-2000:]}")
    return server
