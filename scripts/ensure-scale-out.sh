#!/usr/bin/env bash
# Makes sure the scale-out parts are on the machine, from Debian's packages:
#  - redis-server (or valkey-server): the stack's shared token store (consistency.tokenStore redis);
#  - haproxy: the TCP load balancer the load balancer test puts in front of several routers.
# Installs what is missing as root, or says the command to run.
set -euo pipefail

missing=()
[ -x /usr/bin/redis-server ] || [ -x /usr/bin/valkey-server ] || missing+=(redis-server)
[ -x /usr/sbin/haproxy ] || missing+=(haproxy)

if [ ${#missing[@]} -eq 0 ]; then
  echo "ensure-scale-out: $( (/usr/bin/valkey-server --version 2>/dev/null || /usr/bin/redis-server --version) | cut -d' ' -f1-3), $(/usr/sbin/haproxy -v | head -1 | cut -d' ' -f1-3) present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "ensure-scale-out: missing ${missing[*]}; run as root: apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "ensure-scale-out: installing ${missing[*]} from Debian's packages"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packages' own services are not wanted: the stack and the tests start their own processes.
echo "ensure-scale-out: installed ${missing[*]}"
