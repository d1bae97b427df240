"""The `emailpipe` command as a user runs it: a child process of this venv's script, pointed at a local stack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent / "emailpipe"


def run_cli(
    endpoint: str | None, *args: str, stdin: Any = None, environment: dict[str, str] | None = None, text: bool = False
) -> subprocess.CompletedProcess[Any]:
    """Run `emailpipe ARGS` against the stack at `endpoint` (the environment's AWS_ENDPOINT_URL) and return it."""
    if environment is None:
        environment = dict(os.environ, AWS_ENDPOINT_URL=endpoint or "")
    return subprocess.run(  # noqa: S603 - our own script
        [str(BIN), *args], input=stdin, capture_output=True, env=environment, timeout=120, check=False, text=text
    )


def cli_output(endpoint: str, *args: str, stdin: bytes | None = None, code: int = 0) -> str:
    """Its standard output, once it has exited with `code` (else the assertion shows its standard error)."""
    result = run_cli(endpoint, *args, stdin=stdin)
    assert result.returncode == code, result.stderr.decode()
    return result.stdout.decode()
