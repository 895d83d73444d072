// Prints, one per line, what Hive's own HiveMetaStoreClient gets from getAllDatabases() at --uri.
//   java -cp "$(cat ~/.cache/hms-router/hive-3.1.3/classpath.txt)" test/java/ListDatabases.java --uri thrift://127.0.0.1:9083
import java.io.PrintStream;
import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.nio.charset.StandardCharsets;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hive.metastore.HiveMetaStoreClient;
import org.apache.hadoop.hive.metastore.conf.MetastoreConf;

public class ListDatabases {
  public static void main(String[] args) throws Exception {
    PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
    System.setOut(System.err); // keep stdout for the list only
    if (args.length != 2 || !args[0].equals("--uri")) {
      System.err.println("usage: ListDatabases --uri thrift://host:port");
      System.exit(2);
    }
    Configuration conf = MetastoreConf.newMetastoreConf();
    MetastoreConf.setVar(conf, MetastoreConf.ConfVars.THRIFT_URIS, args[1]);
    MetastoreConf.setLongVar(conf, MetastoreConf.ConfVars.THRIFT_CONNECTION_RETRIES, 1);
    HiveMetaStoreClient client = new HiveMetaStoreClient(conf);
    for (String db : client.getAllDatabases()) out.println(db);
    client.close();
  }
}
