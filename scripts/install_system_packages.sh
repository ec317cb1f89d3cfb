#!/usr/bin/env bash
# Debian packages the tests drive: chromium (the web UI's browser tests; no browser download)
# and iproute2 (ss, to check that Ray listens on loopback only). Installs only what is missing.
set -euo pipefail
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v ss >/dev/null 2>&1 || missing="$missing iproute2"
[ -z "$missing" ] && exit 0
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
echo "installing Debian packages:$missing"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
