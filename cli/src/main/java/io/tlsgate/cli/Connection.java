package io.tlsgate.cli;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import picocli.CommandLine.Option;

/** The options every command that calls a service takes (see {@link Settings} for the order they apply in). */
public final class Connection {

    @Option(names = "--config", paramLabel = "FILE", description = "Configuration file (default: $TLSGATE_CONFIG, "
            + "else ~/.config/tlsgate/config.properties).")
    Path config;

    @Option(names = "--policy-url", paramLabel = "URL", description = "policy-service (default: $TLSGATE_POLICY_URL, "
            + "the file's policy-url, https://localhost:8081).")
    String policyUrl;

    @Option(names = "--cert-url", paramLabel = "URL", description = "cert-service (default: $TLSGATE_CERT_URL, "
            + "the file's cert-url, https://localhost:8082).")
    String certUrl;

    @Option(names = "--delivery-url", paramLabel = "URL", description = "delivery-service (default: $TLSGATE_DELIVERY_URL, "
            + "the file's delivery-url, https://localhost:8083).")
    String deliveryUrl;

    @Option(names = "--token", paramLabel = "TOKEN", description = "API token (default: $TLSGATE_TOKEN, the file's token). "
            + "Prefer --token-file: a flag is visible to other users in ps.")
    String token;

    @Option(names = "--token-file", paramLabel = "FILE", description = "File holding the API token "
            + "(default: $TLSGATE_TOKEN_FILE, the file's token-file).")
    Path tokenFile;

    @Option(names = "--cacert", paramLabel = "PEM", description = "CA certificate(s) of the services' REST certificates "
            + "(default: $TLSGATE_CACERT, the file's cacert, else the JDK's trusted CAs).")
    Path cacert;

    @Option(names = "--timeout", paramLabel = "SECONDS", description = "How long to wait for an answer (default: 60).")
    Integer timeout;

    private Settings settings;

    /** The resolved settings (flags, then environment, then the configuration file, then defaults). */
    public Settings settings() {
        if (settings == null) {
            Map<String, String> flags = new HashMap<>();
            put(flags, "config", config);
            put(flags, "policy-url", policyUrl);
            put(flags, "cert-url", certUrl);
            put(flags, "delivery-url", deliveryUrl);
            put(flags, "token", token);
            put(flags, "token-file", tokenFile);
            put(flags, "cacert", cacert);
            put(flags, "timeout", timeout);
            String home = System.getProperty("user.home");
            settings = Settings.resolve(flags, System.getenv(), home == null ? null : Path.of(home));
        }
        return settings;
    }

    private static void put(Map<String, String> flags, String key, Object value) {
        if (value != null) {
            flags.put(key, value.toString());
        }
    }
}
