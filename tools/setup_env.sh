#!/usr/bin/env bash
# Idempotent environment setup for mmseg_uda (`make setup`, `make demo`, `make test` run it).
#
# * keeps an installed torch (CPU or CUDA build); installs torch==$TORCH_VERSION only when none is importable
# * builds mmcv $MMCV_VERSION with compiled ops from its sdist when `mmcv.ops` cannot be imported (or when CUDA ops
#   are asked for and the installed mmcv has none), and caches the wheel per torch build under
#   ${MMSEG_UDA_CACHE:-${XDG_CACHE_HOME:-~/.cache}/mmseg_uda}/wheels, so later runs install it in seconds
# * installs this package in editable mode (with the test extra when WITH_TESTS=1)
#
# Environment:
#   FORCE_CUDA=1   compile mmcv's CUDA ops (needs a CUDA build of torch and nvcc); default: CPU ops only, built
#                  with the GPU hidden, because mmcv's setup.py compiles CUDA ops whenever it sees a GPU
#   WHEELS=DIR     offline: install everything from DIR with `pip --no-index` (DIR made by
#                  tools/download_wheels.sh on a connected machine; it holds the mmcv sdist)
#   MAX_JOBS=N     parallel compile jobs (default: the number of cores)
#   PYTHON, TORCH_VERSION, MMCV_VERSION, MMSEG_UDA_CACHE, WITH_TESTS=1
#
# Nothing here lets pip resolve a different torch: every install that could pull torch is pinned to the torch that
# is already present. Each step prints how long it took.
set -euo pipefail

PYTHON=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
MMCV_VERSION=${MMCV_VERSION:-2.1.0}
CACHE_DIR=${MMSEG_UDA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmseg_uda}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }
STEP_START=$SECONDS
step_done() { log "$1 ($((SECONDS - STEP_START)) s)"; STEP_START=$SECONDS; }

if [ -n "${WHEELS:-}" ]; then
  [ -d "$WHEELS" ] || die "WHEELS=$WHEELS is not a directory (make it with tools/download_wheels.sh)"
  WHEELS=$(cd "$WHEELS" && pwd)
  # Through the environment, so that the pip processes that setuptools starts itself stay offline too.
  export PIP_NO_INDEX=1 PIP_FIND_LINKS="$WHEELS"
  log "offline: installing from $WHEELS only"
fi
PIP=("$PYTHON" -m pip install --disable-pip-version-check)

# 1. torch: keep whatever works, otherwise the pinned version.
torch_info() { "$PYTHON" -c 'import torch; print(torch.__version__, torch.version.cuda or "none")' 2>/dev/null; }
if TORCH_INFO=$(torch_info); then
  log "torch ${TORCH_INFO%% *} already installed; keeping it"
else
  log "installing torch==$TORCH_VERSION"
  "${PIP[@]}" "torch==$TORCH_VERSION" || die "could not install torch==$TORCH_VERSION${WHEELS:+ from $WHEELS}; \
install the torch build you want first (for GPUs, the one matching your CUDA driver)"
  TORCH_INFO=$(torch_info)
fi
read -r TORCH_FULL TORCH_CUDA <<< "$TORCH_INFO"
TORCH_INSTALLED=${TORCH_FULL%%+*}
step_done "torch $TORCH_FULL (CUDA $TORCH_CUDA)"
# A constraints file keeps every later install from replacing torch.
CONSTRAINTS=$(mktemp)
BUILD_DIR=""
trap 'rm -f "$CONSTRAINTS"; [ -z "$BUILD_DIR" ] || rm -rf "$BUILD_DIR"' EXIT
echo "torch==$TORCH_INSTALLED" > "$CONSTRAINTS"

# 2. mmcv with compiled ops, CPU ops unless FORCE_CUDA=1.
OPS=cpu
if [ "${FORCE_CUDA:-0}" = "1" ]; then
  OPS=cuda
fi
# Prints "cpu" or "cuda<version>" for an importable mmcv $MMCV_VERSION with ops; fails otherwise.
mmcv_ops() {
  "$PYTHON" - "$MMCV_VERSION" <<'PY' 2>/dev/null
import sys
import mmcv
from mmcv.ops import get_compiling_cuda_version, nms  # noqa: F401  (fails when the compiled ops are missing)
assert mmcv.__version__ == sys.argv[1], mmcv.__version__
cuda = get_compiling_cuda_version()
print('cpu' if cuda == 'not available' else 'cuda' + cuda)
PY
}
check_cuda_toolchain() {
  [ "$TORCH_CUDA" != "none" ] || die "FORCE_CUDA=1 asks for mmcv's CUDA ops, but torch $TORCH_FULL is a CPU build: \
install a CUDA build of torch first"
  NVCC=$("$PYTHON" -c 'from torch.utils.cpp_extension import CUDA_HOME; print(f"{CUDA_HOME}/bin/nvcc" if CUDA_HOME else "")' 2>/dev/null || true)
  [ -n "$NVCC" ] && [ -x "$NVCC" ] || die "FORCE_CUDA=1 asks for mmcv's CUDA ops, but no nvcc was found \
(CUDA_HOME=${CUDA_HOME:-unset}, nvcc on PATH: $(command -v nvcc || echo none)): install the CUDA toolkit $TORCH_CUDA \
and set CUDA_HOME, or drop FORCE_CUDA=1 to build the CPU ops"
  log "CUDA ops: $NVCC ($("$NVCC" --version | tail -n 1)), torch CUDA $TORCH_CUDA"
}

HAVE=$(mmcv_ops || true)
if [ -n "$HAVE" ] && { [ "$OPS" = cpu ] || [ "$HAVE" != cpu ]; }; then
  log "mmcv $MMCV_VERSION with $HAVE ops already importable"
else
  [ -z "$HAVE" ] || log "mmcv $MMCV_VERSION has CPU ops only and FORCE_CUDA=1 asks for CUDA ops: rebuilding"
  [ "$OPS" = cpu ] || check_cuda_toolchain
  PYTAG=$("$PYTHON" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
  # The wheel is specific to the torch build it was compiled against and to the ops it holds.
  TORCH_WHEEL_DIR="$CACHE_DIR/wheels/torch-$TORCH_FULL-cuda-$TORCH_CUDA-ops-$OPS"
  mkdir -p "$TORCH_WHEEL_DIR"
  WHEEL=$(ls "$TORCH_WHEEL_DIR"/mmcv-"$MMCV_VERSION"-"$PYTAG"-*.whl 2>/dev/null | head -n 1 || true)
  if [ -n "$WHEEL" ]; then
    log "using cached mmcv wheel $WHEEL"
  else
    "${PIP[@]}" -q -c "$CONSTRAINTS" -r "$ROOT/requirements/build.txt"
    BUILD_DIR=$(mktemp -d)
    if [ -n "${WHEELS:-}" ]; then
      SDIST="$WHEELS/mmcv-$MMCV_VERSION.tar.gz"
      [ -f "$SDIST" ] || die "offline build needs $SDIST (tools/download_wheels.sh puts it there)"
    else
      "$PYTHON" -m pip download -q --disable-pip-version-check --no-deps --no-binary=:all: --no-build-isolation \
        "mmcv==$MMCV_VERSION" -d "$BUILD_DIR"
      SDIST="$BUILD_DIR/mmcv-$MMCV_VERSION.tar.gz"
    fi
    tar xzf "$SDIST" -C "$BUILD_DIR"
    step_done "build dependencies and mmcv sdist"
    JOBS=${MAX_JOBS:-$(nproc)}
    log "compiling mmcv $MMCV_VERSION with $OPS ops, $JOBS jobs, no debug info (cached in $TORCH_WHEEL_DIR)"
    # -g0: Python's own CFLAGS carry -g; debug info for 77 torch-heavy files costs build time and adds nothing here.
    # CPU ops: hide the GPU, since mmcv's setup.py compiles CUDA ops whenever torch.cuda.is_available().
    if [ "$OPS" = cpu ]; then
      HIDE=(env CUDA_VISIBLE_DEVICES= FORCE_CUDA=0)
    else
      HIDE=(env FORCE_CUDA=1)
    fi
    (cd "$BUILD_DIR/mmcv-$MMCV_VERSION" && "${HIDE[@]}" MMCV_WITH_OPS=1 MAX_JOBS="$JOBS" CFLAGS="${CFLAGS:-} -g0" \
      "$PYTHON" -m pip wheel -q --disable-pip-version-check --no-build-isolation --no-deps . -w "$BUILD_DIR/dist")
    # Where the time went: ninja's log has every object's compile time.
    "$PYTHON" - "$BUILD_DIR/mmcv-$MMCV_VERSION/build" <<'PY' || true
import glob, os, sys
logs = glob.glob(os.path.join(sys.argv[1], '*', '.ninja_log'))
rows = []
for line in open(logs[0]) if logs else []:
    parts = line.split('\t')
    if len(parts) == 5 and not line.startswith('#'):
        rows.append((int(parts[1]) - int(parts[0]), os.path.basename(parts[3])))
if rows:
    rows.sort(reverse=True)
    total = sum(t for t, _ in rows) / 1000
    print(f'[setup] mmcv: {len(rows)} objects, {total:.0f} s of compiler time; slowest: '
          + ', '.join(f'{n} {t / 1000:.0f} s' for t, n in rows[:3]))
PY
    BUILT=$(ls "$BUILD_DIR"/dist/mmcv-*.whl | head -n 1)
    # Rename into place only when complete, so an interrupted build never leaves a broken cache entry.
    cp "$BUILT" "$TORCH_WHEEL_DIR/.partial.whl"
    mv "$TORCH_WHEEL_DIR/.partial.whl" "$TORCH_WHEEL_DIR/$(basename "$BUILT")"
    WHEEL="$TORCH_WHEEL_DIR/$(basename "$BUILT")"
    step_done "mmcv compiled"
  fi
  "${PIP[@]}" -q -c "$CONSTRAINTS" "$WHEEL"
  HAVE=$(mmcv_ops || true)
  [ -n "$HAVE" ] || die "mmcv.ops is still not importable after installing $WHEEL"
  if { [ "$OPS" = cpu ] && [ "$HAVE" != cpu ]; } || { [ "$OPS" = cuda ] && [ "$HAVE" = cpu ]; }; then
    die "$WHEEL holds $HAVE ops, but $OPS ops were asked for"
  fi
  log "mmcv $MMCV_VERSION with $HAVE ops installed"
fi
step_done "mmcv ready"

# 3. this package (editable) with its dependencies, torch pinned to the installed one.
#    Skipped when this checkout is already installed with the same setup.py and requirements.
EXTRA=""
[ "${WITH_TESTS:-0}" = "1" ] && EXTRA="[tests]"
STAMP="$ROOT/.setup-stamp"
WANT="$(cat "$ROOT/setup.py" "$ROOT"/requirements/*.txt | sha256sum | cut -d' ' -f1) $EXTRA \
$("$PYTHON" -c 'import sys; print(sys.executable)')"
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
  OFFLINE_BUILD=()
  if [ -n "${WHEELS:-}" ]; then
    # Offline there is no index to fetch an isolated build environment from: build with the installed setuptools.
    "${PIP[@]}" -q -c "$CONSTRAINTS" -r "$ROOT/requirements/build.txt"
    OFFLINE_BUILD=(--no-build-isolation)
  fi
  "${PIP[@]}" -c "$CONSTRAINTS" "${OFFLINE_BUILD[@]}" -e "$ROOT$EXTRA"
  echo "$WANT" > "$STAMP"
  step_done "mmseg_uda installed"
fi
log "done in $SECONDS s"
