/*
 * The main class of a Trino server assembled by stack/engines.ts. Trino's own
 * (io.trino.server.TrinoServer, module trino-server-main) checks the Java version and calls
 * Server.start(version); trino-main's Server does the same checks itself (TrinoSystemRequirements),
 * so this only starts it, with the version the install recorded.
 */
public final class TrinoServerMain {
    private TrinoServerMain() {}

    public static void main(String[] args) {
        new io.trino.server.Server().start(System.getProperty("hmsrouter.engine.version", "unknown"));
    }
}
