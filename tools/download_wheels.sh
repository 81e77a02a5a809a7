#!/usr/bin/env bash
# Fill a folder with everything `make setup WHEELS=DIR` needs on a machine without network (a cluster's GPU nodes):
# the wheels of mmengine, mmsegmentation and every dependency, what compiling mmcv needs, and the mmcv sdist.
# Run it on a connected machine; give the Python version and platform of the offline machine when they differ.
#
#   bash tools/download_wheels.sh DIR [--python-version 3.12] [--platform manylinux2014_x86_64] [--with-tests]
#                                     [--torch 'torch==2.4.1']
#
# torch is not downloaded unless --torch names it: pick the build that matches the nodes' CUDA driver.
set -euo pipefail

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 1 ] || usage
DEST=$1; shift
PYTHON=${PYTHON:-python3}
MMCV_VERSION=${MMCV_VERSION:-2.1.0}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=()
REQS=(-r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/build.txt")
TORCH=""
while [ $# -gt 0 ]; do
  case $1 in
    --python-version) TARGET+=(--python-version "$2" --implementation cp); shift 2 ;;
    --platform) TARGET+=(--platform "$2"); shift 2 ;;
    --with-tests) REQS+=(-r "$ROOT/requirements/tests.txt"); shift ;;
    --torch) TORCH=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "unknown option: $1" >&2; usage ;;
  esac
done
mkdir -p "$DEST"
PIP=("$PYTHON" -m pip download --disable-pip-version-check --dest "$DEST")

echo "[wheels] dependencies -> $DEST"
# Binary wheels only: the offline machine compiles nothing but mmcv.
"${PIP[@]}" --only-binary=:all: "${TARGET[@]}" "${REQS[@]}" ${TORCH:+"$TORCH"}
echo "[wheels] mmcv $MMCV_VERSION sdist -> $DEST"
# --no-build-isolation: reading the sdist's metadata needs only the local setuptools.
"${PIP[@]}" --no-deps --no-binary=:all: --no-build-isolation "mmcv==$MMCV_VERSION"
[ -f "$DEST/mmcv-$MMCV_VERSION.tar.gz" ] || { echo "[wheels] error: $DEST/mmcv-$MMCV_VERSION.tar.gz missing" >&2; exit 1; }
echo "[wheels] $(ls "$DEST" | wc -l) files in $DEST; on the offline machine: make setup WHEELS=$DEST"
