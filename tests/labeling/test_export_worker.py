"""The command queues the export; a real Celery worker process runs it from the broker."""

from pathlib import Path

import pytest
from django.core.management import call_command

from labeling.models import ExportRun
from tests.labeling.exports import ClipMaker


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_queued_export(worker, world, tmp_path, settings, capsys):
    maker = ClipMaker(tmp_path)
    for cam in (world.cam_a, world.cam_b):
        maker.reviewed(cam, world.reviewer, verdict="person")
        maker.reviewed(cam, world.reviewer, verdict="no_person", tags=["dog"], alert=True)
    settings.EXPORT_TIME_LIMIT = 90  # how long --wait waits (the task keeps the limits it was declared with)
    call_command("export_training_set", "--out", str(tmp_path / "exports"), "--wait")
    assert worker.poll() is None, "the worker died"
    run = ExportRun.objects.get()
    assert run.status == ExportRun.Status.DONE and run.trigger == "command", run.error
    assert Path(run.location, "_COMPLETE").is_file()
    assert run.images_done == run.images_total == run.counts["images"] > 0  # its progress reached the total
    assert f"export {run.id} done" in capsys.readouterr().out
