// Prints, one per line and sorted, every method name of the Hive metastore Thrift service
// interface org.apache.hadoop.hive.metastore.api.ThriftHiveMetastore.Iface, including the ones
// it inherits from fb303's com.facebook.fb303.FacebookService.Iface (getMethods() returns them).
// Names are de-duplicated (a Java interface cannot overload Thrift methods anyway).
//
//   java -cp "$(cat ~/.cache/hms-router/hive-3.1.3/classpath.txt)" test/java/ListIfaceMethods.java
//
// Loaded reflectively so this file compiles without the metastore jars on the launcher's
// source path; a missing class is reported in one line with exit code 2.
import java.lang.reflect.Method;
import java.util.TreeSet;

public class ListIfaceMethods {
  public static void main(String[] args) {
    String name = args.length > 0 ? args[0] : "org.apache.hadoop.hive.metastore.api.ThriftHiveMetastore$Iface";
    Class<?> iface;
    try {
      iface = Class.forName(name, false, ListIfaceMethods.class.getClassLoader());
    } catch (ClassNotFoundException e) {
      System.err.println("ListIfaceMethods: " + name + " not on the classpath (pass the metastore classpath with -cp)");
      System.exit(2);
      return;
    }
    TreeSet<String> names = new TreeSet<>();
    for (Method m : iface.getMethods()) {
      names.add(m.getName());
    }
    StringBuilder out = new StringBuilder();
    for (String n : names) {
      out.append(n).append('\n');
    }
    System.out.print(out);
    System.out.flush();
  }
}
