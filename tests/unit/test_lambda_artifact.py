"""The Lambda artifact (functions/Makefile's package step, which `sam build` runs) leaves out the command line and
the local stack, and every function's handler imports from it without them (issue 15)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _handlers() -> list[str]:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=Loader)  # noqa: S506 - a SafeLoader subclass
    globals_handler = (template.get("Globals", {}).get("Function", {}) or {}).get("Handler")
    handlers = {
        (resource.get("Properties") or {}).get("Handler") or globals_handler
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    return sorted(h for h in handlers if h)


def test_the_artifact_has_no_cli_or_local_stack_and_every_handler_imports_from_it(tmp_path):
    subprocess.run(
        ["make", "-s", "package", f"ARTIFACTS_DIR={tmp_path}", f"PYTHON={sys.executable}"],
        cwd=ROOT / "functions",
        check=True,
        capture_output=True,
    )
    package = tmp_path / "emailpipe"
    assert (package / "inbound" / "handler.py").exists()
    assert not (package / "cli").exists() and not (package / "local").exists()

    handlers = _handlers()
    assert len(handlers) >= 9
    modules = [h.rpartition(".")[0] for h in handlers]
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import importlib, json, sys\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "import emailpipe\n"
        "names = sorted({n.split('.')[1] for n in sys.modules if n.startswith('emailpipe.')})\n"
        "print(json.dumps({'file': emailpipe.__file__, 'loaded': names}))\n"
    )
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environment.update(AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1")
    result = subprocess.run(
        [sys.executable, str(probe)], capture_output=True, text=True, env=environment, cwd=tmp_path, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["file"].startswith(str(tmp_path))  # the artifact's package, not the checkout's
    loaded = seen["loaded"]
    assert "cli" not in loaded and "local" not in loaded
    assert {"inbound", "notifier", "api", "store", "mail"} <= set(loaded)


def _build(functions: Path, function: str, build: Path, deps_log: Path) -> str:
    """`make build-<function>` as `sam build` runs it, with a stand-in for pip that records each install."""
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            f"build-{function}",
            f"ARTIFACTS_DIR={build / function}",
            f"PYTHON={sys.executable}",
            f"DEPS=echo installed >> {deps_log}",
        ],
        cwd=functions,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def test_a_second_build_reuses_the_first_artifact_until_what_goes_into_it_changes(tmp_path: Path):
    functions = tmp_path / "functions"
    shutil.copytree(ROOT / "functions", functions, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    build, log = tmp_path / ".aws-sam" / "build", tmp_path / "deps.log"
    for name in ("InboundFunction", "NotifierFunction"):
        (build / name).mkdir(parents=True)

    first = _build(functions, "InboundFunction", build, log)
    # The next function, and the next `sam build` (SAM empties its build folder, not the cache beside it).
    second = _build(functions, "NotifierFunction", build, log)
    shutil.rmtree(build / "InboundFunction")
    (build / "InboundFunction").mkdir()
    (functions / "emailpipe" / "__pycache__").mkdir(exist_ok=True)  # left by tests and editors: not a change
    (functions / "emailpipe" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"stale")
    (functions / "emailpipe.egg-info").mkdir()
    third = _build(functions, "InboundFunction", build, log)

    assert "building the artifact" in first and "reusing the artifact" in second and "reusing the artifact" in third
    assert log.read_text().splitlines() == ["installed"]  # the dependencies were installed once
    for name in ("InboundFunction", "NotifierFunction"):
        package = build / name / "emailpipe"
        assert (package / "inbound" / "__pycache__").is_dir()
        assert not (package / "cli").exists() and not (package / "local").exists()
    assert not list((build / "InboundFunction" / "emailpipe").glob("__pycache__/x.*"))

    # A change to our code (or the requirements, the Makefile, the platform, the Python) builds a new artifact.
    (functions / "emailpipe" / "views.py").write_text((functions / "emailpipe" / "views.py").read_text() + "\n# x\n")
    shutil.rmtree(build / "InboundFunction")
    (build / "InboundFunction").mkdir()
    fourth = _build(functions, "InboundFunction", build, log)
    assert "building the artifact" in fourth
    assert log.read_text().splitlines() == ["installed", "installed"]
    assert (build / "InboundFunction" / "emailpipe" / "views.py").read_text().endswith("# x\n")
    # Only the newest artifact is kept.
    assert len([p for p in (tmp_path / ".aws-sam" / "emailpipe-artifacts").iterdir() if p.name != ".lock"]) == 1
