import numpy as np
import pytest
import torch

from inference.detector import DetectorUnavailable, load_detector
from inference.detectors.contract import parse_spec


class OneBoxModel(torch.nn.Module):
    """Follows the contract: [N,3,S,S] 0..1 in, [N,K,6] out. Reports a person box at a fixed place
    in input pixels with the mean brightness as its score, a car, and a padding row."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        score = x.mean(dim=(1, 2, 3))
        person = torch.stack(
            [
                torch.full_like(score, 10.0),
                torch.full_like(score, 20.0),
                torch.full_like(score, 110.0),
                torch.full_like(score, 220.0),
                score,
                torch.zeros_like(score),
            ],
            dim=1,
        )
        car = torch.tensor([[0.0, 0.0, 5.0, 5.0, 0.99, 2.0]]).expand(n, 6)
        pad = torch.zeros(n, 6)
        return torch.stack([person, car, pad], dim=1)


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "company.pt"
    torch.jit.save(torch.jit.script(OneBoxModel()), str(path))
    return path


def test_a_torchscript_model_following_the_contract_detects_people_in_frame_pixels(model_file):
    detector = load_detector(f"torchscript:{model_file}@320")
    grey = np.full((480, 640, 3), 128, np.uint8)
    white = np.full((240, 320, 3), 255, np.uint8)
    boxes = detector.detect([grey, white])
    assert [len(b) for b in boxes] == [1, 1]  # the car and the padding row are not people
    b = boxes[0][0]
    assert (b.x1, b.y1, b.x2, b.y2) == pytest.approx((20, 30, 220, 330))  # x2, y1.5 from 320 to 640x480
    assert b.score == pytest.approx(128 / 255, abs=1e-3)
    assert boxes[1][0].score == pytest.approx(1.0) and boxes[1][0].x2 == pytest.approx(110)
    assert detector.version == "torchscript-company-320"


@pytest.mark.parametrize(
    "spec, message",
    [
        ("torchscript:", "give the model file"),
        ("torchscript:/nope/model.pt", "not found"),
        ("torchscript:/x.pt@big", "must be an integer"),
    ],
)
def test_bad_specs_are_clear_errors(spec, message):
    with pytest.raises(DetectorUnavailable, match=message):
        load_detector(spec)


def test_a_file_that_is_not_torchscript_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(DetectorUnavailable, match="cannot load TorchScript model"):
        load_detector(f"torchscript:{bad}")


def test_parse_spec_defaults_to_640():
    assert parse_spec("torchscript", "/m/x.pt") == (__import__("pathlib").Path("/m/x.pt"), 640)


@pytest.fixture
def onnx_file(tmp_path):
    path = tmp_path / "company.onnx"
    example = torch.zeros(1, 3, 320, 320)
    torch.onnx.export(
        OneBoxModel(),
        (example,),
        str(path),
        dynamo=False,
        input_names=["images"],
        output_names=["detections"],
        dynamic_axes={"images": {0: "n"}, "detections": {0: "n"}},
    )
    return path


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_an_onnx_model_following_the_same_contract_gives_the_same_boxes(model_file, onnx_file):
    grey = np.full((480, 640, 3), 128, np.uint8)
    white = np.full((240, 320, 3), 255, np.uint8)
    from_onnx = load_detector(f"onnx:{onnx_file}@320").detect([grey, white])
    from_torchscript = load_detector(f"torchscript:{model_file}@320").detect([grey, white])
    assert [len(b) for b in from_onnx] == [1, 1]
    for a, b in zip(from_onnx, from_torchscript):
        assert (a[0].x1, a[0].y1, a[0].x2, a[0].y2, a[0].score) == pytest.approx(
            (b[0].x1, b[0].y1, b[0].x2, b[0].y2, b[0].score), abs=1e-4
        )


def test_a_file_that_is_not_onnx_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(DetectorUnavailable, match="cannot load ONNX model"):
        load_detector(f"onnx:{bad}")
