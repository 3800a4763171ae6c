"""Decision → next item visible on the queue page, in Chromium, with many clips in the database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigia_i16f \\
        python benchmarks/bench_review_flow.py [--clips 1000000] [--open 100000] [--decisions 40]

Seeds the database with bulk SQL (copies of one real processed demo clip: its file, frames and
preview are real, the rows are many; `--open` of them are open review items, the rest decided),
starts `manage.py runserver` on it, and drives Debian's Chromium (headless, Playwright) as a
reviewer pressing N, the way a reviewer does: the next decision once the item is on screen and
its frames have loaded (a reviewer looks before deciding).

Two flows in the same run, each with its own reviewer:
- one page (review/flow.js): measured in the page, performance.now() from the keydown to the
  requestAnimationFrame after the next item's panel is swapped in;
- the old page-reload flow (flow.js blocked; the previous keyboard handler submits the form):
  from the keydown (performance.timeOrigin + now(), kept in sessionStorage) to the
  requestAnimationFrame after DOMContentLoaded of the next page.
Prints p50 / p95 / max in ms for each, the clip count, and how often the next item's frames were
already loaded when it appeared (the prefetch's preload).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "bench-pw-123456"

OLD_FLOW = """
(() => {
  const done = () => requestAnimationFrame(() => {
    const t0 = sessionStorage.getItem("t0");
    if (t0) {
      const list = JSON.parse(sessionStorage.getItem("times") || "[]");
      list.push(performance.timeOrigin + performance.now() - parseFloat(t0));
      sessionStorage.setItem("times", JSON.stringify(list));
      sessionStorage.removeItem("t0");
    }
    window.oldFlowReady = true;
  });
  document.addEventListener("DOMContentLoaded", done);
  document.addEventListener("keydown", (e) => {
    const form = document.getElementById("decision");
    if (!form || e.key.toLowerCase() !== "n") return;
    sessionStorage.setItem("t0", String(performance.timeOrigin + performance.now()));
    const input = document.createElement("input");
    input.type = "hidden"; input.name = "verdict"; input.value = "no_person";
    form.appendChild(input);
    form.submit();
  });
})();
"""


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.project.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # served by WhiteNoise, as deployed


def template_item():
    """One real clip, processed (frames, detections), its review item: what the copies copy."""
    from django.utils import timezone

    from reviewapp.review import ingest, processing, queue
    from reviewapp.review.demo import photo, write_clip
    from reviewapp.review.models import Camera, Customer, ReviewItem

    found = ReviewItem.objects.filter(clip__camera__name="bench-door").order_by("id").first()
    if found is not None:
        return found
    customer, _ = Customer.objects.get_or_create(name="Bench")
    camera, _ = Camera.objects.get_or_create(name="bench-door", defaults={"customer": customer})
    path = write_clip(Path(tempfile.mkdtemp()) / "bench.mp4", photo("astronaut"), seconds=4, fps=5)
    clip, _ = ingest.clip_ingest(camera=camera, path=str(path), recorded_at=timezone.now())
    processing.clip_process(clip_id=clip.id)
    return queue.review_item_enqueue(clip=clip, reason=ReviewItem.Reason.NEAR_THRESHOLD)


def _copy_columns(model, overrides: dict[str, str], skip=()) -> tuple[str, str]:
    columns = [f.column for f in model._meta.concrete_fields if f.column not in skip]
    return ", ".join(columns), ", ".join(overrides.get(c, f"t.{c}") for c in columns)


def seed(clips: int, open_items: int, batch: int = 100_000) -> int:
    """Copies of the template clip until there are `clips`, each with a review item."""
    from django.db import connection

    from reviewapp.review.models import Clip, ReviewItem

    template = template_item()
    have = Clip.objects.count()
    clip_cols, clip_values = _copy_columns(
        Clip,
        {
            "id": "gen_random_uuid()",
            "sha256": "md5(g::text || 'a') || md5(g::text || 'b')",
            "recorded_at": "t.recorded_at - g * interval '7 seconds'",
            "external_id": "NULL",
            "score": "0.3 + random() * 0.4",
            "alert_sent_at": "NULL",
        },
    )
    item_cols, item_values = _copy_columns(
        ReviewItem,
        {
            "clip_id": "c.id",
            "distance": "0.01 + random()",
            "state": f"CASE WHEN random() < {open_items / max(clips, 1):.6f} THEN 'open' ELSE 'done' END",
            "claimed_by_id": "NULL",
            "claimed_until": "NULL",
        },
        skip=("id",),
    )
    clip_table, item_table = Clip._meta.db_table, ReviewItem._meta.db_table
    while have < clips:
        n = min(batch, clips - have)
        started = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute(
                f"WITH new AS (INSERT INTO {clip_table} ({clip_cols}) SELECT {clip_values} "
                f"FROM {clip_table} t, generate_series(%s, %s) g WHERE t.id = %s RETURNING id) "
                f"INSERT INTO {item_table} ({item_cols}) SELECT {item_values} "
                f"FROM new c, {item_table} t WHERE t.id = %s",
                [have + 1, have + n, template.clip_id, template.id],
            )
        have += n
        print(f"  seeded {have:,} clips ({time.perf_counter() - started:.1f} s for {n:,})", flush=True)
    with connection.cursor() as cur:
        cur.execute(f"ANALYZE {clip_table}; ANALYZE {item_table}")
    return have


def reviewers():
    from django.contrib.auth import get_user_model

    from reviewapp.review.models import Profile

    users = []
    for name in ("bench-new", "bench-old"):
        user = get_user_model().objects.filter(username=name).first()
        if user is None:
            user = get_user_model().objects.create_user(username=name, password=PASSWORD)
            Profile.objects.create(user=user, role="reviewer")
        users.append(name)
    return users


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    """runserver, threaded; WhiteNoise serves the collected static files (--nostatic), as deployed."""
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", "--nostatic", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_ALLOW_ASYNC_UNSAFE": "1"},
        stdout=subprocess.DEVNULL,
        stderr=open(os.environ.get("BENCH_SERVER_LOG", os.devnull), "w"),  # noqa: SIM115
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit("runserver did not start")


def login(page, url: str, username: str) -> None:
    page.goto(f"{url}/review/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/review/")


FRAMES_LOADED = "[...document.querySelectorAll('#flow .strip img')].every(i => i.complete)"
# The prefetched item's frames too: a reviewer looks at a clip for longer than they take to load.
NEXT_LOADED = "[...document.querySelectorAll('#prefetch .strip img')].every(i => i.complete)"


def run_new(browser, url: str, decisions: int) -> tuple[list[float], list[bool]]:
    page = browser.new_page()
    page.set_default_timeout(30000)
    login(page, url, "bench-new")
    for i in range(decisions):
        page.wait_for_selector("#prefetch .review-panel", state="attached")  # the next one, claimed
        page.wait_for_function(FRAMES_LOADED)  # the reviewer looks at this one
        page.wait_for_function(NEXT_LOADED)
        page.keyboard.press("n")
        page.wait_for_function(f"window.vigiaFlow.timings.length > {i}")
    stats = page.evaluate("window.vigiaFlow")
    page.close()
    return stats["timings"], stats["preloaded"]


def run_old(browser, url: str, decisions: int) -> list[float]:
    context = browser.new_context()
    context.route("**/static/review/flow.js", lambda route: route.abort())
    context.add_init_script(OLD_FLOW)
    page = context.new_page()
    page.set_default_timeout(30000)
    login(page, url, "bench-old")
    for _i in range(decisions):
        page.wait_for_function("window.oldFlowReady === true")
        page.wait_for_function(FRAMES_LOADED)
        with page.expect_navigation():
            page.keyboard.press("n")
    page.wait_for_function("window.oldFlowReady === true")
    times = page.evaluate("JSON.parse(sessionStorage.getItem('times') || '[]')")
    context.close()
    return times


def summary(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"{name:<22} n={len(times):<4} p50 {statistics.median(ordered):7.1f} ms   "
        f"p95 {p95:7.1f} ms   max {ordered[-1]:7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=100_000, help="how many of them are open review items")
    parser.add_argument("--decisions", type=int, default=40)
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    total = seed(args.clips, args.open)
    reviewers()
    from reviewapp.review.models import ReviewItem

    open_count = ReviewItem.objects.filter(state=ReviewItem.State.OPEN).count()
    print(f"clips: {total:,}   open review items: {open_count:,}")
    connection.close()

    from playwright.sync_api import sync_playwright

    port = free_port()
    server = start_server(port)
    url = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            new, preloaded = run_new(browser, url, args.decisions)
            old = run_old(browser, url, args.decisions)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(summary("one page (flow.js)", new))
    print(summary("page reload (old)", old))
    print(f"next item's frames already loaded when shown: {sum(preloaded)}/{len(preloaded)}")
    print(f"target: p95 <= 150 ms: {'met' if sorted(new)[round(0.95 * (len(new) - 1))] <= 150 else 'NOT met'}")


if __name__ == "__main__":
    main()
