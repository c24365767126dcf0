#!/usr/bin/env bash
# Runs the test suite (and the package's doctests) once per Keras backend.
set -euo pipefail
cd "$(dirname "$0")/.."
for backend in jax torch tensorflow; do
    echo "=== KERAS_BACKEND=$backend ==="
    KERAS_BACKEND=$backend python -m pytest -q "$@"
done
