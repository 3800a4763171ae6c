"""DynamoDB: one item per clip, keyed by clip id (boto3 behind a few typed functions).

Off while DYNAMODB_TABLE is unset. Every error leaves as DynamoError, which says whether
retrying helps.

Writes: the bulk path is BatchWriteItem in requests of 25 with UnprocessedItems retried with
backoff; BatchWriteItem takes no conditions, so the path that must never let an older update
overwrite a newer one is `put_if_newer`, a conditional PutItem on the item's `version`.
"""

from __future__ import annotations

import random
import time
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from reviewapp.core import aws
from reviewapp.core.errors import OutsideError

BATCH = 25  # BatchWriteItem's limit
GSI_CAMERA = "by_camera_time"
GSI_DAY_SCORE = "by_day_score"
_RETRYABLE_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "LimitExceededException",
}


class DynamoError(OutsideError):
    service = "DynamoDB"


def enabled() -> bool:
    return bool(settings.DYNAMODB_TABLE)


def _client():
    # Short timeouts and few SDK retries: an outage must fail a sync attempt fast (our own
    # SyncState rows retry with backoff), not hold a worker for minutes.
    return aws.client(
        "dynamodb",
        endpoint_url=settings.AWS_DYNAMODB_ENDPOINT_URL,
        region=settings.AWS_REGION,
        connect_timeout=2,
        read_timeout=10,
        attempts=2,
    )


def _error(exc: Exception) -> DynamoError:
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return DynamoError(f"{code}: {exc}", retryable=code in _RETRYABLE_CODES or status >= 500)
    return DynamoError(f"{type(exc).__name__}: {exc}", retryable=True)  # connection trouble


# ---------------------------------------------------------------------------------- table


def table_definition(name: str) -> dict[str, Any]:
    """The table in code. `day` + `score` is the score-band index: the clips of one day between
    two scores come from one Query (the periodic near-threshold extraction), never a Scan."""
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": "clip_id", "AttributeType": "S"},
            {"AttributeName": "camera", "AttributeType": "S"},
            {"AttributeName": "recorded_at", "AttributeType": "S"},
            {"AttributeName": "day", "AttributeType": "S"},
            {"AttributeName": "score", "AttributeType": "N"},
        ],
        "KeySchema": [{"AttributeName": "clip_id", "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": GSI_CAMERA,
                "KeySchema": [
                    {"AttributeName": "camera", "KeyType": "HASH"},
                    {"AttributeName": "recorded_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": GSI_DAY_SCORE,
                "KeySchema": [
                    {"AttributeName": "day", "KeyType": "HASH"},
                    {"AttributeName": "score", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
    }


def table_create() -> bool:
    """Create the table if missing. Returns True when it was created."""
    try:
        _client().create_table(**table_definition(settings.DYNAMODB_TABLE))
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceInUseException":
            return False
        raise _error(exc) from exc
    except BotoCoreError as exc:
        raise _error(exc) from exc
    _client().get_waiter("table_exists").wait(TableName=settings.DYNAMODB_TABLE, WaiterConfig={"Delay": 1})
    return True


# ------------------------------------------------------------------------- (de)serialising


def _attr(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float, Decimal)):
        return {"N": str(Decimal(str(value)))}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (list, tuple)):
        return {"L": [_attr(v) for v in value]}
    raise TypeError(f"cannot store {type(value).__name__}")


def _encode(item: dict[str, Any]) -> dict[str, Any]:
    # None means "absent": an index key attribute must be absent rather than NULL.
    return {k: _attr(v) for k, v in item.items() if v is not None}


def _decode(raw: dict[str, Any]) -> dict[str, Any]:
    def one(a):
        ((kind, v),) = a.items()
        if kind == "N":
            d = Decimal(v)
            return int(d) if d == d.to_integral_value() and "." not in v else float(d)
        if kind == "L":
            return [one(x) for x in v]
        return v

    return {k: one(v) for k, v in raw.items()}


# ---------------------------------------------------------------------------------- writes


def batch_put(items: list[dict[str, Any]], *, max_rounds: int = 6, base_delay: float = 0.05) -> list[str]:
    """Write items with BatchWriteItem, 25 per request. UnprocessedItems (throttling) are sent
    again with exponential backoff and jitter. Returns the clip ids still unprocessed after
    `max_rounds`: the caller leaves those pending. Raises DynamoError when a request fails."""
    table = settings.DYNAMODB_TABLE
    left: list[str] = []
    for start in range(0, len(items), BATCH):
        requests = [{"PutRequest": {"Item": _encode(i)}} for i in items[start : start + BATCH]]
        for round_ in range(max_rounds):
            try:
                response = _client().batch_write_item(RequestItems={table: requests})
            except (ClientError, BotoCoreError) as exc:
                raise _error(exc) from exc
            requests = response.get("UnprocessedItems", {}).get(table, [])
            if not requests:
                break
            time.sleep(base_delay * (2**round_) * (0.5 + random.random()))
        left += [r["PutRequest"]["Item"]["clip_id"]["S"] for r in requests]
    return left


def put_if_newer(item: dict[str, Any]) -> bool:
    """Write one item unless the table holds a newer version of it. Returns False when it did
    (our update is older: nothing to do). An equal version is written again: the same change
    sent twice (a retry after a crash) is harmless."""
    try:
        _client().put_item(
            TableName=settings.DYNAMODB_TABLE,
            Item=_encode(item),
            ConditionExpression="attribute_not_exists(clip_id) OR version <= :v",
            ExpressionAttributeValues={":v": _attr(item["version"])},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise _error(exc) from exc
    except BotoCoreError as exc:
        raise _error(exc) from exc
    return True


# ----------------------------------------------------------------------------------- reads


def get(clip_id: str) -> dict[str, Any] | None:
    try:
        raw = _client().get_item(
            TableName=settings.DYNAMODB_TABLE, Key={"clip_id": {"S": clip_id}}, ConsistentRead=True
        )
    except (ClientError, BotoCoreError) as exc:
        raise _error(exc) from exc
    return _decode(raw["Item"]) if "Item" in raw else None


def _query(**kwargs) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    try:
        for page in _client().get_paginator("query").paginate(TableName=settings.DYNAMODB_TABLE, **kwargs):
            out += [_decode(i) for i in page["Items"]]
    except (ClientError, BotoCoreError) as exc:
        raise _error(exc) from exc
    return out


def clips_in_score_band(*, day: str, low: float, high: float) -> list[dict[str, Any]]:
    """The clips recorded on `day` (YYYY-MM-DD, UTC) scoring within [low, high]: one Query."""
    return _query(
        IndexName=GSI_DAY_SCORE,
        KeyConditionExpression="#d = :d AND score BETWEEN :lo AND :hi",
        ExpressionAttributeNames={"#d": "day"},
        ExpressionAttributeValues={":d": {"S": day}, ":lo": _attr(low), ":hi": _attr(high)},
    )


def clips_of_camera(*, camera: str, since: str, until: str) -> list[dict[str, Any]]:
    return _query(
        IndexName=GSI_CAMERA,
        KeyConditionExpression="camera = :c AND recorded_at BETWEEN :a AND :b",
        ExpressionAttributeValues={":c": {"S": camera}, ":a": {"S": since}, ":b": {"S": until}},
    )
