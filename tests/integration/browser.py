"""Debian's chromium for the console's browser test, installed the way mailbox_server.py installs dovecot."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess

from tests.integration.mailbox_server import _INSTALL_LOCK

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str | None:
    """The chromium binary, apt-installed when root and missing; None when impossible (why: `why_not`)."""
    global why_not
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        why_not = "chromium is not installed and installing it needs root and apt-get (apt-get install chromium)"
        return None
    # One dpkg at a time: the dovecot tests of the other worker may be installing too (the same lock file).
    with open(_INSTALL_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(CHROMIUM):
            return CHROMIUM
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]
        done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900, check=False)
        if done.returncode != 0:
            # A fresh machine may have no package lists yet.
            subprocess.run(
                ["apt-get", "update", "-q"], env=env, capture_output=True, text=True, timeout=600, check=False
            )
            done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900, check=False)
        if not os.path.exists(CHROMIUM):
            why_not = "apt-get could not install chromium: " + (done.stderr or done.stdout).strip()[-500:]
            return None
    return CHROMIUM


why_not = ""
