"""An export run's progress (issue 16): images done of total on the run, written every
PROGRESS_EVERY images while it runs (not per image), reaching the total when done, shown on the
export page and in the admin."""

from labeling.export import service as export
from labeling.export import writers
from labeling.models import ExportRun
from tests.labeling.test_export import cameras, dataset, maker, run_export  # noqa: F401 (fixtures)
from tests.labeling.test_export_interfaces import staff


def test_the_run_records_its_progress_every_n_images_and_reaches_the_total(
    tmp_path,
    dataset,  # noqa: F811
    monkeypatch,
):
    monkeypatch.setattr(writers, "PROGRESS_EVERY", 3)
    seen = []  # the run's row as the page would read it after each report
    real_saver = export._progress_saver

    def saver(export_id):
        save = real_saver(export_id)

        def recorded(done, total):
            save(done, total)
            row = ExportRun.objects.get(id=export_id)
            seen.append((row.status, row.images_done, row.images_total))

        return recorded

    monkeypatch.setattr(export, "_progress_saver", saver)
    run = run_export(tmp_path, ratio=1.0, easy_share=0.25)
    assert run.status == ExportRun.Status.DONE, run.error
    images = run.counts["images"]
    assert images >= 6
    assert seen[0][:2] == ("running", 0) and seen[0][2] >= images  # the plan first
    assert [done for _, done, _ in seen] == list(range(0, images + 1, 3))[: len(seen)]
    assert len(seen) == images // 3 + 1, "every 3 images, not every image"
    assert all(status == "running" and done <= total for status, done, total in seen)
    assert (run.images_done, run.images_total, run.progress_percent) == (images, images, 100)


def test_the_export_page_and_the_admin_show_the_progress(world, dataset, tmp_path):  # noqa: F811
    run = run_export(tmp_path)
    ExportRun.objects.filter(id=run.id).update(status="running", images_done=7, images_total=28)
    client = staff(world)
    page = client.get("/labeling/exports/new/").content.decode()
    assert '<progress max="28" value="7"></progress> 7 of 28' in page
    assert "7 / 28 (25%)" in client.get("/admin/labeling/exportrun/").content.decode()
