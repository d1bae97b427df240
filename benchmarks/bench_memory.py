"""Peak memory of one maximal email through the inbound function's work, in a fresh interpreter.

The email is as large as SES accepts (40 MiB, the inbound size limit `MAX_EMAIL_BYTES`): a short reply with
one random binary attachment, base64-encoded in 76-character lines. It is written to a temporary file by the
parent; the child imports the inbound handler (the Lambda's init), reads the bytes (what `read_object` hands
over), then runs parse_email + the trust checks + extract_from_message, then the attachment put through a
real botocore S3 client whose `before-send` hook answers 200 instead of opening a connection (the request is
built, signed and checksummed; only the network is left out). Peak RSS (VmHWM; see the child) is read after each stage.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from emailpipe.mail.parse import MAX_EMAIL_BYTES

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"


def lambda_memory_mb(template: Path = TEMPLATE) -> int | None:
    """The MemorySize the template gives the functions (Globals, else the inbound function's own)."""
    import re

    sizes = [int(m) for m in re.findall(r"^\s*MemorySize:\s*(\d+)\s*$", template.read_text(), re.MULTILINE)]
    return max(sizes) if sizes else None


def build_email(total_bytes: int) -> bytes:
    """A reply with one attachment, as close to `total_bytes` as the base64 line length allows."""
    head = (
        b"From: Bob <bob@agents.example>\r\nTo: support@example.com\r\nSubject: Re: Invoice\r\n"
        b"Message-ID: <big@agents.example>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHere is the scan you asked for.\r\n\r\nBob\r\n"
        b"--b\r\nContent-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="scan.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
    )
    tail = b"\r\n--b--\r\n"
    # base64 in 76-char lines + CRLF: 78 bytes of mail per 57 bytes of payload.
    payload_size = (total_bytes - len(head) - len(tail)) * 57 // 78
    payload = os.urandom(payload_size)
    import base64

    b64 = base64.b64encode(payload)
    lines = b"\r\n".join(b64[i : i + 76] for i in range(0, len(b64), 76))
    return head + lines + tail


_CHILD = r"""
import json, resource, sys, time
from pathlib import Path

def peak():
    # VmHWM: the peak RSS of this process image. ru_maxrss would do on a fresh process, but Linux carries it
    # over fork and exec, so a child of a big parent starts with the parent's peak.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # KiB -> MiB on Linux

stages = {"interpreter": peak()}
import emailpipe.inbound.handler  # noqa: F401 - the Lambda's init
from emailpipe.domain import trust
from emailpipe.domain.reply import extract_from_message
from emailpipe.mail.parse import parse_email
stages["after_import"] = peak()
raw = Path(sys.argv[1]).read_bytes()
stages["after_read"] = peak()
start = time.process_time()
parsed = parse_email(raw)
trust.machine_reason_of(parsed)
trust.trusted_verdicts(parsed.headers)
text = extract_from_message(parsed.text, parsed.html, delimiter=True)
cpu = time.process_time() - start
stages["after_parse_extract"] = peak()

import botocore.session
from botocore.awsrequest import AWSResponse

class _Raw:
    def stream(self, **_):
        yield b""

session = botocore.session.get_session()
session.set_credentials("local", "local")
s3 = session.create_client("s3", region_name="us-east-1")
s3.meta.events.register("before-send", lambda **kw: AWSResponse(kw["request"].url, 200, {"ETag": '"x"'}, _Raw()))
for a in parsed.attachments:
    s3.put_object(Bucket="bench", Key="attachments/x/" + a.filename, Body=a.payload, ContentType=a.content_type)
stages["after_attachment_put"] = peak()
print(json.dumps({
    "email_bytes": len(raw),
    "status": parsed.status,
    "reason": parsed.reason,
    "attachments": [a.size for a in parsed.attachments],
    "text": text,
    "parse_extract_cpu_s": round(cpu, 2),
    "stages_mib": stages,
}))
"""


def run(total_bytes: int | None = None) -> dict:
    """Peak RSS (MiB) by stage for a maximal email, against the template's Lambda MemorySize."""
    total_bytes = total_bytes or MAX_EMAIL_BYTES - 64 * 1024  # just under the limit, as SES's 40 MB maximum
    with tempfile.NamedTemporaryFile(suffix=".eml", delete=False) as f:
        f.write(build_email(total_bytes))
        path = f.name
    try:
        env = dict(os.environ)
        env.setdefault("AWS_REGION", "us-east-1")
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, path], capture_output=True, text=True, check=True, env=env, timeout=120
        )
    finally:
        os.unlink(path)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["peak_mib"] = max(result["stages_mib"].values())
    result["lambda_memory_mb"] = lambda_memory_mb()
    if result["lambda_memory_mb"]:
        result["headroom_fraction"] = round(1 - result["peak_mib"] / result["lambda_memory_mb"], 2)
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
