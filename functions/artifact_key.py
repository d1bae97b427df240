"""Print the key of the Lambda artifact that functions/Makefile builds: a hash of what goes into it (this Makefile,
the pinned requirements, the platform, the Python that compiles the bytecode, and every file of our package except
bytecode). A second `sam build` with the same key reuses the first one's artifact; __pycache__ folders and the
egg-info that tests and editable installs leave in functions/ do not change it."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def artifact_key(platform: str, root: Path = HERE) -> str:
    digest = hashlib.sha256()
    digest.update(f"{sys.version}\0{platform}\0".encode())
    files = [root / "Makefile", root / "requirements.txt"]
    files += sorted(
        path
        for path in (root / "emailpipe").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


if __name__ == "__main__":
    print(artifact_key(sys.argv[1]))
