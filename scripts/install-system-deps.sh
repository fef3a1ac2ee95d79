#!/usr/bin/env bash
# Installs the system packages the tests and the demo need, from Debian (run as root; idempotent):
#   orthanc + orthanc-dicomweb: a real DICOMweb PACS for the server's proxy and series-URL tests
#                               (the service is not started: tests run their own instance on a free port);
#   chromium:                   the headless browser the viewer tests drive (playwright-core, no download).
# A package already installed (and its command present) is skipped; `apt-get update` runs at most once, and
# only when something is missing.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "install-system-deps.sh: run as root (sudo $0)" >&2
  exit 1
fi

# package → a file it provides, checked as well as dpkg's status (a half-removed package has no binary)
declare -A PROVIDES=(
  [orthanc]=/usr/sbin/Orthanc
  [orthanc-dicomweb]=/usr/share/orthanc/plugins/libOrthancDicomWeb.so
  [chromium]=/usr/bin/chromium
)

missing=()
for pkg in orthanc orthanc-dicomweb chromium; do
  if dpkg -s "$pkg" >/dev/null 2>&1 && [ -e "${PROVIDES[$pkg]}" ]; then continue; fi
  missing+=("$pkg")
done

if [ "${#missing[@]}" = 0 ]; then
  echo "system deps present: orthanc, orthanc-dicomweb, chromium"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
echo "installing: ${missing[*]}"
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Debian's orthanc package may enable its service; the tests start their own instances
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet orthanc 2>/dev/null; then
  echo "note: the system orthanc service is running (port 8042); tests use their own instances on free ports"
fi
for pkg in "${missing[@]}"; do
  [ -e "${PROVIDES[$pkg]}" ] || { echo "install-system-deps.sh: $pkg installed but ${PROVIDES[$pkg]} is missing" >&2; exit 1; }
done
echo "installed: ${missing[*]}"
