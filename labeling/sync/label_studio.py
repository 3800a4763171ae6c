"""Label Studio (label-studio-sdk 2.x) behind a few typed functions.

Off while LABEL_STUDIO_URL is unset. Every error leaves as LabelStudioError, which says whether
retrying helps (connection trouble, 429, 5xx) or not (4xx: our request is wrong).

The SDK is imported when the first request is made, not with this module: importing it imports
pandas and every generated client (~1 s, ~60 MB), and the admin and the sync's state module load
this module in every web process, beat and `manage.py` call.
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import quoteattr

import httpx
from django.conf import settings

from reviewapp.core.errors import OutsideError

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

WEBHOOK_ACTIONS = ["ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED"]
WEBHOOK_SECRET_HEADER = "X-Vigia-Webhook-Secret"
# Annotations Vigia writes carry a unique_id made from this prefix and the review id, so the
# webhook recognises its own echo and a retried create is refused as a duplicate, not doubled.
_OURS = "76696769-6100-4000-8000-"  # "vigia"


class LabelStudioError(OutsideError):
    service = "Label Studio"

    def __init__(self, message: str, *, retryable: bool, status: int | None = None):
        super().__init__(message, retryable=retryable)
        self.status = status  # the HTTP status, when there was an answer


def enabled() -> bool:
    return bool(settings.LABEL_STUDIO_URL)


@lru_cache(maxsize=1)
def _client() -> LabelStudio:
    from label_studio_sdk import LabelStudio  # here, not at the top: see the module's docstring

    # max_retries=0: our SyncState rows retry with backoff; the SDK must not hold the worker.
    return LabelStudio(
        base_url=settings.LABEL_STUDIO_URL, api_key=settings.LABEL_STUDIO_API_KEY, timeout=60, max_retries=0
    )


def reset() -> None:
    _client.cache_clear()
    _project_id.cache_clear()
    _config_pushed.clear()


def _call(fn, *args, **kwargs):
    from label_studio_sdk.core.api_error import ApiError  # the SDK on first use (module docstring)

    try:
        return fn(*args, **kwargs)
    except ApiError as exc:
        status = exc.status_code or 0
        retryable = status == 429 or status >= 500 or status == 0
        raise LabelStudioError(f"HTTP {status}: {str(exc.body)[:500]}", retryable=retryable, status=status) from exc
    except (httpx.TransportError, OSError) as exc:
        raise LabelStudioError(f"{type(exc).__name__}: {exc}", retryable=True) from exc


def review_unique_id(review_id: int) -> str:
    return f"{_OURS}{review_id:012x}"


def is_ours(unique_id: str | None) -> bool:
    return bool(unique_id) and str(unique_id).startswith(_OURS)


# -------------------------------------------------------------------------------- project


def label_config(tags: list[tuple[str, str]]) -> str:
    """The labelling interface: the clip, its key frame with the detector's boxes, one verdict
    and the tags (slug as the value Vigia reads back, name as the hint)."""
    choices = "\n".join(f"    <Choice value={quoteattr(slug)} hint={quoteattr(name)}/>" for slug, name in tags)
    return f"""<View>
  <Header value="Camera $camera, $recorded_at, score $score"/>
  <Video name="video" value="$video"/>
  <Image name="frame" value="$frame"/>
  <RectangleLabels name="box" toName="frame">
    <Label value="person"/>
  </RectangleLabels>
  <Choices name="verdict" toName="frame" choice="single" required="true">
    <Choice value="person"/>
    <Choice value="no_person"/>
  </Choices>
  <Choices name="tags" toName="frame" choice="multiple">
{choices}
  </Choices>
  <TextArea name="note" toName="frame" maxSubmissions="1"/>
</View>"""


def project_ensure(*, title: str, config: str) -> int:
    """The id of the project with this title, created with `config` if missing."""
    for project in _call(lambda: list(_client().projects.list(title=title))):
        if project.title == title:
            return int(project.id)
    project = _call(_client().projects.create, title=title, label_config=config)
    return int(project.id)


# The labelling config this process last made sure of, per project: a tick then costs no request
# unless the tags changed.
_config_pushed: dict[int, str] = {}


def config_ensure(*, project: int, config: str) -> bool:
    """Make the project's labelling config `config` (a tag added or renamed in Vigia). Returns
    whether it had to change it. Label Studio refuses (400) a config that drops a choice existing
    annotations use: that error is raised, and tried again only when the config changes again."""
    if _config_pushed.get(project) == config:
        return False
    try:
        current = _call(_client().projects.get, id=project).label_config
        changed = current != config
        if changed:
            _call(_client().projects.update, id=project, label_config=config)
    except LabelStudioError as exc:
        if not exc.retryable:  # refused: asking again every tick would not change the answer
            _config_pushed[project] = config
        raise
    _config_pushed[project] = config
    return changed


@lru_cache(maxsize=4)
def _project_id(title: str) -> int | None:
    for project in _call(lambda: list(_client().projects.list(title=title))):
        if project.title == title:
            return int(project.id)
    return None


def project_id() -> int:
    pid = _project_id(settings.LABEL_STUDIO_PROJECT)
    if pid is None:
        _project_id.cache_clear()
        raise LabelStudioError(
            f"no project {settings.LABEL_STUDIO_PROJECT!r}: run `manage.py label_studio_setup`", retryable=True
        )
    return pid


def webhook_ensure(*, project: int, url: str, secret: str) -> int:
    for hook in _call(_client().webhooks.list, project=str(project)):
        if hook.url == url:
            _call(
                _client().webhooks.update,
                id=hook.id,
                url=url,
                actions=WEBHOOK_ACTIONS,
                headers={WEBHOOK_SECRET_HEADER: secret},
                send_payload=True,
                is_active=True,
            )
            return int(hook.id)
    hook = _call(
        _client().webhooks.create,
        url=url,
        project=project,
        actions=WEBHOOK_ACTIONS,
        headers={WEBHOOK_SECRET_HEADER: secret},
        send_payload=True,
        send_for_all_actions=False,
        is_active=True,
    )
    return int(hook.id)


# ---------------------------------------------------------------------------------- tasks


def tasks_import(*, project: int, tasks: list[dict[str, Any]]) -> list[int]:
    """Create many tasks (with their predictions) in one request. Returns their ids, in order."""
    response = _call(_client().projects.import_tasks, project, request=tasks, return_task_ids=True)
    ids = list(getattr(response, "task_ids", None) or [])
    if len(ids) != len(tasks):
        raise LabelStudioError(f"imported {len(tasks)} tasks, got {len(ids)} ids back", retryable=False)
    return [int(i) for i in ids]


def tasks_by_item(*, project: int, item_ids: list[int]) -> dict[int, int]:
    """{review item id: task id} for the items that already have a task: after a worker died
    between the import and saving the ids, the retry finds them instead of importing twice."""
    import json

    wanted = {int(i) for i in item_ids}
    found: dict[int, int] = {}
    query = json.dumps(
        {
            "filters": {
                "conjunction": "or",
                "items": [
                    {"filter": "filter:tasks:data.vigia_item", "operator": "equal", "type": "Number", "value": i}
                    for i in sorted(wanted)
                ],
            }
        }
    )

    def scan():
        for task in _client().tasks.list(project=project, query=query, fields="task_only", page_size=500):
            item = (task.data or {}).get("vigia_item")
            if item is not None and int(item) in wanted:
                found[int(item)] = int(task.id)

    _call(scan)
    return found


def task_get(task_id: int) -> dict[str, Any]:
    task = _call(_client().tasks.get, str(task_id))
    return task.model_dump() if hasattr(task, "model_dump") else dict(task)


# ---------------------------------------------------------------------------- annotations


def annotation_result(*, verdict: str, tags: list[str], note: str = "") -> list[dict[str, Any]]:
    result = [
        {"from_name": "verdict", "to_name": "frame", "type": "choices", "value": {"choices": [verdict]}},
    ]
    if tags:
        result.append({"from_name": "tags", "to_name": "frame", "type": "choices", "value": {"choices": list(tags)}})
    if note:
        result.append({"from_name": "note", "to_name": "frame", "type": "textarea", "value": {"text": [note]}})
    return result


def annotation_create(*, task_id: int, review_id: int, result: list[dict[str, Any]]) -> int | None:
    """Create the annotation for a Vigia review. Returns its id, or None when Label Studio already
    has it (a retry after the first create went through)."""
    try:
        annotation = _call(
            _client().annotations.create,
            task_id,
            result=result,
            unique_id=review_unique_id(review_id),
            was_cancelled=False,
            ground_truth=False,
        )
    except LabelStudioError as exc:
        if exc.status == 409:  # "Annotation with this unique id already exists"
            return None
        raise
    return int(annotation.id)


def annotations_of(task_id: int) -> list[dict[str, Any]]:
    return [a.model_dump() for a in _call(_client().annotations.list, task_id)]


def parse_result(result: list[dict[str, Any]]) -> tuple[str | None, list[str], str]:
    """(verdict, tags, note) from an annotation's result; verdict None when it has none."""
    verdict, tags, note = None, [], ""
    for region in result or []:
        if not isinstance(region, dict):
            continue
        value = region.get("value") or {}
        if region.get("from_name") == "verdict" and value.get("choices"):
            verdict = value["choices"][0]
        elif region.get("from_name") == "tags":
            tags = list(value.get("choices") or [])
        elif region.get("from_name") == "note":
            text = value.get("text") or []
            note = "\n".join(text) if isinstance(text, list) else str(text)
    return verdict, tags, note


def user_get(user_id: int) -> dict[str, Any]:
    user = _call(_client().users.get, user_id)
    return {"id": user.id, "email": user.email or "", "username": user.username or ""}


def new_uuid() -> str:
    return uuid.uuid4().hex
