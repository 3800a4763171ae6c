"""Alerts to customers through SNS (boto3). Off (logged only) when no topic is configured."""

from __future__ import annotations

import json
import logging

from botocore.exceptions import BotoCoreError, ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from django.conf import settings

from reviewapp.core import aws
from reviewapp.core.errors import OutsideError

log = logging.getLogger(__name__)

# Throttling and server-side errors are worth another try; a bad topic or a denied permission is not.
_RETRYABLE_CODES = {"Throttling", "ThrottlingException", "InternalError", "InternalFailure", "ServiceUnavailable"}


class SNSError(OutsideError):
    service = "SNS"


def _client():
    # Short: a slow SNS must not hold the sender; the outbox retries with backoff.
    return aws.client(
        "sns", endpoint_url=settings.AWS_SNS_ENDPOINT_URL, region=settings.AWS_REGION, read_timeout=5, attempts=2
    )


def publish_alert(*, message: dict, group_id: str, dedup_id: str) -> str | None:
    """Publish one alert. Returns the SNS message id, or None when alerts are only logged.

    `dedup_id` (the clip id) is the message's deduplication key: on a FIFO topic (its ARN ends
    in `.fifo`) SNS's own `MessageDeduplicationId`, with the camera as `MessageGroupId`, so an
    alert published twice within SNS's 5-minute window reaches subscribers once; on a standard
    topic the `clip_id` attribute, for subscribers to drop a repeat."""
    topic = settings.ALERT_SNS_TOPIC_ARN
    if not topic:
        log.info("alert (no SNS topic configured): %s", json.dumps(message))
        return None
    request = {
        "TopicArn": topic,
        "Message": json.dumps(message),
        "MessageAttributes": {
            "camera": {"DataType": "String", "StringValue": group_id},
            "clip_id": {"DataType": "String", "StringValue": dedup_id},
        },
    }
    if topic.endswith(".fifo"):
        request.update(MessageDeduplicationId=dedup_id, MessageGroupId=group_id)
    try:
        response = _client().publish(**request)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise SNSError(f"SNS publish failed: {code}: {exc}", retryable=code in _RETRYABLE_CODES) from exc
    except (BotoConnectionError, BotoCoreError) as exc:
        raise SNSError(f"SNS unreachable: {exc}", retryable=True) from exc
    return response["MessageId"]
