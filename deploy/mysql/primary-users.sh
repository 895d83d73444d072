#!/usr/bin/env bash
# MySQL primary, first start only (/docker-entrypoint-initdb.d): the accounts besides the
# metastore's own (MYSQL_USER, created by the image). They replicate to the replica with
# everything else, so the replica gets the same accounts.
#   REPLICATION_USER    the replica's connection to the primary (REPLICATION SLAVE)
#   ROUTER_MYSQL_USER   hms-router reading GTIDs and replica status (REPLICATION CLIENT only)
#   HIVE_RO_USER        the read-only metastore on the replica (SELECT on the metastore database)
set -euo pipefail
: "${REPLICATION_USER:?}" "${REPLICATION_PASSWORD:?}" "${ROUTER_MYSQL_USER:?}" "${ROUTER_MYSQL_PASSWORD:?}"
: "${HIVE_RO_USER:?}" "${HIVE_RO_PASSWORD:?}" "${MYSQL_DATABASE:?}"

MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mysql --protocol=socket -uroot <<SQL
CREATE USER '${REPLICATION_USER}'@'%' IDENTIFIED WITH mysql_native_password BY '${REPLICATION_PASSWORD}';
GRANT REPLICATION SLAVE ON *.* TO '${REPLICATION_USER}'@'%';
CREATE USER '${ROUTER_MYSQL_USER}'@'%' IDENTIFIED WITH mysql_native_password BY '${ROUTER_MYSQL_PASSWORD}';
GRANT REPLICATION CLIENT ON *.* TO '${ROUTER_MYSQL_USER}'@'%';
CREATE USER '${HIVE_RO_USER}'@'%' IDENTIFIED WITH mysql_native_password BY '${HIVE_RO_PASSWORD}';
GRANT SELECT ON \`${MYSQL_DATABASE}\`.* TO '${HIVE_RO_USER}'@'%';
SQL
echo "primary-users.sh: created ${REPLICATION_USER}, ${ROUTER_MYSQL_USER}, ${HIVE_RO_USER}"
