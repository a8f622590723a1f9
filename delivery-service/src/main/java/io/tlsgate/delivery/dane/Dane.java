package io.tlsgate.delivery.dane;

import io.tlsgate.core.tls.TlsResultType;
import io.tlsgate.platform.dns.DnsResolver;
import io.tlsgate.platform.dns.MxResolver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.TLSARecord;
import org.xbill.DNS.Type;

/**
 * DANE for SMTP (RFC 7672): the DNSSEC-validating resolver that delivery uses for MX hosts and
 * their addresses while DANE is in force, and the TLSA lookup of one MX host.
 *
 * <p>Validation is done here (dnsjava's validator, from the configured trust anchors: the DNS
 * root's by default); the resolvers configured in {@code tlsgate.dns.server} only have to pass
 * DNSSEC records on. Whether they do is probed: until a query for a trust anchor's own zone
 * validates, DANE is not applied (logged, probed again every {@code probeEvery}), because with
 * a resolver that strips signatures every answer would look forged and no mail would leave.
 * Once validation has worked, anywhere in the cluster (recorded in {@code dane_validation}),
 * it stays in force, across restarts too: a later failure is what DANE defends against (an
 * attacker who drops or forges the probe's answer must not switch DANE off) and makes mail
 * to signed domains wait.
 */
public final class Dane {

    private static final Logger LOG = Logger.getLogger(Dane.class);

    /**
     * @param trustAnchors DS or DNSKEY records in zone-file form
     * @param probeEvery how long after a failed probe the next one may run
     */
    public record Settings(String trustAnchors, Duration probeEvery) {}

    /** What DANE says about one MX host (RFC 7672 §2.2). */
    public enum Kind {
        /** No DANE: the host's TLSA records do not exist, or its MX or address records are not secure. */
        NONE,
        /** Usable TLSA records: TLS is mandatory and the certificate chain must match one of them. */
        USABLE,
        /** Secure TLSA records, none usable for SMTP: TLS is mandatory, not authenticated by DANE. */
        UNUSABLE,
        /** The TLSA lookup failed or was bogus: the host must not be used now. */
        FAILED
    }

    /**
     * One host's TLSA outcome: the TLSA name asked, the usable records (for {@link Kind#USABLE}),
     * and for {@link Kind#FAILED} the RFC 8460 type and why.
     */
    public record Host(Kind kind, String tlsaName, List<TLSARecord> records, TlsResultType failure, String detail) {

        static final Host NONE = new Host(Kind.NONE, null, List.of(), null, null);
    }

    private final DnsResolver dns;
    private final MxResolver mx;
    private final List<Name> anchorZones;
    private final Duration probeEvery;
    private final Object probing = new Object();
    private volatile boolean available;
    /** Only the first probe is waited for; later ones run in the background. */
    private volatile boolean firstProbe = true;
    private CompletableFuture<Boolean> probe;
    private long nextProbe;

    /**
     * @param upstream the resolvers, timeouts and cache of {@code tlsgate.dns.*}; this layer
     *     makes its own validating resolver with the same settings
     */
    private final javax.sql.DataSource dataSource;

    public Dane(DnsResolver.Settings upstream, Settings settings, javax.sql.DataSource dataSource) {
        this.dataSource = dataSource;
        this.dns = new DnsResolver(new DnsResolver.Settings(upstream.servers(), upstream.tryTimeout(), upstream.attempts(),
                upstream.cacheSize(), upstream.maxTtl(), io.tlsgate.platform.dns.HostsFile.NONE, settings.trustAnchors()));
        this.mx = new MxResolver(dns);
        this.anchorZones = anchorZones(settings.trustAnchors());
        this.probeEvery = settings.probeEvery();
        startProbe();
    }

    /**
     * Whether DNSSEC validation works, so that DANE applies: waits for the first probe (up to
     * 10 s; called on worker threads only), later answers from the last probe and starts
     * another in the background when the last one failed long enough ago.
     */
    public boolean available() {
        if (available) {
            return true;
        }
        CompletableFuture<Boolean> running;
        synchronized (probing) {
            running = probe;
            if (probe.isDone() && System.nanoTime() - nextProbe >= 0) {
                startProbe(); // in the background: this delivery goes on with what the last probe said
            }
        }
        if (running.isDone() && !firstProbe) {
            return available;
        }
        try {
            // Bounded: with resolvers that do not answer at all, mail is not held for the probe.
            return running.get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            return false;
        } finally {
            firstProbe = false;
        }
    }

    /** MX hosts and addresses from validated answers ({@link MxResolver.Answer#secure}, {@link MxResolver.Host#secure}). */
    public MxResolver mx() {
        return mx;
    }

    /**
     * The TLSA records of {@code host} for {@code port} ({@code _port._tcp.host}), asked only
     * when {@code secureHost}: the domain's MX records and the host's addresses were secure
     * (RFC 7672 §2.2.1; otherwise an attacker could have chosen the host). Waits for DNS.
     */
    public Host tlsa(String host, int port, boolean secureHost) {
        if (!secureHost) {
            return Host.NONE;
        }
        String name = "_" + port + "._tcp." + host;
        DnsResolver.Answer a;
        try {
            a = dns.query(name, Type.TLSA).join();
        } catch (IllegalArgumentException e) {
            return new Host(Kind.FAILED, name, List.of(), TlsResultType.VALIDATION_FAILURE, "TLSA lookup of " + name
                    + " impossible: " + e.getMessage());
        }
        if (a.failed()) {
            return new Host(Kind.FAILED, name, List.of(), a.bogus() ? TlsResultType.DNSSEC_INVALID : TlsResultType.VALIDATION_FAILURE,
                    "TLSA lookup of " + name + " failed: " + a.failure());
        }
        if (!a.secure()) {
            return Host.NONE; // insecure TLSA records are not used (RFC 7672 §2.2)
        }
        List<TLSARecord> found = new ArrayList<>();
        for (Record r : a.records()) {
            if (r instanceof TLSARecord t) {
                found.add(t);
            }
        }
        if (found.isEmpty()) {
            return Host.NONE; // proven absent
        }
        List<TLSARecord> usable = found.stream().filter(Dane::usable).toList();
        return new Host(usable.isEmpty() ? Kind.UNUSABLE : Kind.USABLE, name, usable, null, null);
    }

    /**
     * RFC 7672 §3.1: SMTP uses DANE-TA(2) and DANE-EE(3) only (PKIX-TA and PKIX-EE are
     * unusable), with the selectors full certificate(0) and public key(1) and the matching
     * types exact(0), SHA-256(1) and SHA-512(2).
     */
    public static boolean usable(TLSARecord r) {
        return (r.getCertificateUsage() == 2 || r.getCertificateUsage() == 3) && r.getSelector() <= 1
                && r.getMatchingType() <= 2 && r.getCertificateAssociationData().length > 0;
    }

    /** One TLSA record as its zone-file line shows it, its data shortened ({@code 3 1 1 3b6f...a9c2}). */
    public static String describe(TLSARecord r) {
        String hex = org.xbill.DNS.utils.base16.toString(r.getCertificateAssociationData()).toLowerCase(java.util.Locale.ROOT);
        String data = hex.length() <= 16 ? hex : hex.substring(0, 8) + "..." + hex.substring(hex.length() - 8);
        return r.getCertificateUsage() + " " + r.getSelector() + " " + r.getMatchingType() + " " + data;
    }

    private void startProbe() {
        nextProbe = System.nanoTime() + probeEvery.toNanos();
        List<CompletableFuture<DnsResolver.Answer>> asked = anchorZones.stream().map(z -> dns.query(z, Type.SOA)).toList();
        probe = CompletableFuture.allOf(asked.toArray(new CompletableFuture[0])).thenApply(v -> {
            List<String> why = new ArrayList<>();
            for (int i = 0; i < asked.size(); i++) {
                DnsResolver.Answer a = asked.get(i).join();
                if (a.secure()) {
                    available = true;
                    remember();
                    LOG.infof("DANE: DNSSEC validation works (SOA of %s validated from the trust anchors)", anchorZones.get(i));
                    return true;
                }
                why.add(anchorZones.get(i) + ": " + (a.failed() ? a.failure() : "answer not validated"));
            }
            java.time.Instant worked = workedBefore();
            if (worked != null) {
                available = true;
                LOG.warnf("DANE stays in force although DNSSEC validation fails now (%s): it worked at %s; mail to signed"
                        + " domains waits until it works again", String.join("; ", why), worked);
                return true;
            }
            LOG.warnf("DANE not applied: DNSSEC validation does not work through the configured resolvers (%s); the next try"
                    + " is in %s at the earliest", String.join("; ", why), probeEvery);
            return false;
        });
    }

    /** Records that validation worked (so that no later failure can switch DANE off). */
    private void remember() {
        try (java.sql.Connection c = dataSource.getConnection(); java.sql.PreparedStatement ps = c.prepareStatement(
                "insert into dane_validation (id, worked_at) values (1, now()) on conflict (id) do update set worked_at = now()")) {
            ps.executeUpdate();
        } catch (java.sql.SQLException e) {
            LOG.warnf("DANE: could not record that DNSSEC validation works: %s", e.getMessage());
        }
    }

    /** When validation last worked anywhere in the cluster, or null when never (or unknown). */
    private java.time.Instant workedBefore() {
        try (java.sql.Connection c = dataSource.getConnection(); java.sql.PreparedStatement ps = c.prepareStatement(
                "select worked_at from dane_validation where id = 1"); java.sql.ResultSet r = ps.executeQuery()) {
            return r.next() ? r.getTimestamp(1).toInstant() : null;
        } catch (java.sql.SQLException e) {
            LOG.warnf("DANE: could not read whether DNSSEC validation worked before: %s", e.getMessage());
            return null;
        }
    }

    /** The zones of the trust anchors (each DS or DNSKEY record's owner). */
    private static List<Name> anchorZones(String text) {
        List<Name> zones = new ArrayList<>();
        try (org.xbill.DNS.Master m = new org.xbill.DNS.Master(new java.io.ByteArrayInputStream(
                text.getBytes(java.nio.charset.StandardCharsets.US_ASCII)), Name.root, 0)) {
            for (Record r = m.nextRecord(); r != null; r = m.nextRecord()) {
                if ((r.getType() == Type.DS || r.getType() == Type.DNSKEY) && !zones.contains(r.getName())) {
                    zones.add(r.getName());
                }
            }
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("DNSSEC trust anchors: " + e.getMessage(), e);
        }
        if (zones.isEmpty()) {
            throw new IllegalArgumentException("DNSSEC trust anchors: no DS or DNSKEY record found");
        }
        return List.copyOf(zones);
    }
}
