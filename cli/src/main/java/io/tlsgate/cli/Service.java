package io.tlsgate.cli;

/** The services the command line talks to, each with its own base URL (docs/cli.md, "Configuration"). */
public enum Service {
    POLICY("policy-service", "policy-url", 8081),
    CERT("cert-service", "cert-url", 8082),
    DELIVERY("delivery-service", "delivery-url", 8083);

    private final String title;
    private final String key;
    private final int port;

    Service(String title, String key, int port) {
        this.title = title;
        this.key = key;
        this.port = port;
    }

    /** The service's name in messages. */
    public String title() {
        return title;
    }

    /** Its key in the configuration file ({@code policy-url}); the flag is {@code --} and this. */
    public String key() {
        return key;
    }

    /** Its environment variable, such as {@code TLSGATE_POLICY_URL}. */
    public String env() {
        return "TLSGATE_" + key.toUpperCase(java.util.Locale.ROOT).replace('-', '_');
    }

    /** The URL used when nothing names one: the service's port on this machine, as devstack runs it. */
    public String defaultUrl() {
        return "https://localhost:" + port;
    }
}
