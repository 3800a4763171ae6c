"""The Celery broker's transport options, by transport (read by settings.py only).

- filesystem:// (the embedded default): kombu's folders under BROKER_DIR.
- redis:// and sqs://: an unacked message goes to another worker after `visibility_timeout`
  (a worker whose main process died hands its message back then). It is transport-wide: longer
  than ANY acks_late task may take (the global hard limit: exports, drift checks), or one still
  running is handed out twice; a clip does not wait for it (the stuck-clip sweep).
- sqs:// (docs/operations.md#scaling-out): no broker to run. The queues are the template's
  (infra/cloudformation/vigia.yaml), named so kombu never lists or creates one; each needs its
  URL. kombu's SQS endpoint is the broker URL's host (sqs://host:port): with AWS_SQS_ENDPOINT_URL
  (moto) set, it goes in the read/write URLs, which Celery takes over its CELERY_BROKER_URL
  variable (sqs://).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

QUEUES = ("inference", "default", "exports")


def transport_options(
    *,
    broker_url: str,
    broker_dir: Path,
    visibility_timeout: int,
    sqs_endpoint_url: str | None,
    sqs_queue_urls: dict[str, str] | None,
    region: str,
) -> tuple[dict, str | None]:
    """(CELERY_BROKER_TRANSPORT_OPTIONS, the SQS read/write URL or None)."""
    if broker_url.startswith("filesystem://"):
        folders = {"data_folder_in": "out", "data_folder_out": "out", "processed_folder": "processed"}
        options = {key: str(broker_dir / name) for key, name in folders.items()}
        return {**options, "control_folder": str(broker_dir / "control"), "store_processed": False}, None
    if broker_url.startswith("sqs://"):
        endpoint = urlsplit(sqs_endpoint_url or "")
        read_write = f"sqs://{endpoint.netloc}" if endpoint.netloc and broker_url == "sqs://" else None
        return {
            "region": region,
            "is_secure": {"http": False, "https": True}.get(endpoint.scheme),  # None: kombu's default
            "visibility_timeout": visibility_timeout,
            "wait_time_seconds": 20,  # long polls: fewer (billed) empty receives
            "predefined_queues": {queue: {"url": url} for queue, url in (sqs_queue_urls or {}).items()},
        }, read_write
    # kombu's Redis transport restores unacked messages every interval x throttle s (10 x 10 by default): 10 s.
    return {
        "visibility_timeout": visibility_timeout,
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
    }, None
