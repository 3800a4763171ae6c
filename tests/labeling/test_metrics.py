"""The sync's gauges on /metrics move when a sync fails (DynamoDB over HTTP: moto's server, and
a closed port for the outage)."""

import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.models import SyncState
from labeling.sync import engine as sync
from labeling.sync import state
from reviewapp.core import aws
from tests.labeling.helpers import processed_clip
from tests.reviewapp.test_metrics import scrape, value

D = SyncState.Destination
S = SyncState.Status


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def staff_client(client, world):
    client.force_login(world.operator)
    return client


@pytest.mark.django_db
def test_an_outage_shows_as_erroring_rows_and_a_growing_lag(world, staff_client, settings, dynamo_table):
    clip = processed_clip(world.cam_a)
    samples = scrape(staff_client)
    assert value(samples, "vigia_metrics_collector_up", collector="sync") == 1
    assert value(samples, "vigia_sync_rows", destination="dynamodb", status="pending") == 0

    settings.AWS_DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{_closed_port()}"
    aws.reset()
    sync.sync_destination(D.DYNAMODB)
    samples = scrape(staff_client)
    assert value(samples, "vigia_sync_rows", destination="dynamodb", status="pending") == 1
    assert value(samples, "vigia_sync_erroring_rows", destination="dynamodb") == 1
    assert value(samples, "vigia_sync_erroring_rows", destination="ls_task") == 0
    lag = value(samples, "vigia_sync_lag_seconds", destination="dynamodb")
    assert lag == pytest.approx((timezone.now() - clip.finished_at).total_seconds(), abs=5)


@pytest.mark.django_db
def test_a_permanent_failure_counts_as_failed_and_recovery_clears_it(
    world, staff_client, settings, dynamo_table, aws_endpoint
):
    processed_clip(world.cam_a)
    settings.DYNAMODB_TABLE = "no-such-table"  # the service answers ResourceNotFound: not retryable
    sync.sync_destination(D.DYNAMODB)
    samples = scrape(staff_client)
    assert value(samples, "vigia_sync_rows", destination="dynamodb", status="failed") == 1
    assert value(samples, "vigia_sync_erroring_rows", destination="dynamodb") == 1

    settings.DYNAMODB_TABLE = dynamo_table
    state.sync_retry_failed()
    SyncState.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    sync.sync_destination(D.DYNAMODB)
    samples = scrape(staff_client)
    assert value(samples, "vigia_sync_rows", destination="dynamodb", status="failed") == 0
    assert value(samples, "vigia_sync_rows", destination="dynamodb", status="done") == 1
    assert value(samples, "vigia_sync_erroring_rows", destination="dynamodb") == 0
    assert value(samples, "vigia_sync_lag_seconds", destination="dynamodb") == 0


@pytest.mark.django_db
def test_export_runs_are_gauges(world, staff_client):
    from labeling.models import ExportRun

    samples = scrape(staff_client)
    assert value(samples, "vigia_export_runs", status="failed") == 0
    assert value(samples, "vigia_export_last_done_age_seconds") == 0  # never
    ExportRun.objects.create(params={}, status=ExportRun.Status.FAILED, error="disk full")
    ExportRun.objects.create(params={}, status=ExportRun.Status.DONE, finished_at=timezone.now() - timedelta(hours=2))
    samples = scrape(staff_client)
    assert value(samples, "vigia_export_runs", status="failed") == 1
    assert value(samples, "vigia_export_runs", status="done") == 1
    assert value(samples, "vigia_export_last_done_age_seconds") == pytest.approx(7200, abs=60)
    assert value(samples, "vigia_metrics_collector_up", collector="exports") == 1
