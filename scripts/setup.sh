#!/usr/bin/env bash
# Set up edoc on a fresh Debian machine: system packages the tests and the PDF tools need, then
# the project itself (editable) with its test extras. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(poppler-utils openssl xmlsec1 softhsm2 opensc fonts-liberation2 docker-compose libnss3-tools
              chromium chromium-driver tesseract-ocr tesseract-ocr-vie
              iproute2 util-linux  # ip netns + taskset: the hub bench's simulated hosts
              # the tests' database on 127.0.0.1:5432 (.ci/run starts it), and initdb/postgres
              # in /usr/lib/postgresql/*/bin for the crash tests' own server (run as the
              # `postgres` user through util-linux's setpriv)
              postgresql)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

python3 -m pip install -q --upgrade pip
python3 -m pip install -q -e '.[test]'
# pyenv (and similar) expose console scripts through shims that must be refreshed
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
echo "edoc set up: try 'edoc --help' or 'edoc demo'"
