#!/usr/bin/env bash
# Fetches the real images the tests and the bench use, from Debian's packages (nothing else is reachable):
#   invesalius-examples: a real head CT (Cranium.inv3); mricron-data: a T1 brain MRI + atlas label maps;
#   python3-pydicom: real DICOM test files (CT, MR in several transfer syntaxes).
# Extracted under .cache/test-data/<package>/ (git-ignored). Idempotent: a package already there is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/test-data
mkdir -p "$dest"
updated=0
for pkg in invesalius-examples mricron-data python3-pydicom; do
  [ -f "$dest/$pkg/.done" ] && continue
  tmp=$(mktemp -d)
  if ! (cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1); then
    if [ "$updated" = 0 ]; then apt-get update -qq >/dev/null 2>&1 || true; updated=1; fi
    (cd "$tmp" && apt-get download "$pkg" >/dev/null)
  fi
  rm -rf "${dest:?}/$pkg"
  dpkg -x "$tmp"/"$pkg"_*.deb "$dest/$pkg"
  touch "$dest/$pkg/.done"
  rm -rf "$tmp"
  echo "fetched test data: $pkg"
done
