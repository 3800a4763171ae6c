"""The ways an export starts: the staff page (linked from error analysis), the admin, the
command, the weekly schedule. All of them check first and create nothing on bad input."""

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from labeling.export import service as export
from labeling.export import tasks
from labeling.models import ExportRun
from tests.labeling.exports import ClipMaker


@pytest.fixture(autouse=True)
def export_root(settings, tmp_path):
    settings.EXPORT_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def dataset(world, tmp_path):
    maker = ClipMaker(tmp_path)
    for cam in (world.cam_a, world.cam_b):
        maker.reviewed(cam, world.reviewer, verdict="person")
        maker.reviewed(cam, world.reviewer, verdict="no_person", tags=["dog"], alert=True)
    maker.reviewed(world.cam_a, world.reviewer, verdict="no_person", tags=["insect"], alert=True)


@pytest.fixture
def queued(monkeypatch):
    """The task queue (the outside system): what would be sent to the broker."""
    sent = []
    monkeypatch.setattr(export, "_enqueue", sent.append)
    return sent


def staff(world):
    """The operator, with the labeling app's admin permissions (an operator's usual grant)."""
    from django.contrib.auth.models import Permission

    world.operator.user_permissions.add(*Permission.objects.filter(content_type__app_label="labeling"))
    client = Client()
    client.force_login(world.operator)
    return client


def test_the_page_is_for_staff_only(world):
    anonymous = Client().get("/labeling/exports/new/")
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    for user in (world.reviewer, world.customer_a):
        client = Client()
        client.force_login(user)
        assert client.get("/labeling/exports/new/").status_code == 403
        assert client.post("/labeling/exports/new/", {"ratio": "1"}).status_code == 403
    assert not ExportRun.objects.exists()


def test_the_page_is_prefilled_from_the_shared_filters_and_previews_the_selection(world, dataset):
    response = staff(world).get(
        "/labeling/exports/new/?camera=acme-door&camera=globex-gate&tag=dog&since=2020-01-01&until=2099-12-31"
        "&model_version=test"
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert 'value="acme-door, globex-gate"' in page
    assert 'name="tag" value="dog" checked' in page and 'name="tag" value="insect" checked' not in page
    assert 'value="2020-01-01"' in page and 'value="2099-12-31"' in page and 'value="test"' in page
    # Two positives; dog-tagged negatives only (the tag filter), ratio 1 with a quarter plain -> 2 hard.
    assert "2 positive, 2 hard-negative and 0 plain-negative" in page


def test_the_page_queues_a_valid_export_and_sends_to_its_admin_page(
    world, dataset, queued, tmp_path, django_capture_on_commit_callbacks
):
    client = staff(world)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/labeling/exports/new/",
            {
                "camera": "acme-door",
                "tag": ["dog"],
                "out": str(tmp_path / "out"),
                "ratio": "1",
                "augment": "none",
                "split": "0.7,0.15,0.15",
                "seed": "3",
            },
        )
    run = ExportRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/admin/labeling/exportrun/{run.id}/change/"
    assert run.status == ExportRun.Status.QUEUED and run.trigger == "page" and run.requested_by == world.operator
    assert run.params["camera"] == ["acme-door"] and run.params["tag"] == ["dog"] and run.params["seed"] == 3
    assert queued == [run.id]
    assert client.get(response["Location"]).status_code == 200


def test_the_page_shows_errors_and_queues_nothing(world, dataset, queued):
    response = staff(world).post("/labeling/exports/new/", {"ratio": "0", "tag": ["unicorn"], "camera": "acme-door"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "must be &gt; 0" in page and "unknown tag(s): unicorn" in page
    assert 'value="acme-door"' in page, "what was typed stays"
    assert not ExportRun.objects.exists() and queued == []


def test_the_admin_lists_runs_with_a_new_export_button_and_runs_again(
    world, dataset, queued, tmp_path, django_capture_on_commit_callbacks
):
    client = staff(world)
    with django_capture_on_commit_callbacks(execute=True):
        run = export.export_request(options={"out": str(tmp_path / "o")}, user=world.operator)
    page = client.get("/admin/labeling/exportrun/").content.decode()
    assert 'href="/labeling/exports/new/"' in page and run.name in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/labeling/exportrun/", {"action": "run_again", "_selected_action": [run.id]})
    assert response.status_code == 302
    again = ExportRun.objects.exclude(id=run.id).get()
    assert again.params == run.params and again.trigger == "admin"
    assert queued == [run.id, again.id]
    for url in ("/admin/labeling/extractionperiod/", "/admin/labeling/extractedclip/"):
        assert client.get(url).status_code == 200


def test_the_command_runs_an_export_here(world, dataset, tmp_path, capsys):
    call_command(
        "export_training_set",
        "--out",
        str(tmp_path / "cmd"),
        "--camera",
        "acme-door",
        "--camera",
        "globex-gate",
        "--ratio",
        "1.5",
        "--here",
    )
    run = ExportRun.objects.get()
    assert run.status == ExportRun.Status.DONE and run.trigger == "command"
    assert Path(run.location, "_COMPLETE").is_file()
    out = capsys.readouterr().out
    assert f"export {run.id} done: {run.location}" in out


def test_the_command_queues_by_default(world, dataset, tmp_path, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("export_training_set", "--out", str(tmp_path / "cmd"))
    assert queued == [ExportRun.objects.get().id]


def test_the_command_refuses_bad_options(world, dataset, tmp_path):
    with pytest.raises(CommandError, match="ratio: must be > 0"):
        call_command("export_training_set", "--out", str(tmp_path), "--ratio", "0")
    with pytest.raises(CommandError, match="unknown tag"):
        call_command("export_training_set", "--out", str(tmp_path), "--tag", "unicorn")
    with pytest.raises(CommandError, match="empty selection"):
        call_command("export_training_set", "--out", str(tmp_path), "--until", "2001-01-01")
    assert not ExportRun.objects.exists()


def test_the_weekly_schedule_creates_and_runs_one_export(
    world, dataset, tmp_path, settings, queued, django_capture_on_commit_callbacks
):
    settings.EXPORT_OUT = str(tmp_path / "weekly")
    settings.EXPORT_SCHEDULE_OPTIONS = {"ratio": 2, "augment": "none"}
    with django_capture_on_commit_callbacks(execute=True):
        tasks.run_export()
    run = ExportRun.objects.get()
    assert run.trigger == "schedule" and run.status == ExportRun.Status.DONE
    assert run.params["ratio"] == 2.0 and Path(run.location).parent == tmp_path / "weekly"
    assert queued == [], "runs in the scheduled task itself, not queued a second time"


def test_the_weekly_schedule_with_nothing_to_export_starts_nothing(db, tmp_path, settings):
    settings.EXPORT_OUT = str(tmp_path / "weekly")
    tasks.run_export()
    assert not ExportRun.objects.exists()


def test_the_beat_schedule_has_both_jobs(settings):
    assert settings.CELERY_BEAT_SCHEDULE["labeling-near-threshold"]["task"] == "labeling.tasks.extract_near_threshold"
    assert settings.CELERY_BEAT_SCHEDULE["labeling-weekly-export"]["task"] == "labeling.tasks.run_export"


def test_the_page_only_writes_local_exports_under_the_export_root(world, dataset, settings, tmp_path):
    settings.EXPORT_ROOT = tmp_path / "exports"
    response = staff(world).post("/labeling/exports/new/", {"out": "/etc/vigia"})
    assert response.status_code == 400 and "must be inside" in response.content.decode()
    assert not ExportRun.objects.exists()
    response = staff(world).post("/labeling/exports/new/", {"out": str(tmp_path / "exports" / "team-a")})
    assert response.status_code == 302 and ExportRun.objects.count() == 1


# ------------------------------------------------------------ the options, declared once


def good_and_bad(world, tmp_path) -> dict:
    """For every declared option: a value the command and the page must take (given as text),
    what the run then stores, and a value the checks must refuse (None: any text is fine).
    A new option fails `test_every_declared_option_...` until it is added here."""
    return {
        "camera": ("acme-door", ["acme-door"], "nowhere"),
        "customer": (str(world.acme.id), world.acme.id, "999999"),
        "tag": ("dog", ["dog"], "unicorn"),
        "since": ("2020-01-01", "2020-01-01", "2020-02-30"),
        "until": ("2099-12-31T12:00", "2099-12-31T12:00", "tomorrow"),
        "model_version": ("test", "test", None),
        "out": (str(tmp_path / "o"), str(tmp_path / "o"), "ftp://host/x"),
        "ratio": ("1.5", 1.5, "0"),
        "easy_share": ("0.5", 0.5, "1.5"),
        "camera_cap": ("5", 5, "0"),
        "tag_cap": ("4", 4, "x"),
        "frames_per_clip": ("2", 2, "51"),
        "box_min_score": ("0.4", 0.4, "2"),
        "split": ("8,1,1", [0.8, 0.1, 0.1], "1,1"),
        "seed": ("7", 7, "1.5"),
        "augment": ("none", "none", "everything"),
        "augment_max": ("1", 1, "11"),
        "jpeg_quality": ("80", 80, "40"),
    }


def test_every_declared_option_is_taken_by_the_command_and_the_page_and_checked(
    world, dataset, tmp_path, queued, settings
):
    from labeling.export.options import OPTION_NAMES, export_options_clean
    from reviewapp.core.errors import ApplicationError

    settings.EXPORT_ROOT = tmp_path
    table = good_and_bad(world, tmp_path)
    assert set(table) == set(OPTION_NAMES), "every declared option has a row here"
    stored = {name: row[1] for name, row in table.items()}

    args = [a for name, (good, _, _) in table.items() for a in ("--" + name.replace("_", "-"), good)]
    call_command("export_training_set", *args)
    by_command = ExportRun.objects.get()
    assert {k: by_command.params[k] for k in OPTION_NAMES} == stored

    client = staff(world)
    form = client.get("/labeling/exports/new/").content.decode()
    for name in OPTION_NAMES:
        assert f'name="{name}"' in form, f"the page asks for {name}"
    response = client.post("/labeling/exports/new/", {name: good for name, (good, _, _) in table.items()})
    assert response.status_code == 302, response.content.decode()[-2000:]
    by_page = ExportRun.objects.exclude(id=by_command.id).get()
    assert {k: by_page.params[k] for k in OPTION_NAMES} == stored

    for name, (_, _, bad) in table.items():
        if bad is None:
            continue
        with pytest.raises(ApplicationError) as exc:
            export_options_clean({name: bad})
        assert list(exc.value.fields) == [name]
        with pytest.raises(CommandError, match=f"{name}: "):
            call_command("export_training_set", "--" + name.replace("_", "-"), bad)
    assert ExportRun.objects.count() == 2


def test_the_analysis_page_and_the_export_read_a_query_string_alike(world, dataset):
    """The shared vocabulary: what the analysis page's export link carries, the export reads as
    the same filters (a date-time `until` included)."""
    from django.http import QueryDict

    from labeling.export.options import export_options_clean
    from labeling.export.views import _raw
    from reviewapp.monitoring.analysis import Slice
    from reviewapp.review.filters import FILTER_NAMES

    query = QueryDict(
        f"camera=globex-gate&camera=acme-door&customer={world.acme.id}&tag=dog&tag=insect"
        "&since=2026-11-01&until=2026-11-30T12:00&model_version=test"
    )
    seen, exported = Slice.from_query(query), export_options_clean(_raw(query))
    assert {n: getattr(seen, n) for n in FILTER_NAMES} == {n: getattr(exported, n) for n in FILTER_NAMES}
    assert exported.camera == ("acme-door", "globex-gate") and exported.tag == ("dog", "insect")
    assert (seen.since_at, seen.until_before) == (exported.since_at, exported.until_before)
    # and the link the analysis page makes carries all of it
    assert Slice.from_query(QueryDict(seen.query_string(export_only=True))) == seen
