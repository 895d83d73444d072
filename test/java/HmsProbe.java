// Drives a Hive metastore through Hive's own client (org.apache.hadoop.hive.metastore.HiveMetaStoreClient)
// and prints ONE JSON document with the result of every step on stdout. The document leaves out
// what differs between two runs against equivalent metastores (createTime, lastAccessTime,
// transient_lastDdlTime, Table.id), so the stdout of a run against a metastore and of a run
// through a faithful proxy in front of it are byte-identical. Timings go to stderr only.
//
//   java -cp "$(cat ~/.cache/hms-router/hive-3.1.3/classpath.txt)" test/java/HmsProbe.java \
//        --uri thrift://127.0.0.1:19183 [--framed] --db probe_db --partitions 2000
//
// Exit code 0 when the scenario ran to its end (failed steps are reported in the JSON, not by
// the exit code), 2 on bad arguments, 1 if the client could not be created at all.
//
// Single file for the Java source launcher; compiles against the classpath of Hive 3.1.x and
// 4.x (calls whose signatures differ between the two lines go through reflection).
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hive.metastore.HiveMetaStoreClient;
import org.apache.hadoop.hive.metastore.conf.MetastoreConf;
import org.apache.hadoop.hive.metastore.api.Database;
import org.apache.hadoop.hive.metastore.api.FieldSchema;
import org.apache.hadoop.hive.metastore.api.Partition;
import org.apache.hadoop.hive.metastore.api.SerDeInfo;
import org.apache.hadoop.hive.metastore.api.StorageDescriptor;
import org.apache.hadoop.hive.metastore.api.Table;
import org.apache.hadoop.security.UserGroupInformation;
import org.apache.thrift.TBase;
import org.apache.thrift.TEnum;
import org.apache.thrift.TFieldIdEnum;
import org.apache.thrift.meta_data.FieldMetaData;

public class HmsProbe {
  /** Struct fields left out of the output: they differ between two runs by nature. */
  private static final Set<String> VOLATILE_FIELDS = Set.of("createTime", "lastAccessTime");
  /** Table.id (Hive 4) is the backing database's sequence value. */
  private static final Set<String> VOLATILE_TABLE_FIELDS = Set.of("id");
  /** Keys left out of "parameters" maps. */
  private static final Set<String> VOLATILE_PARAMS = Set.of("transient_lastDdlTime");

  private static final String TABLE = "probe_events";
  private static final int BATCH = 250;
  private static final int BY_NAMES = 100;
  private static final short LIST_MAX = 10;

  private static PrintStream out;
  private static final StringBuilder json = new StringBuilder();
  private static int steps = 0;

  interface Step {
    Object run() throws Exception;
  }

  public static void main(String[] args) throws Exception {
    // stdout carries the JSON document only: anything else that writes to System.out (log4j2's
    // default console appender, Hadoop warnings) goes to stderr.
    out = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
    System.setOut(System.err);
    if (System.getProperty("org.apache.logging.log4j.level") == null) {
      System.setProperty("org.apache.logging.log4j.level", "WARN");
    }

    String uri = null;
    String db = null;
    boolean framed = false;
    int partitions = 0;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--uri": uri = arg(args, ++i); break;
        case "--db": db = arg(args, ++i); break;
        case "--framed": framed = true; break;
        case "--partitions": partitions = Integer.parseInt(arg(args, ++i)); break;
        default: usage("unknown argument " + args[i]);
      }
    }
    if (uri == null || db == null || partitions < 0) {
      usage("--uri and --db are required");
    }
    final String dbName = db;
    final int n = partitions;

    Configuration conf = MetastoreConf.newMetastoreConf();
    MetastoreConf.setVar(conf, MetastoreConf.ConfVars.THRIFT_URIS, uri);
    MetastoreConf.setBoolVar(conf, MetastoreConf.ConfVars.USE_THRIFT_FRAMED_TRANSPORT, framed);
    MetastoreConf.setBoolVar(conf, MetastoreConf.ConfVars.USE_THRIFT_SASL, false);
    // makes HiveMetaStoreClient.open() call set_ugi(user, groups) on every connection
    MetastoreConf.setBoolVar(conf, MetastoreConf.ConfVars.EXECUTE_SET_UGI, true);
    conf.set("hive.metastore.execute.setugi", "true");
    MetastoreConf.setLongVar(conf, MetastoreConf.ConfVars.THRIFT_CONNECTION_RETRIES, 1);
    conf.set("metastore.client.socket.timeout", "600s");

    long t0 = System.nanoTime();
    final HiveMetaStoreClient client;
    try {
      client = new HiveMetaStoreClient(conf);
    } catch (Exception e) {
      System.err.println("HmsProbe: cannot connect to " + uri + ": " + describe(e));
      System.exit(1);
      return;
    }
    System.err.printf("HmsProbe: connected to %s (%s) in %d ms%n", uri, framed ? "framed" : "buffered",
        (System.nanoTime() - t0) / 1_000_000);

    json.append("{\"probe\":\"HmsProbe\",\"db\":").append(str(dbName)).append(",\"table\":").append(str(TABLE))
        .append(",\"partitions\":").append(n).append(",\"steps\":[");

    step("drop_database_if_exists", () -> {
      client.dropDatabase(dbName, true, true, true);
      return null;
    });

    step("create_database", () -> {
      Database d = new Database();
      d.setName(dbName);
      d.setDescription("hms-router probe database");
      d.setParameters(new HashMap<>(Map.of("probe", "true")));
      client.createDatabase(d);
      return null;
    });

    step("create_table", () -> {
      client.createTable(newTable(dbName));
      return null;
    });

    List<String> expectedNames = new ArrayList<>();
    step("add_partitions", () -> {
      Table t = client.getTable(dbName, TABLE);
      int added = 0;
      int batches = 0;
      List<Partition> batch = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        String day = LocalDate.of(2024, 1, 1).plusDays(i / 24).toString();
        String hour = Integer.toString(i % 24);
        expectedNames.add("day=" + day + "/hour=" + hour);
        batch.add(newPartition(t, day, hour));
        if (batch.size() == BATCH || i == n - 1) {
          added += client.add_partitions(batch);
          batches++;
          batch = new ArrayList<>();
        }
      }
      Map<String, Object> r = new TreeMap<>();
      r.put("added", added);
      r.put("batches", batches);
      return r;
    });

    step("get_table", () -> client.getTable(dbName, TABLE));

    step("list_partition_names", () -> {
      List<String> names = client.listPartitionNames(dbName, TABLE, (short) -1);
      return summary(names, 5);
    });

    step("list_partition_names_max", () -> client.listPartitionNames(dbName, TABLE, LIST_MAX));

    step("get_partitions_by_names", () -> {
      List<String> names = new ArrayList<>();
      // spread over the whole table, plus one name that does not exist
      int want = Math.min(BY_NAMES, expectedNames.size());
      for (int i = 0; i < want; i++) {
        names.add(expectedNames.get((int) ((long) i * expectedNames.size() / want)));
      }
      names.add("day=1999-12-31/hour=0");
      List<?> parts = partitionsByNames(client, dbName, TABLE, names);
      List<String> rendered = new ArrayList<>();
      for (Object p : parts) {
        rendered.add(toJson(p));
      }
      Map<String, Object> r = new TreeMap<>();
      r.put("requested", names.size());
      r.put("count", parts.size());
      r.put("sha256", sha256(String.join("\n", rendered)));
      r.put("first", parts.isEmpty() ? null : parts.get(0));
      List<String> values = new ArrayList<>();
      for (Object p : parts) {
        values.add(String.join("/", ((Partition) p).getValues()));
      }
      r.put("values", values);
      return r;
    });

    step("alter_table", () -> {
      Table t = client.getTable(dbName, TABLE);
      t.getSd().addToCols(new FieldSchema("extra", "string", "added by alter_table"));
      t.putToParameters("probe.altered", "true");
      t.putToParameters("comment", "altered by HmsProbe");
      client.alter_table(dbName, TABLE, t);
      return null;
    });

    step("get_table_after_alter", () -> client.getTable(dbName, TABLE));

    step("set_ugi", () -> {
      // The main client already called set_ugi when it opened its connection (setugi=true); the
      // server refuses a second set_ugi on the same connection ("UGI is already set") and drops
      // it. So the explicit call goes over a second connection whose client does not send
      // set_ugi on open, with the same identity.
      Configuration c2 = new Configuration(conf);
      MetastoreConf.setBoolVar(c2, MetastoreConf.ConfVars.EXECUTE_SET_UGI, false);
      c2.set("hive.metastore.execute.setugi", "false");
      HiveMetaStoreClient second = new HiveMetaStoreClient(c2);
      try {
        UserGroupInformation ugi = UserGroupInformation.getCurrentUser();
        Object stub = thriftStub(second);
        Method m = stub.getClass().getMethod("set_ugi", String.class, List.class);
        Object groups = invoke(m, stub, ugi.getUserName(), new ArrayList<>(Arrays.asList(ugi.getGroupNames())));
        Map<String, Object> r = new TreeMap<>();
        r.put("user", ugi.getUserName());
        r.put("returned", groups);
        r.put("databases_after", second.getAllDatabases().contains(dbName.toLowerCase()));
        return r;
      } finally {
        second.close();
      }
    });

    step("get_all_databases", () -> {
      List<String> mine = new ArrayList<>();
      for (String d : client.getAllDatabases()) {
        if (d.equalsIgnoreCase(dbName)) {
          mine.add(d);
        }
      }
      return mine;
    });

    step("drop_table", () -> {
      client.dropTable(dbName, TABLE, true, false);
      return null;
    });

    step("get_table_after_drop", () -> client.getTable(dbName, TABLE));

    step("drop_database", () -> {
      client.dropDatabase(dbName, true, false, false);
      return null;
    });

    json.append("]}");
    out.println(json);
    out.flush();
    client.close();
    System.err.printf("HmsProbe: %d steps in %d ms%n", steps, (System.nanoTime() - t0) / 1_000_000);
    System.exit(0);
  }

  // ---------------------------------------------------------------- scenario objects

  private static Table newTable(String db) {
    StorageDescriptor sd = new StorageDescriptor();
    sd.setCols(new ArrayList<>(List.of(
        new FieldSchema("id", "bigint", "event id"),
        new FieldSchema("name", "string", null),
        new FieldSchema("payload", "map<string,string>", "free form"))));
    sd.setInputFormat("org.apache.hadoop.mapred.TextInputFormat");
    sd.setOutputFormat("org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat");
    sd.setCompressed(false);
    sd.setNumBuckets(-1);
    SerDeInfo serde = new SerDeInfo();
    serde.setName(TABLE);
    serde.setSerializationLib("org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe");
    serde.setParameters(new HashMap<>(Map.of("serialization.format", "1", "field.delim", "\t")));
    sd.setSerdeInfo(serde);
    sd.setBucketCols(new ArrayList<>());
    sd.setSortCols(new ArrayList<>());
    sd.setParameters(new HashMap<>());

    Table t = new Table();
    t.setDbName(db);
    t.setTableName(TABLE);
    t.setOwner("hms-probe");
    t.setTableType("EXTERNAL_TABLE");
    t.setParameters(new HashMap<>(Map.of("EXTERNAL", "TRUE", "probe", "true")));
    t.setPartitionKeys(new ArrayList<>(List.of(
        new FieldSchema("day", "string", "yyyy-mm-dd"),
        new FieldSchema("hour", "int", null))));
    t.setSd(sd);
    return t;
  }

  private static Partition newPartition(Table t, String day, String hour) {
    Partition p = new Partition();
    p.setDbName(t.getDbName());
    p.setTableName(t.getTableName());
    p.setValues(new ArrayList<>(List.of(day, hour)));
    StorageDescriptor sd = new StorageDescriptor(t.getSd());
    sd.setLocation(t.getSd().getLocation() + "/day=" + day + "/hour=" + hour);
    p.setSd(sd);
    p.setParameters(new HashMap<>(Map.of("probe.part", "true")));
    return p;
  }

  // ---------------------------------------------------------------- version-dependent calls

  /** getPartitionsByNames(db, tbl, names): Hive 3 and 4.0 have it; later lines take a request object. */
  private static List<?> partitionsByNames(HiveMetaStoreClient client, String db, String tbl, List<String> names)
      throws Exception {
    try {
      Method m = client.getClass().getMethod("getPartitionsByNames", String.class, String.class, List.class);
      return (List<?>) invoke(m, client, db, tbl, names);
    } catch (NoSuchMethodException e) {
      Class<?> reqClass = Class.forName("org.apache.hadoop.hive.metastore.api.GetPartitionsByNamesRequest");
      Object req = reqClass.getConstructor(String.class, String.class).newInstance(db, tbl);
      reqClass.getMethod("setNames", List.class).invoke(req, names);
      Method m = client.getClass().getMethod("getPartitionsByNames", reqClass);
      Object res = invoke(m, client, req);
      return (List<?>) res.getClass().getMethod("getPartitions").invoke(res);
    }
  }

  /** The ThriftHiveMetastore.Iface stub inside HiveMetaStoreClient (private field "client"). */
  private static Object thriftStub(HiveMetaStoreClient client) throws Exception {
    for (Class<?> c = client.getClass(); c != null; c = c.getSuperclass()) {
      try {
        Field f = c.getDeclaredField("client");
        f.setAccessible(true);
        return f.get(client);
      } catch (NoSuchFieldException e) {
        // look in the superclass
      }
    }
    throw new IllegalStateException("HiveMetaStoreClient has no Thrift stub field 'client'");
  }

  private static Object invoke(Method m, Object target, Object... args) throws Exception {
    try {
      return m.invoke(target, args);
    } catch (InvocationTargetException e) {
      Throwable c = e.getCause();
      if (c instanceof Exception) {
        throw (Exception) c;
      }
      throw e;
    }
  }

  // ---------------------------------------------------------------- steps and JSON

  private static void step(String name, Step s) {
    long t0 = System.nanoTime();
    String entry;
    boolean ok;
    try {
      Object r = s.run();
      entry = "{\"step\":" + str(name) + ",\"ok\":true,\"result\":" + toJson(r) + "}";
      ok = true;
    } catch (Throwable e) {
      entry = "{\"step\":" + str(name) + ",\"ok\":false,\"error\":" + str(describe(e)) + "}";
      ok = false;
    }
    if (steps++ > 0) {
      json.append(',');
    }
    json.append(entry);
    System.err.printf("HmsProbe: %-26s %-5s %7.1f ms%n", name, ok ? "ok" : "FAIL", (System.nanoTime() - t0) / 1e6);
  }

  private static String describe(Throwable e) {
    String msg = e.getMessage();
    return e.getClass().getName() + ": " + (msg == null ? "" : msg);
  }

  private static Map<String, Object> summary(List<String> names, int edge) throws Exception {
    Map<String, Object> r = new TreeMap<>();
    r.put("count", names.size());
    r.put("sha256", sha256(String.join("\n", names)));
    r.put("first", names.subList(0, Math.min(edge, names.size())));
    r.put("last", names.subList(Math.max(0, names.size() - edge), names.size()));
    return r;
  }

  private static String sha256(String s) throws Exception {
    byte[] d = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    StringBuilder b = new StringBuilder();
    for (byte x : d) {
      b.append(String.format("%02x", x));
    }
    return b.toString();
  }

  private static String toJson(Object v) {
    StringBuilder b = new StringBuilder();
    write(b, v, null);
    return b.toString();
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static void write(StringBuilder b, Object v, String fieldName) {
    if (v == null) {
      b.append("null");
    } else if (v instanceof String) {
      b.append(str((String) v));
    } else if (v instanceof Boolean || v instanceof Integer || v instanceof Long || v instanceof Short
        || v instanceof Byte) {
      b.append(v);
    } else if (v instanceof Double || v instanceof Float) {
      double d = ((Number) v).doubleValue();
      b.append(Double.isFinite(d) ? v.toString() : str(v.toString()));
    } else if (v instanceof TEnum) {
      b.append(str(((Enum<?>) v).name()));
    } else if (v instanceof ByteBuffer) {
      ByteBuffer bb = ((ByteBuffer) v).duplicate();
      byte[] bytes = new byte[bb.remaining()];
      bb.get(bytes);
      b.append(str(Base64.getEncoder().encodeToString(bytes)));
    } else if (v instanceof byte[]) {
      b.append(str(Base64.getEncoder().encodeToString((byte[]) v)));
    } else if (v instanceof TBase) {
      writeStruct(b, (TBase) v);
    } else if (v instanceof Map) {
      // sorted keys: Thrift maps are HashMaps, their order is not part of the data
      TreeMap<String, Object> sorted = new TreeMap<>();
      for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
        String k = String.valueOf(e.getKey());
        if ("parameters".equals(fieldName) && VOLATILE_PARAMS.contains(k)) {
          continue;
        }
        sorted.put(k, e.getValue());
      }
      b.append('{');
      boolean first = true;
      for (Map.Entry<String, Object> e : sorted.entrySet()) {
        if (!first) {
          b.append(',');
        }
        first = false;
        b.append(str(e.getKey())).append(':');
        write(b, e.getValue(), null);
      }
      b.append('}');
    } else if (v instanceof Set) {
      // sets: sorted by their rendering
      List<String> items = new ArrayList<>();
      for (Object o : (Set<?>) v) {
        items.add(toJson(o));
      }
      items.sort(null);
      b.append('[').append(String.join(",", items)).append(']');
    } else if (v instanceof Collection) {
      b.append('[');
      boolean first = true;
      for (Object o : (Collection<?>) v) {
        if (!first) {
          b.append(',');
        }
        first = false;
        write(b, o, null);
      }
      b.append(']');
    } else {
      b.append(str(v.toString()));
    }
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static void writeStruct(StringBuilder b, TBase t) {
    Map<? extends TFieldIdEnum, FieldMetaData> meta = FieldMetaData.getStructMetaDataMap(t.getClass());
    boolean isTable = t instanceof Table;
    b.append('{');
    boolean first = true;
    for (TFieldIdEnum f : meta.keySet()) {
      String name = f.getFieldName();
      if (VOLATILE_FIELDS.contains(name) || (isTable && VOLATILE_TABLE_FIELDS.contains(name))) {
        continue;
      }
      if (!t.isSet(f)) {
        continue;
      }
      if (!first) {
        b.append(',');
      }
      first = false;
      b.append(str(name)).append(':');
      write(b, t.getFieldValue(f), name);
    }
    b.append('}');
  }

  private static String str(String s) {
    StringBuilder b = new StringBuilder(s.length() + 2);
    b.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"': b.append("\\\""); break;
        case '\\': b.append("\\\\"); break;
        case '\n': b.append("\\n"); break;
        case '\r': b.append("\\r"); break;
        case '\t': b.append("\\t"); break;
        case '\b': b.append("\\b"); break;
        case '\f': b.append("\\f"); break;
        default:
          if (c < 0x20 || c == 0x2028 || c == 0x2029) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
      }
    }
    return b.append('"').toString();
  }

  private static String arg(String[] args, int i) {
    if (i >= args.length) {
      usage("missing value for " + args[i - 1]);
    }
    return args[i];
  }

  private static void usage(String why) {
    System.err.println("HmsProbe: " + why);
    System.err.println("usage: java -cp CP test/java/HmsProbe.java --uri thrift://HOST:PORT [--framed] --db NAME --partitions N");
    System.exit(2);
  }
}
