#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium (the status page test drives it headless
# with playwright-core). Installs the 'chromium' package when it is missing: as root directly, or
# says the command to run. A browser download of a test tool's own (npx playwright install) is not
# used: only Debian's package.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "ensure-chromium: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "ensure-chromium: /usr/bin/chromium is missing; run as root: apt-get update && apt-get install -y chromium" >&2
  exit 1
fi
echo "ensure-chromium: installing Debian's chromium package"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "ensure-chromium: $(/usr/bin/chromium --version)"
