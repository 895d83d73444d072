#!/usr/bin/env bash
# Makes sure MIT Kerberos is on the machine, from Debian's packages:
#  - libkrb5-dev: the GSSAPI headers the `kerberos` npm binding compiles against (npm ci builds it
#    from source with node-gyp and the Node headers of the machine's own Node, /usr/include/node;
#    nothing is downloaded);
#  - krb5-kdc, krb5-admin-server: the stack's KDC (krb5kdc, kdb5_util, kadmin.local);
#  - krb5-user: klist/kinit, for people debugging a keytab.
# Installs what is missing as root, or says the command to run. Run it before `npm ci`.
set -euo pipefail

missing=()
[ -f /usr/include/gssapi/gssapi.h ] || missing+=(libkrb5-dev)
[ -x /usr/sbin/krb5kdc ] || missing+=(krb5-kdc)
[ -x /usr/sbin/kadmin.local ] || missing+=(krb5-admin-server)
command -v klist >/dev/null || missing+=(krb5-user)
command -v make >/dev/null && command -v g++ >/dev/null || missing+=(build-essential)
command -v python3 >/dev/null || missing+=(python3)

if [ ${#missing[@]} -eq 0 ]; then
  echo "ensure-kerberos: MIT Kerberos $(krb5-config --version 2>/dev/null || echo present), KDC and headers present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "ensure-kerberos: missing ${missing[*]}; run as root: apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "ensure-kerberos: installing ${missing[*]} from Debian's packages"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "ensure-kerberos: $(krb5-config --version)"
