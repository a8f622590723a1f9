package io.tlsgate.cert.certs;

import io.quarkus.runtime.StartupEvent;
import io.tlsgate.cert.CertConfig;
import io.tlsgate.cert.keys.KeyVault;
import io.tlsgate.cert.trust.TrustStore;
import io.tlsgate.platform.audit.AuditLog;
import io.tlsgate.platform.db.Jdbc;
import io.tlsgate.platform.problem.InvalidRequestException;
import io.tlsgate.platform.problem.ProblemException;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.jboss.logging.Logger;

/**
 * Certificates and slot assignments (docs/certificates.md). Keys are generated here and sealed by
 * the {@link KeyVault} before they touch the database; only {@link #bundle} opens one, for
 * gRPC callers holding the service token. A demo certificate exists from the first start
 * and is what every slot without an assignment serves.
 */
@ApplicationScoped
public class Certificates {

    private static final Logger LOG = Logger.getLogger(Certificates.class);

    public static final String DEMO = "demo";
    public static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    public static final Pattern SLOT = Pattern.compile("listener:[A-Za-z0-9][A-Za-z0-9._-]{0,63}|outbound|https");

    /** What a slot serves: the certificate, its key (PKCS#8) and chain, and whether it is the demo fallback. */
    public record Bundle(String slot, String certificate, boolean demo, boolean assigned, byte[] privateKeyPkcs8,
            List<X509Certificate> chain, long revision) {}

    private final AuditLog audit;
    private final DataSource dataSource;
    private final CertificateStore store;
    private final TrustStore trust;
    private final KeyVault vault;
    private final CertConfig config;

    Certificates(DataSource dataSource, CertificateStore store, TrustStore trust, KeyVault vault, CertConfig config,
            AuditLog audit) {
        this.audit = audit;
        this.dataSource = dataSource;
        this.store = store;
        this.trust = trust;
        this.vault = vault;
        this.config = config;
    }

    /** Makes the demo certificate on the first start (after the schema migration). */
    void ensureDemo(@Observes @Priority(20) StartupEvent ignored) {
        Jdbc.transaction(dataSource, c -> {
            if (store.find(c, DEMO).isEmpty()) {
                Pki.Subject s = new Pki.Subject(config.demoHostname(), List.of(), "tlsgate demo certificate - replace me",
                        null, null, null, null);
                store.insert(c, create(DEMO, KeyType.EC_P256, s, 825, true, "tlsgate"));
                LOG.warnf("created the DEMO certificate (CN=%s); every slot without an assignment serves it until "
                        + "you assign your own", config.demoHostname());
            }
            return null;
        });
    }

    public CertificateView generate(String name, KeyType type, Pki.Subject subject, int days, String principal) {
        StoredCertificate s = create(name, type, subject, days, false, principal);
        return Jdbc.transaction(dataSource, c -> {
            if (!store.insert(c, s)) {
                throw ProblemException.conflict("a certificate named '" + name + "' exists already");
            }
            CertificateView v = view(s, List.of());
            audit.record(c, principal, "create", "certificate:" + name, null, v);
            return v;
        });
    }

    private StoredCertificate create(String name, KeyType type, Pki.Subject subject, int days, boolean demo,
            String principal) {
        KeyPair keys = type.generate();
        X509Certificate cert = Pki.selfSigned(keys, type, subject, days);
        String csr = Pki.csr(keys, type, subject);
        byte[] pkcs8 = keys.getPrivate().getEncoded();
        KeyVault.Sealed sealed = vault.seal(pkcs8, name);
        Arrays.fill(pkcs8, (byte) 0);
        Instant now = Instant.now();
        return new StoredCertificate(name, type, sealed, List.of(cert), csr, demo, now, now, principal);
    }

    public List<CertificateView> list() {
        return Jdbc.transaction(dataSource, c -> {
            Map<String, String> assigned = store.assignments(c);
            List<CertificateView> out = new ArrayList<>();
            for (StoredCertificate s : store.all(c)) {
                out.add(view(s, slotsOf(assigned, s.name())));
            }
            return out;
        });
    }

    public CertificateView get(String name) {
        return Jdbc.transaction(dataSource, c -> view(find(c, name), slotsOf(store.assignments(c), name)));
    }

    public String csr(String name) {
        return Jdbc.transaction(dataSource, c -> Optional.ofNullable(find(c, name).csrPem())
                .orElseThrow(() -> ProblemException.notFound("certificate '" + name + "' has no CSR (it was imported)")));
    }

    /** Deletes a certificate: 409 while a slot uses it, and for the demo certificate. */
    public void delete(String name, String principal) {
        if (DEMO.equals(name)) {
            throw ProblemException.conflict("the demo certificate cannot be deleted: unassigned slots serve it");
        }
        Jdbc.transaction(dataSource, c -> {
            StoredCertificate s = find(c, name);
            List<String> slots = slotsOf(store.assignments(c), name);
            if (!slots.isEmpty()) {
                throw ProblemException.conflict("certificate '" + name + "' is assigned to " + slots
                        + "; assign another certificate first");
            }
            store.delete(c, name);
            audit.record(c, principal, "delete", "certificate:" + name, view(s, List.of()), null);
            return null;
        });
    }

    /** An accepted upload: the certificate as now stored and what was fixed on the way. */
    public record Upload(CertificateView certificate, List<String> warnings) {}

    /**
     * Replaces a generated certificate with the CA-signed one (and its intermediates): the
     * public key must be this entry's, the chain must hold together and end at a trusted CA
     * or a root included in the upload. 400 naming {@code pem} with the reason otherwise.
     */
    public Upload upload(String name, String pem, Collection<X509Certificate> trustedCas, String principal) {
        if (DEMO.equals(name)) {
            throw ProblemException.conflict("the demo certificate cannot be replaced; generate your own certificate");
        }
        if (pem != null && pem.length() > config.maxPemSize()) {
            throw InvalidRequestException.field("pem", "larger than " + config.maxPemSize() + " bytes");
        }
        return Jdbc.transaction(dataSource, c -> {
            StoredCertificate s = find(c, name);
            ChainValidator.Result r;
            try {
                r = ChainValidator.validate(pem, s.leaf().getPublicKey(), trustedCas, Instant.now());
            } catch (ChainValidator.Rejected e) {
                throw InvalidRequestException.field("pem", e.getMessage());
            }
            store.updateChain(c, name, r.chain());
            StoredCertificate after = new StoredCertificate(s.name(), s.keyType(), s.sealedKey(), r.chain(), s.csrPem(),
                    s.demo(), s.createdAt(), Instant.now(), s.createdBy());
            LOG.infof("certificate %s replaced by %s issued by %s (%d in chain)", name,
                    r.chain().get(0).getSubjectX500Principal().getName(),
                    r.chain().get(0).getIssuerX500Principal().getName(), r.chain().size());
            audit.record(c, principal, "upload", "certificate:" + name, view(s, List.of()), view(after, List.of()));
            return new Upload(view(after, slotsOf(store.assignments(c), name)), r.warnings());
        });
    }

    /**
     * Imports a key and its chain from PKCS#12. 400 naming {@code password} when it does not
     * open the file, {@code file} when it is not a (complete) PKCS#12, holds no or several keys,
     * a key without its certificate, a key that does not belong to the certificate (proved by
     * signing random data with the key and verifying with the certificate), or a chain that does
     * not hold together; 409 when the name exists. Nothing is stored unless every check passes.
     */
    public Upload importPkcs12(String name, byte[] p12, char[] password, Collection<X509Certificate> trustedCas,
            String principal) {
        java.security.KeyStore ks;
        try {
            ks = java.security.KeyStore.getInstance("PKCS12");
            ks.load(new java.io.ByteArrayInputStream(p12), password);
        } catch (java.io.IOException e) {
            if (e.getCause() instanceof java.security.UnrecoverableKeyException
                    || String.valueOf(e.getMessage()).contains("password")) {
                throw InvalidRequestException.field("password", "does not open this PKCS#12 file");
            }
            throw InvalidRequestException.field("file", "not a complete PKCS#12 file: " + e.getMessage());
        } catch (java.security.GeneralSecurityException | RuntimeException e) {
            throw InvalidRequestException.field("file", "not a PKCS#12 file: " + e.getMessage());
        }
        java.security.Key key = null;
        List<X509Certificate> chain = new ArrayList<>();
        try {
            int keys = 0;
            for (String alias : java.util.Collections.list(ks.aliases())) {
                if (ks.isKeyEntry(alias)) {
                    keys++;
                    key = ks.getKey(alias, password);
                    java.security.cert.Certificate[] certs = ks.getCertificateChain(alias);
                    for (java.security.cert.Certificate x : certs == null ? new java.security.cert.Certificate[0] : certs) {
                        if (!(x instanceof X509Certificate)) {
                            throw InvalidRequestException.field("file", "holds a " + x.getType()
                                    + " certificate; only X.509 certificates are supported");
                        }
                        chain.add((X509Certificate) x);
                    }
                }
            }
            if (keys != 1) {
                throw InvalidRequestException.field("file", "holds " + keys + " private keys; import exactly one");
            }
        } catch (java.security.GeneralSecurityException e) {
            throw InvalidRequestException.field("password", "does not open the private key: " + e.getMessage());
        }
        if (!(key instanceof PrivateKey)) {
            throw InvalidRequestException.field("file", key == null ? "the key entry holds no key"
                    : "the key entry holds a " + key.getAlgorithm() + " secret key, not a private key");
        }
        if (chain.isEmpty()) {
            throw InvalidRequestException.field("file", "the private key comes without its certificate; export the key "
                    + "together with its certificate and intermediates");
        }
        X509Certificate leaf = chain.get(0);
        KeyType type = KeyType.of(leaf.getPublicKey()).orElseThrow(() -> InvalidRequestException.field("file",
                "key type " + KeyType.describe(leaf.getPublicKey()) + " is not supported (RSA 2048-4096, EC P-256/P-384)"));
        Pki.keyMismatch((PrivateKey) key, leaf, type).ifPresent(why -> {
            throw InvalidRequestException.field("file", why);
        });
        StringBuilder pem = new StringBuilder();
        chain.forEach(x -> pem.append(Pki.pem(x)));
        ChainValidator.Result r;
        boolean selfSigned = chain.size() == 1 && leaf.getSubjectX500Principal().equals(leaf.getIssuerX500Principal());
        try {
            r = ChainValidator.validate(pem.toString(), leaf.getPublicKey(),
                    selfSigned ? List.of(leaf) : trustedCas, Instant.now());
        } catch (ChainValidator.Rejected e) {
            throw InvalidRequestException.field("file", e.getMessage());
        }
        byte[] pkcs8 = key.getEncoded();
        KeyVault.Sealed sealed = vault.seal(pkcs8, name);
        Arrays.fill(pkcs8, (byte) 0);
        Instant now = Instant.now();
        StoredCertificate s = new StoredCertificate(name, type, sealed, r.chain(), null, false, now, now, principal);
        return Jdbc.transaction(dataSource, c -> {
            if (!store.insert(c, s)) {
                throw ProblemException.conflict("a certificate named '" + name + "' exists already");
            }
            LOG.infof("certificate %s imported from PKCS#12 by %s", name, principal);
            CertificateView v = view(s, List.of());
            audit.record(c, principal, "import", "certificate:" + name, null, v);
            return new Upload(v, r.warnings());
        });
    }

    /** The key and chain as a PKCS#12 file protected by {@code password} (AES-256, PBKDF2 / HMAC-SHA-256). */
    public byte[] exportPkcs12(String name, char[] password, String principal) {
        StoredCertificate s = Jdbc.transaction(dataSource, c -> {
            StoredCertificate found = find(c, name);
            audit.record(c, principal, "export", "certificate:" + name, null, null);
            return found;
        });
        byte[] pkcs8 = vault.open(s.sealedKey(), s.name());
        try {
            PrivateKey key = KeyFactory.getInstance(s.keyType().algorithm()).generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
            java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry(name, key, password, s.chain().toArray(new X509Certificate[0]));
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            ks.store(out, password);
            LOG.infof("certificate %s exported with its private key by %s", name, principal);
            return out.toByteArray();
        } catch (java.security.GeneralSecurityException | java.io.IOException e) {
            throw new IllegalStateException("PKCS#12 export failed: " + e.getMessage(), e);
        } finally {
            Arrays.fill(pkcs8, (byte) 0);
        }
    }

    /** The stored chain (leaf first) and the view of a certificate, for diagnostics. */
    public record Current(CertificateView view, List<X509Certificate> chain) {}

    public Current current(String name) {
        return Jdbc.transaction(dataSource, c -> {
            StoredCertificate s = find(c, name);
            return new Current(view(s, slotsOf(store.assignments(c), name)), s.chain());
        });
    }

    // --- assignments

    /** What a slot serves, as the API shows it. */
    public record AssignmentView(String slot, String certificate, boolean assigned, boolean demo, String note) {}

    public List<AssignmentView> assignments() {
        return Jdbc.transaction(dataSource, c -> {
            Map<String, String> assigned = store.assignments(c);
            List<AssignmentView> out = new ArrayList<>();
            for (String slot : List.of("outbound", "https")) {
                if (!assigned.containsKey(slot)) {
                    out.add(demoView(slot));
                }
            }
            assigned.forEach((slot, cert) -> out.add(new AssignmentView(slot, cert, true, DEMO.equals(cert), null)));
            out.sort((a, b) -> a.slot().compareTo(b.slot()));
            return out;
        });
    }

    public AssignmentView assignment(String slot) {
        checkSlot(slot);
        return Jdbc.transaction(dataSource, c -> {
            String cert = store.assignments(c).get(slot);
            return cert == null ? demoView(slot) : new AssignmentView(slot, cert, true, DEMO.equals(cert), null);
        });
    }

    /** Assigns a certificate to a slot; 400 when the slot or certificate is unusable. */
    public AssignmentView assign(String slot, String certificate, String principal) {
        checkSlot(slot);
        return Jdbc.transaction(dataSource, c -> {
            StoredCertificate s = store.find(c, certificate).orElseThrow(() -> InvalidRequestException.field("certificate",
                    "no certificate named '" + certificate + "'"));
            if (Instant.now().isAfter(s.leaf().getNotAfter().toInstant())) {
                throw InvalidRequestException.field("certificate", "'" + certificate + "' expired on "
                        + s.leaf().getNotAfter().toInstant());
            }
            String before = store.assignments(c).get(slot);
            store.assign(c, slot, certificate, principal);
            audit.record(c, principal, "assign", "assignment:" + slot, before == null ? null : Map.of("certificate", before),
                    Map.of("certificate", certificate));
            LOG.infof("slot %s now serves certificate %s (by %s)", slot, certificate, principal);
            return new AssignmentView(slot, certificate, true, s.demo(), null);
        });
    }

    /** Removes an assignment: the slot serves the demo certificate again. */
    public AssignmentView unassign(String slot, String principal) {
        checkSlot(slot);
        return Jdbc.transaction(dataSource, c -> {
            String before = store.assignments(c).get(slot);
            if (store.unassign(c, slot)) {
                audit.record(c, principal, "unassign", "assignment:" + slot, Map.of("certificate", before), null);
            }
            return demoView(slot);
        });
    }

    private static AssignmentView demoView(String slot) {
        return new AssignmentView(slot, DEMO, false, true,
                "nothing is assigned to this slot: it serves the DEMO certificate; assign your own");
    }

    private static void checkSlot(String slot) {
        if (slot == null || !SLOT.matcher(slot).matches()) {
            throw InvalidRequestException.field("slot", "must be listener:<name>, outbound or https");
        }
    }

    /**
     * The key and chain a slot serves: its assignment, or the demo certificate (logged).
     * Security-sensitive: the only place a private key is opened.
     */
    public Bundle bundle(String slot) {
        checkSlot(slot);
        return Jdbc.transaction(dataSource, c -> {
            String name = store.assignments(c).get(slot);
            boolean assigned = name != null;
            StoredCertificate s = find(c, assigned ? name : DEMO);
            if (!assigned) {
                LOG.warnf("slot %s has no certificate assigned: serving the DEMO certificate", slot);
            }
            byte[] key = vault.open(s.sealedKey(), s.name());
            return new Bundle(slot, s.name(), s.demo(), assigned, key, s.chain(), trust.revision(c));
        });
    }

    /** What a slot serves, without opening its key. */
    public record SlotCertificate(String slot, String certificate, boolean demo, boolean assigned, X509Certificate leaf) {}

    public SlotCertificate describe(String slot) {
        checkSlot(slot);
        return Jdbc.transaction(dataSource, c -> {
            String name = store.assignments(c).get(slot);
            StoredCertificate s = find(c, name != null ? name : DEMO);
            return new SlotCertificate(slot, s.name(), s.demo(), name != null, s.chain().get(0));
        });
    }

    private StoredCertificate find(Connection c, String name) throws SQLException {
        return store.find(c, name).orElseThrow(() -> ProblemException.notFound("no certificate named '" + name + "'"));
    }

    private static List<String> slotsOf(Map<String, String> assignments, String name) {
        return assignments.entrySet().stream().filter(e -> e.getValue().equals(name)).map(Map.Entry::getKey).toList();
    }

    static CertificateView view(StoredCertificate s, List<String> slots) {
        return CertificateView.of(s, slots, Instant.now());
    }
}
