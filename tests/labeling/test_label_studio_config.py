"""The labelling-config push at the edge of Label Studio (its client replaced): a transient
failure is tried again at the next tick, a refusal is not asked again every tick."""

from types import SimpleNamespace

import httpx
import pytest
from label_studio_sdk.core.api_error import ApiError

from labeling.sync import label_studio as ls


class Projects:
    def __init__(self, failures):
        self.failures, self.config, self.updates = list(failures), "<View/>", 0

    def get(self, id):
        if self.failures:
            raise self.failures.pop(0)
        return SimpleNamespace(label_config=self.config)

    def update(self, id, label_config):
        self.updates += 1
        self.config = label_config


@pytest.fixture
def projects(monkeypatch):
    ls.reset()
    holder = {}

    def install(failures=()):
        holder["p"] = Projects(failures)
        monkeypatch.setattr(ls, "_client", lambda: SimpleNamespace(projects=holder["p"]))
        return holder["p"]

    yield install
    monkeypatch.undo()  # the real client back before its caches are cleared
    ls.reset()


def test_a_transient_failure_is_tried_again_at_the_next_tick(projects):
    p = projects([httpx.ConnectError("down")])
    with pytest.raises(ls.LabelStudioError):
        ls.config_ensure(project=1, config="<View new/>")
    assert ls.config_ensure(project=1, config="<View new/>") is True
    assert p.config == "<View new/>" and p.updates == 1
    assert ls.config_ensure(project=1, config="<View new/>") is False  # remembered: no request


def test_a_refused_config_is_not_asked_again_until_the_tags_change(projects):
    p = projects([ApiError(status_code=400, body="annotations use this choice")])
    with pytest.raises(ls.LabelStudioError):
        ls.config_ensure(project=1, config="<View fewer/>")
    assert ls.config_ensure(project=1, config="<View fewer/>") is False and p.updates == 0
    assert ls.config_ensure(project=1, config="<View other/>") is True
