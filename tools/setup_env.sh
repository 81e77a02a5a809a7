#!/usr/bin/env bash
# Idempotent environment setup for mmseg_uda.
#
# * keeps an installed torch; installs the pinned CPU-friendly torch==2.13.0 only when none is importable
# * builds mmcv 2.1.0 with ops from source when `mmcv.ops` cannot be imported, caching the wheel under
#   ${XDG_CACHE_HOME:-~/.cache}/mmseg_uda/wheels so that later runs install it in seconds
# * installs this package in editable mode (with the test extra when WITH_TESTS=1)
#
# Nothing here lets pip resolve a different torch: every install that could pull torch is pinned to the
# torch that is already present.
set -euo pipefail

PYTHON=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
MMCV_VERSION=${MMCV_VERSION:-2.1.0}
CACHE_DIR=${MMSEG_UDA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmseg_uda}
WHEEL_DIR="$CACHE_DIR/wheels"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PIP=("$PYTHON" -m pip install --disable-pip-version-check)

log() { printf '[setup] %s\n' "$*"; }

# 1. torch: keep whatever works, otherwise the pinned version.
if "$PYTHON" -c 'import torch' 2>/dev/null; then
  log "torch $("$PYTHON" -c 'import torch; print(torch.__version__)') already installed; keeping it"
else
  log "installing torch==$TORCH_VERSION"
  "${PIP[@]}" "torch==$TORCH_VERSION"
fi
TORCH_INSTALLED=$("$PYTHON" -c 'import torch; print(torch.__version__.split("+")[0])')
# A constraints file keeps every later install from replacing torch.
CONSTRAINTS=$(mktemp)
trap 'rm -f "$CONSTRAINTS"' EXIT
echo "torch==$TORCH_INSTALLED" > "$CONSTRAINTS"

# 2. mmcv with compiled ops.
mmcv_ok() {
  "$PYTHON" - "$MMCV_VERSION" <<'PY' 2>/dev/null
import sys
import mmcv
from mmcv.ops import nms  # noqa: F401  (fails when the compiled ops are missing)
assert mmcv.__version__ == sys.argv[1], mmcv.__version__
PY
}
if mmcv_ok; then
  log "mmcv $MMCV_VERSION with ops already importable"
else
  mkdir -p "$WHEEL_DIR"
  PYTAG=$("$PYTHON" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
  TORCH_TAG=$(echo "$TORCH_INSTALLED" | tr -d .)
  # The wheel is specific to the torch it was compiled against: cache it per torch version.
  TORCH_WHEEL_DIR="$WHEEL_DIR/torch$TORCH_TAG"
  mkdir -p "$TORCH_WHEEL_DIR"
  WHEEL=$(ls "$TORCH_WHEEL_DIR"/mmcv-"$MMCV_VERSION"-"$PYTAG"-*.whl 2>/dev/null | head -n 1 || true)
  if [ -z "$WHEEL" ]; then
    log "building mmcv $MMCV_VERSION with ops from source (several minutes; cached in $TORCH_WHEEL_DIR)"
    # mmcv's setup.py needs pkg_resources (dropped in setuptools 82); torch itself wants setuptools>=77.
    "${PIP[@]}" -c "$CONSTRAINTS" "setuptools>=77,<82" ninja wheel packaging
    BUILD_DIR=$(mktemp -d)
    MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
      "$PYTHON" -m pip wheel --no-build-isolation --no-deps "mmcv==$MMCV_VERSION" -w "$BUILD_DIR"
    BUILT=$(ls "$BUILD_DIR"/mmcv-*.whl | head -n 1)
    # Rename into place only when complete, so an interrupted build never leaves a broken cache entry.
    cp "$BUILT" "$TORCH_WHEEL_DIR/.partial.whl"
    mv "$TORCH_WHEEL_DIR/.partial.whl" "$TORCH_WHEEL_DIR/$(basename "$BUILT")"
    rm -rf "$BUILD_DIR"
    WHEEL="$TORCH_WHEEL_DIR/$(basename "$BUILT")"
  else
    log "using cached mmcv wheel $WHEEL"
  fi
  "${PIP[@]}" -c "$CONSTRAINTS" "$WHEEL"
  mmcv_ok || { echo "[setup] mmcv.ops still not importable after installing $WHEEL" >&2; exit 1; }
fi

# 3. this package (editable) with its dependencies, torch pinned to the installed one.
#    Skipped when this checkout is already installed with the same setup.py.
EXTRA=""
[ "${WITH_TESTS:-0}" = "1" ] && EXTRA="[tests]"
STAMP="$ROOT/.setup-stamp"
WANT="$(sha256sum "$ROOT/setup.py" | cut -d' ' -f1) $EXTRA $("$PYTHON" -c 'import sys; print(sys.executable)')"
installed_here() {
  # -I: without the current directory on sys.path, so the installed copy is
  # found, not a checkout we happen to stand in.
  "$PYTHON" -I - "$ROOT" <<'PY' 2>/dev/null
import os, sys
import mmseg_uda
assert os.path.realpath(os.path.dirname(mmseg_uda.__file__)) == os.path.realpath(os.path.join(sys.argv[1], 'mmseg_uda'))
PY
}
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && installed_here; then
  log "mmseg_uda$EXTRA already installed from $ROOT"
else
  log "installing mmseg_uda$EXTRA in editable mode"
  "${PIP[@]}" -c "$CONSTRAINTS" -e "$ROOT$EXTRA"
  echo "$WANT" > "$STAMP"
fi
log "done"
