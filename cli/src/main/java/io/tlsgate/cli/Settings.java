package io.tlsgate.cli;

import java.io.IOException;
import java.io.Reader;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * Where the services are and how to talk to them. Each value comes from the first of: the
 * command's flag, the environment ({@code TLSGATE_*}), the configuration file, the default.
 * The file is {@code --config}, else {@code $TLSGATE_CONFIG}, else
 * {@code ~/.config/tlsgate/config.properties} when it exists; relative paths in it are
 * relative to the file.
 *
 * @param token the bearer token, read from {@code token} or {@code token-file}
 * @param cacert PEM file of the CA(s) that issued the services' REST certificates; null: the JDK's
 */
public record Settings(Map<Service, URI> urls, String token, Path cacert, Duration timeout) {

    public static final String CONFIG_ENV = "TLSGATE_CONFIG";

    public URI url(Service s) {
        return urls.get(s);
    }

    /**
     * Resolves the settings.
     *
     * @param flags values given on the command line, by configuration key ({@code policy-url},
     *     {@code token}, {@code token-file}, {@code cacert}, {@code timeout}, {@code config})
     * @param env the environment
     * @param home the user's home directory (for the default configuration file)
     */
    public static Settings resolve(Map<String, String> flags, Map<String, String> env, Path home) {
        Properties file = new Properties();
        Path base = null;
        String explicit = flags.getOrDefault("config", env.get(CONFIG_ENV));
        Path config = explicit != null ? Path.of(explicit) : home == null ? null : home.resolve(".config/tlsgate/config.properties");
        if (config != null && (explicit != null || Files.isRegularFile(config))) {
            if (!Files.isRegularFile(config)) {
                throw CliException.usage("configuration file " + config + " does not exist");
            }
            try (Reader r = Files.newBufferedReader(config)) {
                file.load(r);
            } catch (IOException e) {
                throw CliException.usage("cannot read configuration file " + config + ": " + e.getMessage());
            }
            base = config.toAbsolutePath().getParent();
            for (String k : file.stringPropertyNames()) {
                if (!KNOWN.contains(k)) {
                    throw CliException.usage("configuration file " + config + ": unknown key '" + k + "' (known: "
                            + String.join(", ", KNOWN) + ")");
                }
            }
        }
        Lookup l = new Lookup(flags, env, file, base);
        Map<Service, URI> urls = new EnumMap<>(Service.class);
        for (Service s : Service.values()) {
            urls.put(s, url(s, l.value(s.key(), s.env()), s.defaultUrl()));
        }
        // token and token-file by source: a flag of either wins over the environment, which wins over the file.
        String token = l.flags().get("token");
        Path tokenFile = token == null ? l.pathFrom(l.flags().get("token-file"), false) : null;
        if (token == null && tokenFile == null) {
            token = emptyToNull(l.env().get("TLSGATE_TOKEN"));
            tokenFile = token == null ? l.pathFrom(emptyToNull(l.env().get("TLSGATE_TOKEN_FILE")), false) : null;
        }
        if (token == null && tokenFile == null) {
            token = emptyToNull(l.file().getProperty("token"));
            tokenFile = token == null ? l.pathFrom(emptyToNull(l.file().getProperty("token-file")), true) : null;
        }
        if (token == null && tokenFile != null) {
            try {
                token = Files.readString(tokenFile).strip();
            } catch (IOException e) {
                throw CliException.usage("cannot read the token file " + tokenFile + ": " + e.getMessage());
            }
        }
        Path cacert = l.path("cacert", "TLSGATE_CACERT");
        if (cacert != null && !Files.isReadable(cacert)) {
            throw CliException.usage("cacert: cannot read " + cacert);
        }
        String t = l.value("timeout", "TLSGATE_TIMEOUT");
        Duration timeout = Duration.ofSeconds(60);
        if (t != null) {
            try {
                timeout = Duration.ofSeconds(Integer.parseInt(t));
            } catch (NumberFormatException e) {
                throw CliException.usage("timeout: '" + t + "' is not a number of seconds");
            }
            if (timeout.isNegative() || timeout.isZero()) {
                throw CliException.usage("timeout: must be at least 1 second");
            }
        }
        return new Settings(urls, token == null || token.isBlank() ? null : token, cacert, timeout);
    }

    /** The token, or a usage error that says where to put one. */
    public String requireToken() {
        if (token == null) {
            throw CliException.usage("no API token: give --token or --token-file, set TLSGATE_TOKEN, or put token= in "
                    + "the configuration file (docs/cli.md)");
        }
        return token;
    }

    private static final java.util.List<String> KNOWN = java.util.List.of("policy-url", "cert-url", "delivery-url", "token",
            "token-file", "cacert", "timeout");

    private static URI url(Service s, String value, String fallback) {
        String v = value == null ? fallback : value;
        URI u;
        try {
            u = URI.create(v.endsWith("/") ? v.substring(0, v.length() - 1) : v);
        } catch (IllegalArgumentException e) {
            throw CliException.usage(s.key() + ": '" + v + "' is not a URL");
        }
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
        if (!(scheme.equals("https") || scheme.equals("http")) || u.getHost() == null) {
            throw CliException.usage(s.key() + ": '" + v + "' is not an http(s) URL such as " + fallback);
        }
        return u;
    }

    private static String emptyToNull(String v) {
        return v == null || v.isBlank() ? null : v.strip();
    }

    private record Lookup(Map<String, String> flags, Map<String, String> env, Properties file, Path base) {
        Path pathFrom(String v, boolean fromFile) {
            if (v == null) {
                return null;
            }
            Path p = Path.of(v.startsWith("~/") ? System.getProperty("user.home") + v.substring(1) : v);
            return fromFile && base != null && !p.isAbsolute() ? base.resolve(p) : p;
        }

        String value(String key, String envName) {
            String v = flags.get(key);
            if (v == null) {
                v = env.get(envName);
            }
            if (v == null || v.isEmpty()) {
                v = file.getProperty(key);
            }
            return v == null || v.isEmpty() ? null : v.strip();
        }

        Path path(String key, String envName) {
            String v = value(key, envName);
            if (v == null) {
                return null;
            }
            Path p = Path.of(v.startsWith("~/") ? System.getProperty("user.home") + v.substring(1) : v);
            boolean fromFile = flags.get(key) == null && (env.get(envName) == null || env.get(envName).isEmpty());
            return fromFile && base != null && !p.isAbsolute() ? base.resolve(p) : p;
        }
    }
}
