package io.tlsgate.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Service identities for internal mutual TLS in a test JVM, made at test time: a test CA and,
 * for each of the four services, a key and a certificate naming it (SAN URI
 * {@code spiffe://tlsgate/<service>} and DNS {@code <service>}), written as PEM files a service
 * reads with {@code tlsgate.internal-tls.source=files} ({@link #config()}). Tests call a
 * service's gRPC API as one of these services ({@link GrpcChannels}); {@link #foreign} is the
 * same name from another CA, which no service may trust.
 */
public final class TestIdentities {

    /** A key and the certificate naming a service. */
    public record Identity(String service, KeyPair keys, X509Certificate certificate) {}

    public static final List<String> SERVICES = List.of("policy-service", "cert-service", "delivery-service", "listener-service");

    private static TestIdentities shared;

    private final Path dir;
    private final TestPki.Issued ca;
    private final Map<String, Identity> identities = new HashMap<>();

    private TestIdentities() throws IOException {
        dir = Files.createTempDirectory("tlsgate-identities-");
        dir.toFile().deleteOnExit();
        ca = TestPki.selfSignedCa("tlsgate test internal CA", Duration.ofDays(30));
        Files.writeString(dir.resolve("ca.pem"), ca.certificatePem());
        for (String s : SERVICES) {
            Identity id = issue(ca, s);
            identities.put(s, id);
            Files.writeString(dir.resolve(s + ".crt"), TestPki.pem(id.certificate()));
            Files.writeString(dir.resolve(s + ".key"), TestPki.pem(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(
                    id.keys().getPrivate(), null)));
        }
    }

    /** The identities of this JVM, made on first use. */
    public static synchronized TestIdentities get() {
        if (shared == null) {
            try {
                shared = new TestIdentities();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return shared;
    }

    /** {@code service}'s identity. */
    public Identity of(String service) {
        return identities.get(service);
    }

    /** A certificate naming {@code service} from a CA no tlsgate service trusts. */
    public Identity foreign(String service) {
        return issue(TestPki.selfSignedCa("not the internal CA", Duration.ofDays(30)), service);
    }

    /** The test CA's certificate. */
    public X509Certificate ca() {
        return ca.certificate();
    }

    /** Configuration making a service read its identity from these files (its name picks the file). */
    public Map<String, String> config() {
        return Map.of("tlsgate.internal-tls.source", "files",
                "tlsgate.internal-tls.cert-file", dir + "/${quarkus.application.name}.crt",
                "tlsgate.internal-tls.key-file", dir + "/${quarkus.application.name}.key",
                "tlsgate.internal-tls.ca-file", dir + "/ca.pem");
    }

    private static Identity issue(TestPki.Issued issuer, String service) {
        KeyPair keys = TestPki.ecKeys();
        X509Certificate cert = TestPki.issue(issuer, keys.getPublic(),
                TestPki.Spec.server(service, "URI:spiffe://tlsgate/" + service, service));
        return new Identity(service, keys, cert);
    }
}
