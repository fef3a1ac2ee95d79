#!/usr/bin/env bash
# Installs the system packages the tests and the demo need, from Debian (run as root; idempotent):
#   orthanc + orthanc-dicomweb: a real DICOMweb PACS for the server's proxy and series-URL tests
#                               (the service is not started: tests run their own instance on a free port);
#   chromium:                   the headless browser the viewer tests drive (playwright-core, no download);
#   dcmtk, libgdcm-tools,       DICOM compressors for the compressed-series tests: dcmcjpls, dcmcjpeg, dcmcrle
#   openjph-tools:              (JPEG-LS, JPEG lossless, RLE), gdcmconv (JPEG 2000), ojph_compress (HTJ2K);
#   dicom3tools, dcmtk,         the DICOM SEG tests' validators and parsers: dciodvfy (IOD and attribute checks),
#   python3-pydicom, -numpy:    dcmdump (DCMTK), pydicom (read and pixel decoding, with /usr/bin/python3);
#   redis-server:               the job queue and job state shared by front ends and workers (REDIS_URL); the
#                               scale-out tests run their own instances on free ports (the service is not used).
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
  [dcmtk]=/usr/bin/dcmcjpls
  [libgdcm-tools]=/usr/bin/gdcmconv
  [openjph-tools]=/usr/bin/ojph_compress
  [dicom3tools]=/usr/bin/dciodvfy
  [python3-pydicom]=/usr/lib/python3/dist-packages/pydicom/__init__.py
  [python3-numpy]=/usr/lib/python3/dist-packages/numpy/__init__.py
  [redis-server]=/usr/bin/redis-server
)
PACKAGES=(orthanc orthanc-dicomweb chromium dcmtk libgdcm-tools openjph-tools dicom3tools python3-pydicom python3-numpy redis-server)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if dpkg -s "$pkg" >/dev/null 2>&1 && [ -e "${PROVIDES[$pkg]}" ]; then continue; fi
  missing+=("$pkg")
done

if [ "${#missing[@]}" = 0 ]; then
  echo "system deps present: ${PACKAGES[*]}"
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
