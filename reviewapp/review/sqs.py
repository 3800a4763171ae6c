"""The clip-events queue on SQS (boto3): long-poll, delete, and move a message to the dead-letter
queue. The queue's own redrive policy names that queue; it also catches what the consumer never
gets to decide (a message that keeps failing, a consumer that dies on it)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache

from botocore.exceptions import BotoCoreError, ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from django.conf import settings

from reviewapp.core import aws
from reviewapp.core.errors import OutsideError

log = logging.getLogger(__name__)


class SQSError(OutsideError):
    service = "SQS"


@dataclass(frozen=True)
class Message:
    id: str
    receipt_handle: str
    body: str
    receive_count: int


def client():
    # read_timeout (30 s) above the long poll's 20 s, or every empty poll would time out.
    return aws.client("sqs", endpoint_url=settings.AWS_SQS_ENDPOINT_URL, region=settings.AWS_REGION, read_timeout=30)


def _call(what: str, fn, **kwargs):
    try:
        return fn(**kwargs)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise SQSError(f"SQS {what} failed: {code}: {exc}", retryable="NonExistent" not in code) from exc
    except (BotoConnectionError, BotoCoreError) as exc:
        raise SQSError(f"SQS unreachable ({what}): {exc}", retryable=True) from exc


def receive(*, queue_url: str, max_messages: int = 10, wait_seconds: int = 20) -> list[Message]:
    r = _call(
        "receive",
        client().receive_message,
        QueueUrl=queue_url,
        MaxNumberOfMessages=max_messages,
        WaitTimeSeconds=wait_seconds,
        MessageSystemAttributeNames=["ApproximateReceiveCount"],
    )
    return [
        Message(
            id=m["MessageId"],
            receipt_handle=m["ReceiptHandle"],
            body=m.get("Body", ""),
            receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
        )
        for m in r.get("Messages", [])
    ]


def delete(*, queue_url: str, message: Message) -> None:
    _call("delete", client().delete_message, QueueUrl=queue_url, ReceiptHandle=message.receipt_handle)


@lru_cache(maxsize=8)
def dead_letter_url(queue_url: str) -> str | None:
    """The dead-letter queue named by the queue's redrive policy; None when it has none."""
    attrs = _call("get attributes", client().get_queue_attributes, QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
    policy = attrs.get("Attributes", {}).get("RedrivePolicy")
    if not policy:
        return None
    arn = json.loads(policy)["deadLetterTargetArn"]  # arn:aws:sqs:<region>:<account>:<name>
    _, _, _, _, account, name = arn.split(":", 5)
    return _call("get url", client().get_queue_url, QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]


def dead_letter(*, queue_url: str, message: Message, reason: str, detail: str) -> bool:
    """Move the message to the dead-letter queue now (not after maxReceiveCount tries), the
    reason in its attributes, then delete it here. Without a dead-letter queue it is deleted
    (the caller has logged it). Returns whether it went to a dead-letter queue."""
    dlq = dead_letter_url(queue_url)
    if dlq is not None:
        _call(
            "send to the dead-letter queue",
            client().send_message,
            QueueUrl=dlq,
            MessageBody=message.body,
            MessageAttributes={
                "reason": {"DataType": "String", "StringValue": reason},
                "detail": {"DataType": "String", "StringValue": detail[:1000] or reason},
                "source_message_id": {"DataType": "String", "StringValue": message.id},
            },
        )
    delete(queue_url=queue_url, message=message)
    return dlq is not None
