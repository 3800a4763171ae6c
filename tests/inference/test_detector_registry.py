"""The detector registry: backends are plugins found without being named, never importing each
other, and cheap to list (none imports its runtime until a detector is built)."""

import json
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from inference.detector import PLUGINS, DetectorUnavailable, load_detector, plugins
from inference.detectors import export

ROOT = Path(__file__).resolve().parents[2]


def test_every_backend_of_the_plugins_package_is_registered_under_its_name():
    found = plugins()
    assert set(found) == {"hog", "centernet", "nanodet", "torchscript", "onnx", "models"}
    assert all(plugin.name == name for name, plugin in found.items())


def test_an_unknown_detector_lists_the_known_ones():
    with pytest.raises(DetectorUnavailable, match=r"unknown detector 'yolo' \(known: centernet, hog, models, nanodet"):
        load_detector("yolo:640")


def test_listing_the_plugins_and_running_hog_import_no_torch_or_onnxruntime():
    code = (
        "import json, sys, numpy as np\n"
        "from inference.detector import load_detector, plugins\n"
        "plugins()\n"
        "load_detector('hog').detect([np.zeros((240, 320, 3), np.uint8)])\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = set(json.loads(result.stdout.splitlines()[-1]))
    assert "cv2" in loaded and not loaded & {"torch", "onnxruntime"}


def test_the_plugins_never_import_each_other_and_the_registry_names_none():
    graph = grimp.build_graph("inference", cache_dir=None)
    modules = set(graph.find_children(PLUGINS))
    assert len(modules) == 6
    for module in modules:
        assert not graph.find_modules_directly_imported_by(module) & modules, module
    assert not graph.find_modules_directly_imported_by("inference.detector") & (modules | {PLUGINS})


def test_the_export_command_says_what_it_wrote_and_fails_on_a_bad_spec(capsys):
    assert export.main(["hog", "centernet:320"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "hog: nothing to write ahead of time",
        "centernet:320: nothing to write ahead of time",
    ]
    assert export.main(["centernet:300:onnxruntime"]) == 1
    assert "multiple of 32" in capsys.readouterr().err
