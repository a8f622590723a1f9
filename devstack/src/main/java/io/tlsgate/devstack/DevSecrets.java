package io.tlsgate.devstack;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Properties;

/**
 * The dev stack's secrets: the admin REST token, each service's enrolment token for the
 * internal CA, the embedded database's password and cert-service's master key. Generated once into {@code <data>/secrets.properties} (mode 0600) and
 * reused, so scripts and a second start keep working. The file is also the services' extra
 * configuration source ({@code QUARKUS_CONFIG_LOCATIONS}), exactly as a mounted Kubernetes
 * Secret would be.
 */
final class DevSecrets {

    static final String ADMIN = "tlsgate.auth.tokens.dev-admin.token";
    static final String ADMIN_ROLE = "tlsgate.auth.tokens.dev-admin.role";
    static final String ENROLLMENT = "tlsgate.internal-tls.enrollment-tokens.";
    static final String DB_PASSWORD = "devstack.db-password";
    static final String MASTER_KEY = "tlsgate.cert.master-key";
    static final String BOUNCE_KEYS = "tlsgate.bounce-verification.keys";

    final Path file;
    final Properties values;

    private DevSecrets(Path file, Properties values) {
        this.file = file;
        this.values = values;
    }

    static DevSecrets loadOrCreate(Path dataDir) throws IOException {
        Path file = dataDir.resolve("secrets.properties");
        Properties p = new Properties();
        if (Files.exists(file)) {
            try (Reader r = Files.newBufferedReader(file)) {
                p.load(r);
            }
        }
        boolean changed = false;
        changed |= p.putIfAbsent(ADMIN, "dev-admin-" + random()) == null;
        changed |= p.putIfAbsent(ADMIN_ROLE, "admin") == null;
        for (var service : DevStack.SERVICES) {
            changed |= p.putIfAbsent(ENROLLMENT + service.getKey(), "dev-enrol-" + random()) == null;
        }
        // The shared service token of earlier versions is not used any more.
        changed |= p.remove("tlsgate.auth.service-token") != null;
        changed |= p.putIfAbsent(DB_PASSWORD, random()) == null;
        changed |= p.putIfAbsent(MASTER_KEY, masterKey()) == null;
        // Bounce address tagging: delivery-service tags with it, listener-service verifies.
        changed |= p.putIfAbsent(BOUNCE_KEYS, "1:" + masterKey()) == null;
        if (changed) {
            Files.createDirectories(dataDir);
            if (!Files.exists(file)) {
                Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            }
            try (Writer w = Files.newBufferedWriter(file)) {
                p.store(w, "tlsgate devstack secrets: generated once, kept across restarts; delete to rotate");
            }
        }
        return new DevSecrets(file, p);
    }

    String adminToken() {
        return values.getProperty(ADMIN);
    }

    /** {@code service}'s enrolment token: whoever holds it can get that service's identity from cert-service. */
    String enrollmentToken(String service) {
        return values.getProperty(ENROLLMENT + service);
    }

    /** The bounce-tagging keys ({@code K:base64}), first the one that tags. Secret. */
    java.util.List<String> bounceKeys() {
        return java.util.List.of(values.getProperty(BOUNCE_KEYS).split(","));
    }

    String dbPassword() {
        return values.getProperty(DB_PASSWORD);
    }

    /** 32 random bytes, base64: cert-service's master key for private keys at rest. */
    private static String masterKey() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        return java.util.Base64.getEncoder().encodeToString(b);
    }

    private static String random() {
        byte[] b = new byte[20];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }
}
