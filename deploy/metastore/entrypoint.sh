#!/usr/bin/env bash
# Starts an Apache Hive 3.1.3 standalone metastore (the jars stack/hive/pom.xml resolves from Maven
# Central, as the local stack runs them) on a MySQL database, configured from the environment:
#
#   HMS_DB_URL        jdbc:mysql://HOST:PORT/DATABASE?...     (required)
#   HMS_DB_USER       MySQL user                               (required)
#   HMS_DB_PASSWORD   its password; read by the JVM from the environment, never written to disk
#   HMS_INIT_SCHEMA   true: create the schema with Hive's schema tool when it is missing (the
#                     metastore on the primary); false: wait until it exists (a read-only
#                     metastore on a replica gets it by replication)
#   HMS_PORT          Thrift port (9083)
#   HMS_WAREHOUSE     warehouse URI (file:///warehouse)
#   HMS_HEAP          JVM heap flags (-Xms128m -Xmx1g)
#   HMS_HOME          where the image keeps lib/ (jars) and home/ (schema scripts) (/opt/hms)
#   HMS_CONF_DIR      where this script writes metastore-site.xml (/tmp/hms-conf)
set -euo pipefail

: "${HMS_DB_URL:?set HMS_DB_URL (jdbc:mysql://host:3306/metastore)}"
: "${HMS_DB_USER:?set HMS_DB_USER}"
export HMS_DB_PASSWORD="${HMS_DB_PASSWORD:-}"
HMS_INIT_SCHEMA="${HMS_INIT_SCHEMA:-true}"
HMS_PORT="${HMS_PORT:-9083}"
HMS_WAREHOUSE="${HMS_WAREHOUSE:-file:///warehouse}"
HMS_HEAP="${HMS_HEAP:--Xms128m -Xmx1g}"
HMS_HOME="${HMS_HOME:-/opt/hms}"
HMS_CONF_DIR="${HMS_CONF_DIR:-/tmp/hms-conf}"
DRIVER=com.mysql.cj.jdbc.Driver
CP="${HMS_CONF_DIR}:${HMS_HOME}/lib/*"

xml_escape() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g' <<<"$1"; }
property() { printf '  <property><name>%s</name><value>%s</value></property>\n' "$1" "$(xml_escape "$2")"; }

mkdir -p "$HMS_CONF_DIR"
{
  echo '<?xml version="1.0" encoding="UTF-8"?>'
  echo '<!-- written by deploy/metastore/entrypoint.sh at every start -->'
  echo '<configuration>'
  property javax.jdo.option.ConnectionURL "$HMS_DB_URL"
  property javax.jdo.option.ConnectionDriverName "$DRIVER"
  property javax.jdo.option.ConnectionUserName "$HMS_DB_USER"
  # Hadoop's configuration reads the password from the environment (an empty value would make
  # Hive fall back to its default password).
  property javax.jdo.option.ConnectionPassword '${env.HMS_DB_PASSWORD}'
  property metastore.thrift.port "$HMS_PORT"
  property metastore.warehouse.dir "$HMS_WAREHOUSE"
  # binary protocol, buffered transport, no SASL, set_ugi honoured: what hms-router and engines speak
  property metastore.thrift.compact.protocol.enabled false
  property metastore.thrift.framed.transport.enabled false
  property metastore.sasl.enabled false
  property metastore.execute.setugi true
  property metastore.schema.verification true
  property datanucleus.schema.autoCreateAll false
  # as the standalone metastore's own conf/metastore-site.xml: the defaults name Hive-QL classes
  property metastore.expression.proxy org.apache.hadoop.hive.metastore.DefaultPartitionExpressionProxy
  property metastore.task.threads.always org.apache.hadoop.hive.metastore.events.EventCleanerTask
  echo '</configuration>'
} > "$HMS_CONF_DIR/metastore-site.xml"
cat > "$HMS_CONF_DIR/metastore-log4j2.properties" <<'LOG4J'
status = WARN
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_OUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{ISO8601} %-5p [%t] %c{1}: %m%n
rootLogger.level = INFO
rootLogger.appenderRef.console.ref = console
logger.datanucleus.name = DataNucleus
logger.datanucleus.level = WARN
LOG4J
export METASTORE_CONF_DIR="$HMS_CONF_DIR" METASTORE_HOME="$HMS_HOME/home"

schematool() {
  java -Xmx256m -cp "$CP" org.apache.hadoop.hive.metastore.tools.MetastoreSchemaTool \
    -dbType mysql -url "$HMS_DB_URL" -driver "$DRIVER" -userName "$HMS_DB_USER" "$@"
}

# The schema: created here on the primary; on a replica it arrives by replication.
for attempt in $(seq 1 120); do
  if schematool -info >/tmp/hms-schematool.log 2>&1; then
    echo "metastore schema present in $HMS_DB_URL"
    break
  fi
  if [ "$HMS_INIT_SCHEMA" = true ]; then
    echo "creating the metastore schema in $HMS_DB_URL"
    if schematool -initSchema >/tmp/hms-schematool.log 2>&1; then echo "metastore schema created"; break; fi
    echo "schema tool failed (attempt $attempt; output below); retrying in 5 s" >&2
    tail -20 /tmp/hms-schematool.log >&2
  elif [ "$attempt" = 1 ]; then
    echo "waiting for the metastore schema to appear in $HMS_DB_URL (replicated from the primary)"
  fi
  if [ "$attempt" = 120 ]; then
    echo "no metastore schema in $HMS_DB_URL after 10 minutes; last schema tool output:" >&2
    tail -20 /tmp/hms-schematool.log >&2
    exit 1
  fi
  sleep 5
done

# shellcheck disable=SC2086
exec java $HMS_HEAP -Dlog4j.configurationFile="$HMS_CONF_DIR/metastore-log4j2.properties" \
  -cp "$CP" org.apache.hadoop.hive.metastore.HiveMetaStore -p "$HMS_PORT"
