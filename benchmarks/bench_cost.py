"""Cost per million emails in USD from the measured request counts, CPU times and memory (no measurement here).

One "email" is one inbound reply stored as a chat message plus the one notification it causes (one recipient,
immediate mode), the case bench_requests measures warm.
"""

from __future__ import annotations

import math

PRICES_DATE = "2025-01 (us-east-1 list prices as published then; DynamoDB on-demand after the Nov 2024 cut)"
PRICES = {
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_per_request": 0.20 / 1e6,
    "dynamodb_per_wru": 0.625 / 1e6,
    "dynamodb_per_rru": 0.125 / 1e6,
    "s3_put": 0.005 / 1000,
    "s3_get": 0.0004 / 1000,  # GET and HEAD
    "sqs_per_request": 0.40 / 1e6,
    "ses_inbound_per_email": 0.10 / 1000,
    "ses_inbound_per_256kb_chunk": 0.09 / 1000,
    "ses_outbound_per_email": 0.10 / 1000,
}
# Assumed in-region round trips, for the "with network" duration estimate only (not measured here).
ASSUMED_LATENCY_MS = {"dynamodb": 6.0, "s3": 20.0, "sesv2": 30.0, "sqs": 10.0, "secrets-manager": 10.0}
SQS_REQUESTS_PER_EMAIL = 3  # S3 event SendMessage + ReceiveMessage + DeleteMessage (unbatched: upper bound)


def _network_ms(by_operation: dict[str, int]) -> float:
    return sum(n * ASSUMED_LATENCY_MS.get(op.split(".")[0], 10.0) for op, n in by_operation.items())


def run(requests: dict, inbound_cpu: dict, memory_mb: int, mean_email_bytes: int) -> dict:
    """USD per million emails, by service, for a lower bound and a with-network estimate of Lambda duration."""
    immediate = requests["immediate"]
    inbound = immediate["inbound_stored_email"]
    notify = immediate["notify_agent_reply_to_user"]
    gb = memory_mb / 1024
    cpu_ms = inbound["handler_cpu_ms"] + notify["handler_cpu_ms"]
    net_ms = _network_ms(inbound["by_operation"]) + _network_ms(notify["by_operation"])
    s3_ops = inbound["by_operation"]
    s3_gets = s3_ops.get("s3.GetObject", 0) + s3_ops.get("s3.HeadObject", 0)
    s3_puts = 1 + s3_ops.get("s3.PutObject", 0)  # SES stores the raw mail; attachments (none here) add puts
    chunks = max(1, math.ceil(mean_email_bytes / (256 * 1024)))
    p = PRICES
    per_email = {
        "lambda_requests": 2 * p["lambda_per_request"],
        "dynamodb": (inbound["wru"] + notify["wru"]) * p["dynamodb_per_wru"]
        + (inbound["rru"] + notify["rru"]) * p["dynamodb_per_rru"],
        "s3": s3_puts * p["s3_put"] + s3_gets * p["s3_get"],
        "sqs": SQS_REQUESTS_PER_EMAIL * p["sqs_per_request"],
        "ses_inbound": p["ses_inbound_per_email"] + chunks * p["ses_inbound_per_256kb_chunk"],
        "ses_outbound": notify["ses"] * p["ses_outbound_per_email"],
    }
    lower = dict(per_email, lambda_duration=gb * cpu_ms / 1000 * p["lambda_gb_second_arm64"])
    estimate = dict(per_email, lambda_duration=gb * (cpu_ms + net_ms) / 1000 * p["lambda_gb_second_arm64"])
    million = 1e6
    return {
        "prices_date": PRICES_DATE,
        "memory_mb": memory_mb,
        "cpu_ms_per_email": round(cpu_ms, 1),
        "assumed_network_ms_per_email": round(net_ms, 1),
        "pure_inbound_cpu_ms": inbound_cpu.get("ours_ms_per_msg"),
        "ses_chunks_per_email": chunks,
        "wru_per_email": inbound["wru"] + notify["wru"],
        "rru_per_email": inbound["rru"] + notify["rru"],
        "usd_per_million_lower_bound": {k: round(v * million, 2) for k, v in lower.items()},
        "usd_per_million_with_network": {k: round(v * million, 2) for k, v in estimate.items()},
        "total_lower_bound": round(sum(lower.values()) * million, 2),
        "total_with_network": round(sum(estimate.values()) * million, 2),
    }
