"""Debian's chromium for the console's browser test, installed the way mailbox_server.py installs dovecot."""

from __future__ import annotations

import os
import shutil
import subprocess

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
    """The chromium binary, apt-installed when root and missing; None (with the reason printed) when impossible."""
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    subprocess.run(["apt-get", "install", "-y", "chromium"], capture_output=True, timeout=600, check=False)
    return CHROMIUM if os.path.exists(CHROMIUM) else None
