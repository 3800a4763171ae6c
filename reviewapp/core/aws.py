"""boto3 clients for S3, SQS, SNS and DynamoDB, one per service, endpoint, region and timeouts.

Cached: a boto3 client is thread-safe and costs tens of milliseconds to build. Each caller
chooses its timeouts (a sync attempt must fail fast, an export upload may take a minute); the
SDK's retries are few because our own outboxes and queues retry with backoff. The endpoint is
None on AWS, an http:// URL for moto's server in the tests and in development.
"""

from __future__ import annotations

from functools import lru_cache

import boto3
from botocore.config import Config


@lru_cache(maxsize=32)
def client(
    service: str,
    *,
    endpoint_url: str | None,
    region: str,
    connect_timeout: float = 3,
    read_timeout: float = 30,
    attempts: int = 3,
):
    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"max_attempts": attempts, "mode": "standard"},
    )
    return boto3.client(service, endpoint_url=endpoint_url or None, region_name=region, config=config)


def reset() -> None:
    """Forget every client (a test that changes credentials in the environment)."""
    client.cache_clear()
