import pytest

from inference.detectors.human_models import PACKAGE_DIR, default_model_dir


@pytest.fixture(scope="session")
def own_model_dir(tmp_path_factory):
    """A model folder of the tests' own, holding the npm package's files (linked, not copied):
    ONNX files exported there are made by this test run, whatever the real folder holds."""
    package = default_model_dir() / PACKAGE_DIR
    if not package.is_dir():
        pytest.fail(f"model files missing at {package}: run scripts/fetch_models.sh")
    root = tmp_path_factory.mktemp("models")
    (root / PACKAGE_DIR).symlink_to(package.resolve(), target_is_directory=True)
    return root
