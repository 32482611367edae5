#!/usr/bin/env bash
# Installs what the test suites and the benchmark need on a fresh Debian 12
# machine (run as root, or with sudo). `--npm-only` skips apt; `--sandbox`
# (npm start) installs only Ceph, for its local S3 server.
# Idempotent and quick when everything is already there: it only asks apt when a
# package is missing and only runs `npm ci` when node_modules is stale.
set -euo pipefail
cd "$(dirname "$0")/../.."
npm_only=false
[[ ${1:-} == --npm-only ]] && npm_only=true

# Ceph for a real, signature-checking S3 server; Chromium for the UI tests, with
# a CJK font for the Chinese screenshots; restic and zip for the benchmark's
# reference runs; unzip, bsdtar, python3 and a JDK (java.util.zip; ~117 MB
# download, ~260 MB on disk) read the zips we write, as other people's tools
# would (test/core/zipWriter.test.ts).
CEPH=(radosgw ceph-mon ceph-osd ceph-common)
PACKAGES=("${CEPH[@]}" chromium fonts-wqy-microhei restic zip unzip libarchive-tools default-jdk-headless python3)
[[ ${1:-} == --sandbox ]] && PACKAGES=("${CEPH[@]}")

missing=()
$npm_only || for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done

if ((${#missing[@]})); then
  # apt's own listing of every package goes to a log, shown only when the install fails.
  mkdir -p .cache
  apt_log=.cache/install-apt.log
  echo "[install] apt packages: ${missing[*]} (about a minute; log: $apt_log)" >&2
  SUDO=()
  ((EUID == 0)) || SUDO=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  apt_install() { "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$apt_log" 2>&1; }
  : >"$apt_log"
  # An old or empty package index is the usual reason an install fails on a new machine.
  if [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -1) ]] || ! apt_install; then
    "${SUDO[@]}" apt-get update -q >>"$apt_log" 2>&1
    apt_install || { tail -n 30 "$apt_log" >&2; exit 1; }
  fi
fi

# npm ci when node_modules is missing or older than package-lock.json. A lock that
# was only touched or copied (same content as at the last npm ci) does not count.
stamp=node_modules/.s3b-lock.sha256
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ -L node_modules ]]; then
  # npm ci would empty the folder the link points to, someone else's install.
  echo "[install] node_modules is a symlink: not running npm ci" >&2
elif [[ ! -d node_modules || ! -f node_modules/.package-lock.json ]] ||
  { [[ package-lock.json -nt node_modules/.package-lock.json ]] && [[ $(cat "$stamp" 2>/dev/null) != "$lock_sum" ]]; }; then
  echo "[install] npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$lock_sum" >"$stamp"
fi
