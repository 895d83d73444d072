// Hive's own HiveMetaStoreClient as an end user: logged in from a keytab (SASL GSSAPI, as a
// Kerberos-enabled engine or job would), or plain with set_ugi. Creates a database and a table,
// reads them back, prints one JSON line: {"ok":true,"user":...,"dbOwner":...,"tableOwner":...}
// or {"ok":false,"error":...} (exit 2) with the whole cause chain, so tests can assert the reason.
//
//   java -cp CP test/java/KerberosClient.java --uri thrift://HOST:PORT --db NAME
//        (--kerberos PRINCIPAL KEYTAB --service hive/_HOST@REALM | --user NAME)
//        [--token OWNER RENEWER]   instead of creating: get a delegation token and renew it,
//                                  prints {"ok":true,"token":...,"expiresAt":...}
//        [--cancel TOKEN]          instead of creating: cancel the token, prints {"ok":true}
import java.security.PrivilegedExceptionAction;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hive.metastore.HiveMetaStoreClient;
import org.apache.hadoop.hive.metastore.api.Database;
import org.apache.hadoop.hive.metastore.api.FieldSchema;
import org.apache.hadoop.hive.metastore.api.SerDeInfo;
import org.apache.hadoop.hive.metastore.api.StorageDescriptor;
import org.apache.hadoop.hive.metastore.api.Table;
import org.apache.hadoop.hive.metastore.conf.MetastoreConf;
import org.apache.hadoop.hive.metastore.conf.MetastoreConf.ConfVars;
import org.apache.hadoop.security.UserGroupInformation;

public class KerberosClient {
  public static void main(String[] args) {
    String uri = null, db = null, principal = null, keytab = null, service = null, user = null;
    String tokenOwner = null, tokenRenewer = null, cancel = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--uri": uri = args[++i]; break;
        case "--db": db = args[++i]; break;
        case "--kerberos": principal = args[++i]; keytab = args[++i]; break;
        case "--service": service = args[++i]; break;
        case "--user": user = args[++i]; break;
        case "--token": tokenOwner = args[++i]; tokenRenewer = args[++i]; break;
        case "--cancel": cancel = args[++i]; break;
        default: fail("unknown argument " + args[i]);
      }
    }
    if (uri == null || db == null || (principal == null) == (user == null)) fail("--uri, --db and one of --kerberos/--user are required");
    boolean sasl = principal != null;
    Configuration conf = MetastoreConf.newMetastoreConf();
    conf.set("hadoop.security.authentication", sasl ? "kerberos" : "simple");
    MetastoreConf.setVar(conf, ConfVars.THRIFT_URIS, uri);
    MetastoreConf.setBoolVar(conf, ConfVars.USE_THRIFT_SASL, sasl);
    if (service != null) MetastoreConf.setVar(conf, ConfVars.KERBEROS_PRINCIPAL, service);
    MetastoreConf.setBoolVar(conf, ConfVars.EXECUTE_SET_UGI, !sasl);
    MetastoreConf.setLongVar(conf, ConfVars.THRIFT_CONNECTION_RETRIES, 1);
    UserGroupInformation.setConfiguration(conf);
    final String dbName = db;
    final String owner = tokenOwner, renewer = tokenRenewer, toCancel = cancel;
    try {
      UserGroupInformation ugi = sasl
          ? UserGroupInformation.loginUserFromKeytabAndReturnUGI(principal, keytab)
          : UserGroupInformation.createRemoteUser(user);
      String out = ugi.doAs((PrivilegedExceptionAction<String>) () -> {
        HiveMetaStoreClient client = new HiveMetaStoreClient(conf);
        try {
          if (owner != null) {
            String token = client.getDelegationToken(owner, renewer);
            long expiresAt = client.renewDelegationToken(token);
            return "{\"ok\":true,\"token\":" + quote(token) + ",\"expiresAt\":" + expiresAt + "}";
          }
          if (toCancel != null) {
            client.cancelDelegationToken(toCancel);
            return "{\"ok\":true}";
          }
          Database d = new Database();
          d.setName(dbName);
          d.setDescription("created by KerberosClient");
          d.setParameters(new HashMap<>());
          client.createDatabase(d);
          Table t = new Table();
          t.setDbName(dbName);
          t.setTableName("t1");
          t.setTableType("MANAGED_TABLE");
          t.setParameters(new HashMap<>());
          t.setPartitionKeys(new ArrayList<>());
          StorageDescriptor sd = new StorageDescriptor();
          List<FieldSchema> cols = new ArrayList<>();
          cols.add(new FieldSchema("a", "string", null));
          sd.setCols(cols);
          sd.setSerdeInfo(new SerDeInfo("t1", "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe", new HashMap<>()));
          sd.setInputFormat("org.apache.hadoop.mapred.TextInputFormat");
          sd.setOutputFormat("org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat");
          t.setSd(sd);
          client.createTable(t);
          Database back = client.getDatabase(dbName);
          Table tb = client.getTable(dbName, "t1");
          return "{\"ok\":true,\"user\":" + quote(UserGroupInformation.getCurrentUser().getUserName())
              + ",\"dbOwner\":" + quote(back.getOwnerName()) + ",\"tableOwner\":" + quote(tb.getOwner()) + "}";
        } finally {
          client.close();
        }
      });
      System.out.println(out);
    } catch (Throwable e) {
      StringBuilder chain = new StringBuilder();
      for (Throwable c = e; c != null; c = c.getCause()) chain.append(c.getClass().getName()).append(": ").append(c.getMessage()).append(" | ");
      System.out.println("{\"ok\":false,\"error\":" + quote(chain.toString()) + "}");
      System.exit(2);
    }
  }

  static String quote(String s) {
    if (s == null) return "null";
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", " ") + "\"";
  }

  static void fail(String why) {
    System.err.println(why);
    System.exit(64);
  }
}
