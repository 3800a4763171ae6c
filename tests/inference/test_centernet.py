"""CenterNet detector: the TF.js graph interpreter, the decoding, and the detector end to end.

Needs the model files from `scripts/fetch_models.sh` (tests fail, not skip, without them).
The reference images and `expected.json` (the graph's `tower_0/detections` from an independent
tf2onnx + onnxruntime conversion) are in tests/data/centernet/.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from inference.defaults import THRESHOLD as DEFAULT_THRESHOLD
from inference.detector import Box, DetectorUnavailable, load_detector
from inference.detectors.graph_runtime import onnx_export, onnx_path
from inference.detectors.human_models import scale_boxes
from inference.detectors.plugins.centernet import (
    CenterNetDetector,
    boxes_from_peaks,
    centernet_model,
    centernet_model_path,
    decode_person_boxes,
    find_peaks,
    preprocess,
)
from inference.tfjs_graph import (
    TfjsGraph,
    conv2d_tf,
    resize_bilinear_legacy,
    same_padding,
    tf_filter_to_torch,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "centernet"
IMAGES = ("astronaut", "chelsea", "coffee")
SIZES = (512, 384, 320)
# Where the astronaut is in the 512x512 reference image (eyeballed; she fills the left 3/4).
ASTRONAUT_BOX = (0.0, 0.0, 370.0, 512.0)


def _model_path() -> Path:
    path = centernet_model_path()
    if not path.is_file() or not path.with_name("centernet.bin").is_file():
        pytest.fail(f"CenterNet model files missing at {path.parent}: run scripts/fetch_models.sh")
    return path


def _bgr(name: str) -> np.ndarray:
    img = cv2.imread(str(DATA / f"{name}_512.png"), cv2.IMREAD_COLOR)
    assert img is not None and img.shape == (512, 512, 3)
    return img


def _expected(name: str) -> np.ndarray:
    data = json.loads((DATA / "expected.json").read_text())
    return np.array(data[name]["detections_x1_y1_x2_y2_score_class"], dtype=np.float32)


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


@pytest.fixture(scope="module")
def full_graph() -> TfjsGraph:
    """The whole graph including its own post-processing (valid at 512x512, batch 1)."""
    return TfjsGraph(_model_path()).eval()


@pytest.fixture(scope="module")
def detectors() -> dict[int, CenterNetDetector]:
    _model_path()
    return {size: CenterNetDetector(input_size=size) for size in SIZES}


# --- (a) the graph matches the independent reference ----------------------------------------


def test_graph_uses_only_supported_ops(full_graph):
    assert len(full_graph.ops) == 26
    assert {"_FusedConv2D", "FusedDepthwiseConv2dNative", "ResizeBilinear", "TopKV2"} <= set(full_graph.ops)


@pytest.mark.parametrize("name", IMAGES)
def test_graph_detections_match_the_reference(full_graph, name):
    rgb = _bgr(name)[:, :, ::-1].astype(np.float32)
    with torch.inference_mode():
        outputs = dict(zip(full_graph.output_names, full_graph(torch.from_numpy(rgb)[None])))
    assert outputs["tower_0/keypoints"].shape == (1, 128, 128, 80)
    assert outputs["tower_0/wh"].shape == (1, 128, 128, 4)
    got = outputs["tower_0/detections"][0].numpy()
    want = _expected(name)
    np.testing.assert_array_equal(got[: len(want), 5], want[:, 5])  # classes, same order
    np.testing.assert_allclose(got[: len(want), 4], want[:, 4], atol=1e-3)  # scores
    np.testing.assert_allclose(got[: len(want), :4], want[:, :4], atol=0.05)  # boxes, pixels


@pytest.mark.parametrize("name", IMAGES)
def test_own_decoding_at_512_matches_the_graphs_person_rows(detectors, name):
    detector = detectors[512]
    heat, wh = detector.raw_outputs(preprocess([_bgr(name)], 512))
    rows, cols, scores = find_peaks(heat[0], k=100, min_score=0.05)
    boxes = boxes_from_peaks(rows, cols, wh[0], stride=4.0)
    want = _expected(name)
    want = want[(want[:, 5] == 0) & (want[:, 4] >= 0.05)]
    assert len(want) > 0
    np.testing.assert_allclose(scores[: len(want)], want[:, 4], atol=1e-3)
    np.testing.assert_allclose(boxes[: len(want)], want[:, :4], atol=0.05)


# --- (b) building blocks against naive TF-semantics loops ------------------------------------


def _naive_conv_same(x: np.ndarray, filt: np.ndarray, stride: int, depthwise: bool) -> np.ndarray:
    """TF Conv2D / DepthwiseConv2dNative, NHWC, padding SAME, written the slow obvious way."""
    n, h, w, cin = x.shape
    kh, kw, _, cout = filt.shape
    out_h, out_w = math.ceil(h / stride), math.ceil(w / stride)
    pad_top = max((out_h - 1) * stride + kh - h, 0) // 2
    pad_left = max((out_w - 1) * stride + kw - w, 0) // 2
    channels = cin * cout if depthwise else cout
    out = np.zeros((n, out_h, out_w, channels), dtype=np.float64)
    for b in range(n):
        for oy in range(out_h):
            for ox in range(out_w):
                for ky in range(kh):
                    for kx in range(kw):
                        iy, ix = oy * stride + ky - pad_top, ox * stride + kx - pad_left
                        if not (0 <= iy < h and 0 <= ix < w):
                            continue
                        pixel = x[b, iy, ix]
                        if depthwise:
                            # output channel c * multiplier + m
                            out[b, oy, ox] += (pixel[:, None] * filt[ky, kx]).reshape(-1)
                        else:
                            out[b, oy, ox] += pixel @ filt[ky, kx]
    return out


def _naive_resize_legacy(x: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """TF1 ResizeBilinear (align_corners=False, half_pixel_centers=False), NHWC."""
    n, h, w, c = x.shape
    out = np.zeros((n, out_h, out_w, c), dtype=np.float64)
    for oy in range(out_h):
        sy = oy * h / out_h
        y0 = math.floor(sy)
        y1, fy = min(y0 + 1, h - 1), sy - y0
        for ox in range(out_w):
            sx = ox * w / out_w
            x0 = math.floor(sx)
            x1, fx = min(x0 + 1, w - 1), sx - x0
            top = x[:, y0, x0] * (1 - fx) + x[:, y0, x1] * fx
            bottom = x[:, y1, x0] * (1 - fx) + x[:, y1, x1] * fx
            out[:, oy, ox] = top * (1 - fy) + bottom * fy
    return out


def _torch_conv(x: np.ndarray, filt: np.ndarray, stride: int, depthwise: bool) -> np.ndarray:
    weight, groups = tf_filter_to_torch(torch.from_numpy(filt), depthwise)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)
    out = conv2d_tf(xt, weight, None, stride=(stride, stride), dilation=(1, 1), padding="SAME", groups=groups)
    return out.permute(0, 2, 3, 1).numpy()


def test_same_padding_puts_the_odd_pixel_after():
    assert same_padding(8, 3, 2) == (0, 1)
    assert same_padding(7, 3, 2) == (1, 1)
    assert same_padding(8, 5, 2) == (1, 2)
    assert same_padding(8, 3, 1) == (1, 1)
    assert same_padding(8, 1, 1) == (0, 0)


@pytest.mark.parametrize("shape", [(1, 8, 8), (2, 7, 9)])
@pytest.mark.parametrize("kernel,stride", [(3, 1), (3, 2), (5, 2), (1, 1)])
def test_conv_same_matches_naive_loop(shape, kernel, stride):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((*shape, 3)).astype(np.float32)
    filt = rng.standard_normal((kernel, kernel, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(_torch_conv(x, filt, stride, False), _naive_conv_same(x, filt, stride, False), atol=1e-4)


@pytest.mark.parametrize("kernel,stride,multiplier", [(3, 1, 1), (3, 2, 1), (5, 2, 1), (3, 2, 2)])
def test_depthwise_conv_same_matches_naive_loop(kernel, stride, multiplier):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 8, 9, 3)).astype(np.float32)
    filt = rng.standard_normal((kernel, kernel, 3, multiplier)).astype(np.float32)
    np.testing.assert_allclose(_torch_conv(x, filt, stride, True), _naive_conv_same(x, filt, stride, True), atol=1e-4)


@pytest.mark.parametrize("in_hw,out_hw", [((4, 5), (8, 10)), ((5, 7), (7, 3)), ((3, 3), (3, 3))])
def test_resize_bilinear_legacy_matches_naive_loop(in_hw, out_hw):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, *in_hw, 3)).astype(np.float32)
    got = resize_bilinear_legacy(torch.from_numpy(x).permute(0, 3, 1, 2), out_hw).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(got, _naive_resize_legacy(x, *out_hw), atol=1e-5)


def test_resize_bilinear_legacy_is_not_half_pixel():
    x = torch.tensor([[[[0.0, 1.0]]]])  # 1x1x1x2
    got = resize_bilinear_legacy(x, (1, 4))
    assert got.flatten().tolist() == [0.0, 0.5, 1.0, 1.0]


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def test_interpreter_runs_a_tiny_fp16_graph(tmp_path):
    """Placeholder -> fused conv (stride 2, SAME, bias, Relu6) -> legacy resize x2 -> MaxPool
    -> Mean(keep_dims) -> Mul, with float16 weights declared as float32, against numpy."""
    rng = np.random.default_rng(3)
    filt = rng.standard_normal((3, 3, 2, 3)).astype(np.float16)
    bias = rng.standard_normal(3).astype(np.float16)
    size = np.array([4, 4], dtype=np.int32)
    axes = np.array([1, 2], dtype=np.int32)
    scale = np.array(2.0, dtype=np.float16)
    conv_attr = {
        "strides": {"list": {"i": ["1", "2", "2", "1"]}},
        "padding": {"s": _b64("SAME")},
        "data_format": {"s": _b64("NHWC")},
        "dilations": {"list": {"i": ["1", "1", "1", "1"]}},
        "fused_ops": {"list": {"s": [_b64("BiasAdd"), _b64("Relu6")]}},
        "num_args": {"i": "1"},
    }  # no "T", as in the real file
    nodes = [
        {
            "name": "x",
            "op": "Placeholder",
            "attr": {"shape": {"shape": {"dim": [{"size": str(d)} for d in (1, 4, 4, 2)]}}},
        },
        {"name": "w", "op": "Const"},
        {"name": "b", "op": "Const"},
        {"name": "size", "op": "Const"},
        {"name": "axes", "op": "Const"},
        {"name": "scale", "op": "Const"},
        {"name": "conv", "op": "_FusedConv2D", "input": ["x", "w", "b"], "attr": conv_attr},
        {
            "name": "up",
            "op": "ResizeBilinear",
            "input": ["conv", "size"],
            "attr": {"align_corners": {"b": False}, "half_pixel_centers": {"b": False}},
        },
        {
            "name": "pool",
            "op": "MaxPool",
            "input": ["up"],
            "attr": {
                "ksize": {"list": {"i": ["1", "3", "3", "1"]}},
                "strides": {"list": {"i": ["1", "1", "1", "1"]}},
                "padding": {"s": _b64("SAME")},
                "data_format": {"s": _b64("NHWC")},
            },
        },
        {"name": "mean", "op": "Mean", "input": ["pool", "axes"], "attr": {"keep_dims": {"b": True}}},
        {"name": "out", "op": "Mul", "input": ["scale", "mean"]},
    ]
    f16 = {"dtype": "float16", "original_dtype": "float32"}
    manifest = [
        {
            "paths": ["tiny.bin"],
            "weights": [
                {"name": "w", "shape": [3, 3, 2, 3], "dtype": "float32", "quantization": f16},
                {"name": "b", "shape": [3], "dtype": "float32", "quantization": f16},
                {"name": "size", "shape": [2], "dtype": "int32"},
                {"name": "axes", "shape": [2], "dtype": "int32"},
                {"name": "scale", "shape": [], "dtype": "float32", "quantization": f16},
            ],
        }
    ]
    (tmp_path / "tiny.bin").write_bytes(b"".join(a.tobytes() for a in (filt, bias, size, axes, scale)))
    (tmp_path / "tiny.json").write_text(
        json.dumps(
            {
                "format": "graph-model",
                "modelTopology": {"node": nodes},
                "weightsManifest": manifest,
                "signature": {"outputs": {"out": {}}},
            }
        )
    )
    graph = TfjsGraph(tmp_path / "tiny.json")
    assert graph.ops == ["Const", "MaxPool", "Mean", "Mul", "Placeholder", "ResizeBilinear", "_FusedConv2D"]
    x = rng.standard_normal((1, 4, 4, 2)).astype(np.float32)

    conv = np.clip(_naive_conv_same(x, filt.astype(np.float32), 2, False) + bias.astype(np.float32), 0, 6)
    up = _naive_resize_legacy(conv, 4, 4)
    padded = np.pad(up, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    pool = np.max([padded[:, dy : dy + 4, dx : dx + 4] for dy in range(3) for dx in range(3)], axis=0)
    want = 2.0 * pool.mean(axis=(1, 2), keepdims=True)

    (got,) = graph(torch.from_numpy(x))
    assert got.shape == (1, 1, 1, 3)
    np.testing.assert_allclose(got.numpy(), want, atol=1e-5)


# --- (c) plausibility on the reference images ---------------------------------------------------


def _max_person_score(boxes: list[Box]) -> float:
    return max((b.score for b in boxes), default=0.0)


@pytest.mark.parametrize("size", SIZES)
def test_astronaut_is_found_where_she_is(detectors, size):
    boxes = detectors[size].detect([_bgr("astronaut")])[0]
    best = max(boxes, key=lambda b: b.score)
    assert best.score >= 0.5
    assert _iou(best.as_list(), ASTRONAUT_BOX) >= 0.8


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", ["chelsea", "coffee"])
def test_no_confident_person_in_cat_or_coffee(detectors, size, name):
    boxes = detectors[size].detect([_bgr(name)])[0]
    assert _max_person_score(boxes) < 0.3


# scikit-image's `camera` (grey, a man behind a tripod; CC0) and `rocket` (a launch pad, 640x427;
# public domain), copied unchanged from the scikit-image 0.26.0 wheel into tests/data/images/.
IMAGES_DIR = Path(__file__).resolve().parents[1] / "data" / "images"
# Where the cameraman is (eyeballed on the 512x512 image: from the left edge to his hands on the camera).
CAMERAMAN_BOX = (0.0, 62.0, 310.0, 512.0)


def _image(name: str) -> np.ndarray:
    img = cv2.imread(str(IMAGES_DIR / name), cv2.IMREAD_COLOR)
    assert img is not None
    return img


@pytest.mark.parametrize("size", SIZES)
def test_the_cameraman_is_found_where_he_is_in_a_grey_image(detectors, size):
    boxes = detectors[size].detect([_image("camera.png")])[0]
    best = max(boxes, key=lambda b: b.score)
    assert best.score >= DEFAULT_THRESHOLD
    assert _iou(best.as_list(), CAMERAMAN_BOX) >= 0.8


@pytest.mark.parametrize("size", SIZES)
def test_no_person_on_the_launch_pad_at_the_default_threshold(detectors, size):
    image = _image("rocket.jpg")
    assert image.shape[:2] == (427, 640)  # not square: goes through the letterbox
    assert _max_person_score(detectors[size].detect([image])[0]) < DEFAULT_THRESHOLD


# --- (d) decoding on synthetic heat maps ----------------------------------------------------------


def test_find_peaks_keeps_local_maxima_best_first():
    heat = np.zeros((6, 8), dtype=np.float32)
    heat[1, 1], heat[1, 2] = 0.9, 0.5  # 0.5 is next to a higher cell: not a peak
    heat[4, 6] = 0.7
    heat[5, 0] = 0.03  # a peak, but below the floor
    rows, cols, scores = find_peaks(heat, k=10, min_score=0.05)
    assert rows.tolist() == [1, 4] and cols.tolist() == [1, 6]
    np.testing.assert_allclose(scores, [0.9, 0.7])


def test_find_peaks_limits_to_k():
    heat = np.zeros((9, 9), dtype=np.float32)
    for i, (r, c) in enumerate([(0, 0), (0, 4), (4, 0), (4, 4), (8, 8)]):
        heat[r, c] = 0.1 * (i + 1)
    rows, cols, scores = find_peaks(heat, k=2, min_score=0.05)
    assert list(zip(rows.tolist(), cols.tolist())) == [(8, 8), (4, 4)]
    np.testing.assert_allclose(scores, [0.5, 0.4])


def test_find_peaks_on_an_empty_map():
    rows, cols, scores = find_peaks(np.zeros((4, 4), dtype=np.float32), k=100, min_score=0.05)
    assert len(rows) == len(cols) == len(scores) == 0


def test_boxes_from_peaks_uses_centre_and_side_distances():
    wh = np.zeros((6, 8, 4), dtype=np.float32)
    wh[2, 3] = [5, 6, 7, 8]  # left, top, right, bottom
    boxes = boxes_from_peaks(np.array([2]), np.array([3]), wh, stride=4.0)
    np.testing.assert_allclose(boxes, [[12 - 5, 8 - 6, 12 + 7, 8 + 8]])


def test_scale_boxes_maps_a_stretched_input_back_and_clips():
    boxes = np.array([[-3.0, 10.0, 256.0, 600.0]], dtype=np.float32)
    out = scale_boxes(boxes, input_size=(512, 512), frame_size=(640, 480))
    np.testing.assert_allclose(out, [[0.0, 10 * 480 / 512, 320.0, 480.0]])


def test_decode_person_boxes_end_to_end():
    heat = np.zeros((4, 4), dtype=np.float32)
    heat[2, 1] = 0.8
    wh = np.full((4, 4, 4), 2.0, dtype=np.float32)
    (box,) = decode_person_boxes(heat, wh, input_size=16, frame_size=(32, 16))
    # centre (4, 8) in the 16x16 input, +-2 px, then x scaled by 2 and y by 1
    assert box.as_list() == [4.0, 6.0, 12.0, 10.0]
    assert box.score == pytest.approx(0.8) and box.label == "person"


# --- (e) the detector on real frames --------------------------------------------------------------


def test_detect_returns_boxes_in_the_frames_own_pixels(detectors):
    frame = cv2.resize(_bgr("astronaut"), (640, 480), interpolation=cv2.INTER_LINEAR)
    small = cv2.resize(_bgr("astronaut"), (320, 240), interpolation=cv2.INTER_AREA)
    big_boxes, small_boxes = detectors[512].detect([frame, small])
    sx, sy = 640 / 512, 480 / 512
    expected = (ASTRONAUT_BOX[0] * sx, ASTRONAUT_BOX[1] * sy, ASTRONAUT_BOX[2] * sx, ASTRONAUT_BOX[3] * sy)
    best = max(big_boxes, key=lambda b: b.score)
    assert best.score >= 0.5 and best.label == "person"
    assert _iou(best.as_list(), expected) >= 0.8
    assert all(0 <= b.x1 <= b.x2 <= 640 and 0 <= b.y1 <= b.y2 <= 480 for b in big_boxes)
    best_small = max(small_boxes, key=lambda b: b.score)
    assert _iou(best_small.as_list(), [v / 2 for v in expected]) >= 0.8
    assert detectors[512].detect([]) == []


def test_load_detector_builds_centernet_with_an_input_size():
    _model_path()
    detector = load_detector("centernet:320")
    assert detector.name == "centernet"
    assert detector.version == "centernet-mbv3-human-models-3.0.4-320"


def test_missing_model_files_say_how_to_fetch_them(tmp_path):
    with pytest.raises(DetectorUnavailable, match=r"scripts/fetch_models\.sh"):
        CenterNetDetector(model_dir=tmp_path)


def test_input_size_must_be_a_multiple_of_32():
    with pytest.raises(DetectorUnavailable, match="multiple of 32"):
        CenterNetDetector(input_size=300)


# --- execution details -----------------------------------------------------------------------


def test_batch_gives_the_same_heat_maps_as_single_frames_and_keeps_the_input(detectors):
    detector = detectors[320]
    batch = preprocess([_bgr("astronaut"), _bgr("coffee")], 320)
    before = batch.copy()
    heat2, wh2 = detector.raw_outputs(batch)
    np.testing.assert_array_equal(batch, before)  # in-place ops never touch the caller's input
    for i in range(2):
        heat1, wh1 = detector.raw_outputs(batch[i : i + 1])
        np.testing.assert_allclose(heat2[i], heat1[0], atol=1e-5)
        np.testing.assert_allclose(wh2[i], wh1[0], atol=1e-3)


def test_the_traced_network_the_detector_runs_matches_the_interpreter(detectors):
    interpreter = CenterNetDetector(input_size=320, jit=False)
    traced = detectors[320]
    assert isinstance(traced.network.module, torch.jit.ScriptModule) and not isinstance(
        interpreter.network.module, torch.jit.ScriptModule
    )
    batch = preprocess([_bgr("astronaut"), _bgr("chelsea")], 320)
    for got, want in zip(traced.raw_outputs(batch), interpreter.raw_outputs(batch)):
        np.testing.assert_allclose(got, want, atol=1e-3)


@pytest.fixture(scope="module")
def onnx_512(own_model_dir) -> CenterNetDetector:
    """The onnxruntime runtime at the reference's 512x512, from an ONNX file this run exported."""
    onnx_export(centernet_model(own_model_dir, 512))
    return CenterNetDetector(model_dir=own_model_dir, input_size=512, runtime="onnxruntime")


@pytest.mark.parametrize("name", IMAGES)
def test_the_onnx_file_gives_the_reference_and_the_torch_outputs(onnx_512, detectors, name):
    batch = preprocess([_bgr(name)], 512)
    heat, wh = onnx_512.raw_outputs(batch)
    rows, cols, scores = find_peaks(heat[0], k=100, min_score=0.05)
    want = _expected(name)
    want = want[(want[:, 5] == 0) & (want[:, 4] >= 0.05)]
    np.testing.assert_allclose(scores[: len(want)], want[:, 4], atol=1e-3)
    np.testing.assert_allclose(boxes_from_peaks(rows, cols, wh[0], stride=4.0)[: len(want)], want[:, :4], atol=0.05)
    for got, torch_out in zip((heat, wh), detectors[512].raw_outputs(batch)):
        np.testing.assert_allclose(got, torch_out, rtol=1e-4, atol=1e-3)  # float32 noise; wh is in pixels
    got_boxes, torch_boxes = onnx_512.detect([_bgr(name)])[0], detectors[512].detect([_bgr(name)])[0]
    assert [round(b.score, 3) for b in got_boxes[:10]] == [round(b.score, 3) for b in torch_boxes[:10]]


def _fake_package(root: Path, weights: bytes) -> Path:
    """A model folder whose CenterNet files are made up: enough to name an ONNX file."""
    models = root / "human-models-3.0.4" / "models"
    models.mkdir(parents=True)
    manifest = [{"paths": ["centernet.bin"], "weights": []}]
    (models / "centernet.json").write_text(json.dumps({"format": "graph-model", "weightsManifest": manifest}))
    (models / "centernet.bin").write_bytes(weights)
    return root


def test_the_onnx_file_is_named_by_the_model_its_weights_and_the_input_size(tmp_path):
    first = onnx_path(centernet_model(_fake_package(tmp_path / "a", b"weights"), 320))
    assert first.parent == tmp_path / "a" / "onnx" and first.name.startswith("centernet-320-")
    assert onnx_path(centernet_model(_fake_package(tmp_path / "b", b"weights"), 320)).name == first.name
    assert onnx_path(centernet_model(_fake_package(tmp_path / "c", b"other weights"), 320)).name != first.name
    assert onnx_path(centernet_model(tmp_path / "a", 384)).name.startswith("centernet-384-")
    model = centernet_model(tmp_path / "a", 320)
    assert onnx_path(dataclasses.replace(model, input_layout="NCHW")).name != first.name


def test_a_missing_onnx_file_says_the_command_that_writes_it(tmp_path):
    model_dir = _fake_package(tmp_path, b"weights")
    (model_dir / "onnx").mkdir()
    (model_dir / "onnx" / "centernet-320-000000000000.onnx").write_bytes(b"from older weights")
    with pytest.raises(DetectorUnavailable) as raised:
        CenterNetDetector(model_dir=model_dir, input_size=320, runtime="onnxruntime")
    assert "python -m inference.detectors.export centernet:320:onnxruntime" in str(raised.value)
    assert "centernet-320-000000000000.onnx there came from other weights or code" in str(raised.value)


def test_the_onnxruntime_runtime_gives_the_torch_outputs(detectors):
    from inference.detector import load_detector

    ort_detector = load_detector("centernet:320:onnxruntime")
    batch = preprocess([_bgr("astronaut"), _bgr("coffee")], 320)
    for got, want in zip(ort_detector.raw_outputs(batch), detectors[320].raw_outputs(batch)):
        np.testing.assert_allclose(got, want, atol=1e-3)
    assert ort_detector.version == detectors[320].version  # the same model decides the clip


def test_an_unknown_runtime_is_a_clear_error():
    from inference.detector import load_detector

    with pytest.raises(DetectorUnavailable, match="unknown runtime 'tensorflow'"):
        load_detector("centernet:320:tensorflow")
