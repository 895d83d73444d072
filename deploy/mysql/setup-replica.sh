#!/usr/bin/env bash
# One-shot (compose service mysql-replica-setup): makes REPLICA_HOST a GTID replica of SOURCE_HOST
# (auto-positioning, so it replays the primary's whole history: schema and accounts included), then
# waits until the accounts the router and the read-only metastore use have arrived. Idempotent:
# a replica that already replicates is left as it is.
set -euo pipefail
: "${SOURCE_HOST:?}" "${SOURCE_ROOT_PASSWORD:?}" "${REPLICA_HOST:?}" "${REPLICA_ROOT_PASSWORD:?}"
: "${REPLICATION_USER:?}" "${REPLICATION_PASSWORD:?}" "${ROUTER_MYSQL_USER:?}" "${HIVE_RO_USER:?}"

on_source() { MYSQL_PWD="$SOURCE_ROOT_PASSWORD" mysql -h "$SOURCE_HOST" -uroot --connect-timeout=5 -N -B -e "$1"; }
on_replica() { MYSQL_PWD="$REPLICA_ROOT_PASSWORD" mysql -h "$REPLICA_HOST" -uroot --connect-timeout=5 -N -B -e "$1"; }

for i in $(seq 1 60); do
  if on_source 'SELECT 1' >/dev/null 2>&1 && on_replica 'SELECT 1' >/dev/null 2>&1; then break; fi
  [ "$i" = 60 ] && { echo "setup-replica: $SOURCE_HOST or $REPLICA_HOST does not answer" >&2; exit 1; }
  sleep 2
done
[ "$(on_source 'SELECT @@GLOBAL.gtid_mode')" = ON ] || { echo "setup-replica: gtid_mode is not ON on $SOURCE_HOST" >&2; exit 1; }

if on_replica 'SHOW REPLICA STATUS\G' | grep -q 'Replica_IO_Running: Yes'; then
  echo "setup-replica: $REPLICA_HOST already replicates"
else
  echo "setup-replica: $REPLICA_HOST replicates from $SOURCE_HOST (GTID auto-position)"
  on_replica 'STOP REPLICA' >/dev/null 2>&1 || true
  on_replica "CHANGE REPLICATION SOURCE TO SOURCE_HOST='${SOURCE_HOST}', SOURCE_PORT=3306,
    SOURCE_USER='${REPLICATION_USER}', SOURCE_PASSWORD='${REPLICATION_PASSWORD}', SOURCE_AUTO_POSITION=1,
    GET_SOURCE_PUBLIC_KEY=1; START REPLICA;"
fi

for i in $(seq 1 60); do
  n=$(on_replica "SELECT COUNT(*) FROM mysql.user WHERE user IN ('${ROUTER_MYSQL_USER}', '${HIVE_RO_USER}')")
  if [ "$n" = 2 ]; then echo "setup-replica: caught up ($ROUTER_MYSQL_USER and $HIVE_RO_USER present)"; exit 0; fi
  sleep 2
done
echo "setup-replica: the replica did not catch up within 120 s:" >&2
on_replica 'SHOW REPLICA STATUS\G' | grep -E 'Running:|Last_(IO|SQL)_Error:' >&2
exit 1
