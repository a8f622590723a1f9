package io.tlsgate.testkit;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.DNSKEYRecord;
import org.xbill.DNS.DNSSEC;
import org.xbill.DNS.ExtendedFlags;
import org.xbill.DNS.Flags;
import org.xbill.DNS.MXRecord;
import org.xbill.DNS.Message;
import org.xbill.DNS.NSECRecord;
import org.xbill.DNS.Name;
import org.xbill.DNS.NameTooLongException;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.RRSIGRecord;
import org.xbill.DNS.RRset;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.TLSARecord;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * A real DNS server on loopback (UDP) for tests: it answers MX, A, AAAA, PTR, TXT and TLSA
 * queries from records the test adds, NXDOMAIN for names it has nothing for. It stands in for
 * the outside world's DNS; the services talk to it as to any resolver ({@code tlsgate.dns.server}).
 * Records carry TTL 0 unless {@link #ttl} says otherwise (nothing is cached between tests);
 * {@link #misbehave} makes it drop or delay a share of the queries, as a loaded resolver does.
 *
 * <p>{@link #signedZone} makes it the signed authoritative server of a zone, so that a
 * validating resolver (DNSSEC, with the zone's key as its trust anchor) gets secure answers and
 * proofs of non-existence for the names there, and bogus ones where the test wants them
 * ({@link SignedZone#bogus}, {@link SignedZone#expired}). Names outside every signed zone are
 * answered as before: a validator without a trust anchor for them finds them insecure. (For a
 * validator's sake, their negative answers to queries with the DO bit carry a SOA, TTL 0.)
 *
 * <p>Queries with EDNS get an OPT record back (with the DO bit when they set it), and the answer
 * may be as large as their EDNS payload size says (at most 4096 bytes; 512 without EDNS), so
 * that signed answers are not truncated: this server has no TCP to fall back to.
 */
public final class TestDnsServer implements AutoCloseable {

    private final DatagramSocket socket;
    private final Map<String, List<Record>> records = new ConcurrentHashMap<>();
    /** Signed zones by apex. */
    private final Map<Name, SignedZone> zones = new ConcurrentHashMap<>();
    private final Thread thread;
    private final java.util.concurrent.ScheduledExecutorService later = java.util.concurrent.Executors
            .newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "test-dns-slow");
                t.setDaemon(true);
                return t;
            });
    private final java.util.concurrent.atomic.AtomicLong queries = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong dropped = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.Random random = new java.util.Random(1);
    /** The largest answer sent over UDP (and the largest query read). */
    private static final int MAX_UDP = 4096;
    private volatile long ttl;
    private volatile Long negativeTtl;
    private volatile double dropShare;
    private volatile double slowShare;
    private volatile long slowMillis;

    public TestDnsServer() throws IOException {
        socket = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        thread = new Thread(this::serve, "test-dns");
        thread.setDaemon(true);
        thread.start();
    }

    /** TTL of the records added from now on, in seconds. */
    public TestDnsServer ttl(long seconds) {
        this.ttl = seconds;
        return this;
    }

    /** Negative answers carry a SOA whose TTL and minimum are {@code seconds} (RFC 2308); null: no SOA. */
    public TestDnsServer negativeTtl(Long seconds) {
        this.negativeTtl = seconds;
        return this;
    }

    /** Drops {@code drop} of the queries unanswered and answers {@code slow} of them after {@code delay}. */
    public TestDnsServer misbehave(double drop, double slow, java.time.Duration delay) {
        this.dropShare = drop;
        this.slowShare = slow;
        this.slowMillis = delay.toMillis();
        return this;
    }

    /** Queries received, and those dropped on purpose. */
    public long queries() {
        return queries.get();
    }

    public long dropped() {
        return dropped.get();
    }

    /** {@code host:port} to configure a resolver with. */
    public String address() {
        return "127.0.0.1:" + socket.getLocalPort();
    }

    /** Adds an MX record: {@code domain} is served by {@code host} at {@code preference}. */
    public TestDnsServer mx(String domain, int preference, String host) {
        return add(new MXRecord(name(domain), DClass.IN, ttl, preference, name(host)));
    }

    /** Adds an A or AAAA record. */
    public TestDnsServer address(String host, String ip) {
        try {
            InetAddress a = InetAddress.getByName(ip);
            return add(a.getAddress().length == 4 ? new ARecord(name(host), DClass.IN, ttl, a)
                    : new AAAARecord(name(host), DClass.IN, ttl, a));
        } catch (IOException e) {
            throw new IllegalArgumentException(ip, e);
        }
    }

    /** Adds a PTR record: the reverse name of {@code ip} points to {@code host}. */
    public TestDnsServer ptr(String ip, String host) {
        try {
            return add(new org.xbill.DNS.PTRRecord(org.xbill.DNS.ReverseMap.fromAddress(InetAddress.getByName(ip)), DClass.IN, ttl,
                    name(host)));
        } catch (IOException e) {
            throw new IllegalArgumentException(ip, e);
        }
    }

    /** Adds a TXT record with one string. */
    public TestDnsServer txt(String name, String text) {
        return add(new org.xbill.DNS.TXTRecord(name(name), DClass.IN, ttl, text));
    }

    /**
     * Adds a TLSA record (RFC 6698) at {@code name}, e.g. {@code _25._tcp.mx1.example.test}:
     * {@code usage} (3: DANE-EE, 2: DANE-TA), {@code selector} (0: certificate, 1: public key),
     * {@code matchingType} (0: exact, 1: SHA-256, 2: SHA-512) and the association {@code data}.
     */
    public TestDnsServer tlsa(String name, int usage, int selector, int matchingType, byte[] data) {
        return add(new TLSARecord(name(name), DClass.IN, ttl, usage, selector, matchingType, data));
    }

    /**
     * Signs every name at or under {@code zone} from now on, with a key made now
     * (ECDSAP256SHA256, algorithm 13); see {@link SignedZone}. Calling it again for the same zone
     * replaces the key (the old trust anchor then no longer matches). Signed zones should not
     * nest.
     */
    public SignedZone signedZone(String zone) {
        SignedZone z = new SignedZone(name(zone));
        zones.put(z.apex, z);
        return z;
    }

    /** Removes every record of {@code type} (an {@link org.xbill.DNS.Type}) at {@code name}. */
    public TestDnsServer remove(String name, int type) {
        List<Record> known = records.get(name(name).toString().toLowerCase());
        if (known != null) {
            known.removeIf(r -> r.getType() == type);
        }
        return this;
    }

    private TestDnsServer add(Record r) {
        records.computeIfAbsent(r.getName().toString().toLowerCase(), k -> new CopyOnWriteArrayList<>()).add(r);
        return this;
    }

    private static Name name(String s) {
        try {
            return Name.fromString(s.endsWith(".") ? s : s + ".");
        } catch (TextParseException e) {
            throw new IllegalArgumentException(s, e);
        }
    }

    /** The signed zone {@code n} is in (the one with the longest apex), or null. */
    private SignedZone zoneOf(Name n) {
        SignedZone found = null;
        for (SignedZone z : zones.values()) {
            if (n.subdomain(z.apex) && (found == null || z.apex.labels() > found.apex.labels())) {
                found = z;
            }
        }
        return found;
    }

    private void serve() {
        byte[] buf = new byte[MAX_UDP];
        while (!socket.isClosed()) {
            try {
                DatagramPacket p = new DatagramPacket(buf, buf.length);
                socket.receive(p);
                Message q = new Message(java.util.Arrays.copyOf(p.getData(), p.getLength()));
                Message a = new Message(q.getHeader().getID());
                a.getHeader().setFlag(Flags.QR);
                a.getHeader().setFlag(Flags.AA);
                if (q.getHeader().getFlag(Flags.RD)) {
                    a.getHeader().setFlag(Flags.RD);
                }
                a.getHeader().setFlag(Flags.RA);
                Record question = q.getQuestion();
                a.addRecord(question, Section.QUESTION);
                OPTRecord edns = q.getOPT();
                boolean dnssecOk = edns != null && (edns.getFlags() & ExtendedFlags.DO) != 0;
                SignedZone zone = zoneOf(question.getName());
                if (zone != null) {
                    zone.answer(question, dnssecOk, a);
                } else {
                    List<Record> known = records.get(question.getName().toString().toLowerCase());
                    if (known == null) {
                        a.getHeader().setRcode(Rcode.NXDOMAIN);
                    } else {
                        known.stream().filter(r -> r.getType() == question.getType() || question.getType() == Type.ANY)
                                .forEach(r -> a.addRecord(r, Section.ANSWER));
                    }
                    // A validator (DO bit) needs the SOA of a negative answer to see that it is unsigned
                    // (insecure): without any record there it finds the answer unproven, bogus. TTL and
                    // minimum 0 then, so the answer is not cached.
                    Long negative = negativeTtl;
                    if ((negative != null || dnssecOk) && a.getSection(Section.ANSWER).isEmpty()) {
                        long seconds = negative == null ? 0 : negative;
                        a.addRecord(new SOARecord(name("test."), DClass.IN, seconds, name("ns.test."),
                                name("hostmaster.test."), 1, 3600, 600, 86400, seconds), Section.AUTHORITY);
                    }
                }
                int maxLength = 512;
                if (edns != null) {
                    // RFC 6891: answer EDNS with EDNS; RFC 3225: the DO bit is copied from the query.
                    a.addRecord(new OPTRecord(MAX_UDP, 0, 0, dnssecOk ? ExtendedFlags.DO : 0), Section.ADDITIONAL);
                    maxLength = Math.max(512, Math.min(MAX_UDP, edns.getPayloadSize()));
                }
                queries.incrementAndGet();
                byte[] out = a.toWire(maxLength);
                java.net.SocketAddress to = p.getSocketAddress();
                double dice = random.nextDouble();
                if (dice < dropShare) {
                    dropped.incrementAndGet();
                } else if (dice < dropShare + slowShare) {
                    later.schedule(() -> send(out, to), slowMillis, java.util.concurrent.TimeUnit.MILLISECONDS);
                } else {
                    send(out, to);
                }
            } catch (IOException e) {
                if (socket.isClosed()) {
                    return;
                }
            } catch (RuntimeException e) {
                // a malformed query: ignore it, keep serving
            }
        }
    }

    private void send(byte[] out, java.net.SocketAddress to) {
        try {
            socket.send(new DatagramPacket(out, out.length, to));
        } catch (IOException e) {
            // closed meanwhile
        }
    }

    /**
     * A zone this server signs, as its authoritative server would: one key (flags 257, the
     * zone's trust anchor) signs every RRset, on the fly, when a query sets the DO bit:
     *
     * <ul>
     *   <li>answers carry their RRSIG; at the apex there are also a SOA and the DNSKEY RRset
     *       (signed by itself);
     *   <li>"no such data" (the name exists, or has names below it, but not the type) carries the
     *       signed SOA and the NSEC of the name (or, for an empty non-terminal, the NSEC before it,
     *       whose next name is below it);
     *   <li>NXDOMAIN carries the signed SOA, the NSEC covering the name and the NSEC proving that
     *       there is no wildcard at its closest encloser.
     * </ul>
     *
     * The NSEC chain is built per query over the names in the zone at that moment, in DNSSEC
     * canonical order (RFC 4034 §6.1, which is {@link Name#compareTo}), so records added or
     * removed later are proven correctly too. Wildcards are not expanded (a {@code *} record is
     * an ordinary name), and NS records are not delegations. Without the DO bit the same
     * answers come without RRSIG and NSEC records.
     *
     * <p>No parent zone is served: the trust anchor is the zone's own key, so a validator never
     * needs a DS record. A DS query at the apex gets what a server authoritative for the child
     * side only gives (no data, with the apex NSEC), which a validator rightly finds bogus:
     * that NSEC is the child's, not the parent's.
     *
     * <p>Records the server makes up (SOA, DNSKEY, NSEC) carry TTL {@value #SIGNED_TTL}; the
     * SOA's minimum (the negative TTL) is 0, or {@link TestDnsServer#negativeTtl} when set, so
     * negative answers are not cached unless the test says so. Signatures are valid from a day ago for a
     * week and kept per RRset content (ECDSA signatures differ each time they are made).
     */
    public final class SignedZone {

        /** TTL of the records a signed zone makes up. */
        public static final long SIGNED_TTL = 300;
        private static final Name WILDCARD = Name.fromConstantString("*");

        private final Name apex;
        private final KeyPair key;
        private final DNSKEYRecord dnskey;
        private final Set<Key> bogus = ConcurrentHashMap.newKeySet();
        private final Set<Key> expired = ConcurrentHashMap.newKeySet();
        private final Map<String, RRSIGRecord> signatures = new ConcurrentHashMap<>();

        private record Key(Name name, int type) {}

        private SignedZone(Name apex) {
            this.apex = apex;
            try {
                KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
                g.initialize(new ECGenParameterSpec("secp256r1"));
                this.key = g.generateKeyPair();
                int ksk = DNSKEYRecord.Flags.ZONE_KEY | DNSKEYRecord.Flags.SEP_KEY; // 257
                this.dnskey = new DNSKEYRecord(apex, DClass.IN, SIGNED_TTL, ksk, DNSKEYRecord.Protocol.DNSSEC,
                        DNSSEC.Algorithm.ECDSAP256SHA256, key.getPublic());
            } catch (GeneralSecurityException | DNSSEC.DNSSECException e) {
                throw new IllegalStateException("cannot make a DNSSEC key for " + apex, e);
            }
        }

        /**
         * The zone's DNSKEY as one zone-file line ({@code example.test. 3600 IN DNSKEY 257 3 13 ...}):
         * the trust anchor a validating resolver needs for this zone (no DS at a parent is served).
         */
        public String trustAnchor() {
            return apex + " 3600 IN DNSKEY " + dnskey.rdataToString();
        }

        /** From now on the RRset ({@code name}, {@code type}) is served with a corrupted signature: bogus. */
        public SignedZone bogus(String name, int type) {
            bogus.add(new Key(name(name), type));
            return this;
        }

        /** From now on the RRset ({@code name}, {@code type}) is served with a signature that expired yesterday: bogus. */
        public SignedZone expired(String name, int type) {
            expired.add(new Key(name(name), type));
            return this;
        }

        /** Fills {@code a} with the answer to {@code question}, a name at or under the apex. */
        private void answer(Record question, boolean dnssec, Message a) {
            Name qname = question.getName();
            NavigableSet<Name> names = names();
            if (names.contains(qname)) {
                List<RRset> found = rrsets(qname, question.getType());
                if (!found.isEmpty()) {
                    for (RRset set : found) {
                        add(a, Section.ANSWER, set, dnssec);
                    }
                } else {
                    negative(a, dnssec, List.of(qname), names); // the name's own NSEC: not this type
                }
                return;
            }
            Name before = names.lower(qname); // never null: the apex sorts before every name below it
            if (hasNamesBelow(qname, names)) {
                // An empty non-terminal exists: the NSEC before it leads to a name below it.
                negative(a, dnssec, List.of(before), names);
                return;
            }
            a.getHeader().setRcode(Rcode.NXDOMAIN);
            Set<Name> proofs = new LinkedHashSet<>();
            proofs.add(before); // covers the name
            try {
                // and covers *.<closest encloser>: no wildcard could have made the name
                proofs.add(names.lower(Name.concatenate(WILDCARD, closestEncloser(qname, names))));
            } catch (NameTooLongException e) {
                // no wildcard name that long can exist
            }
            negative(a, dnssec, proofs, names);
        }

        /** The owner names in the zone now: the apex and every name with records, in canonical order. */
        private NavigableSet<Name> names() {
            NavigableSet<Name> names = new TreeSet<>();
            names.add(apex);
            records.forEach((k, v) -> {
                if (!v.isEmpty()) {
                    Name n = name(k);
                    if (n.subdomain(apex)) {
                        names.add(n);
                    }
                }
            });
            return names;
        }

        /** Whether some name in the zone is below {@code n}: in canonical order they follow it directly. */
        private static boolean hasNamesBelow(Name n, NavigableSet<Name> names) {
            Name next = names.higher(n);
            return next != null && next.subdomain(n) && !next.equals(n);
        }

        /** The longest ancestor of {@code qname} that exists, or has names below it (the apex at the latest). */
        private Name closestEncloser(Name qname, NavigableSet<Name> names) {
            Name n = new Name(qname, 1);
            while (!n.equals(apex) && !names.contains(n) && !hasNamesBelow(n, names)) {
                n = new Name(n, 1);
            }
            return n;
        }

        /** The RRsets at {@code n} of {@code type} (all of them for ANY), with the apex's SOA and DNSKEY. */
        private List<RRset> rrsets(Name n, int type) {
            Map<Integer, RRset> sets = new LinkedHashMap<>();
            List<Record> rs = new ArrayList<>(records.getOrDefault(n.toString().toLowerCase(), List.of()));
            if (n.equals(apex)) {
                rs.add(soa());
                rs.add(dnskey);
            }
            for (Record r : rs) {
                if (type == Type.ANY || r.getType() == type) {
                    sets.computeIfAbsent(r.getType(), t -> new RRset()).addRR(r);
                }
            }
            return List.copyOf(sets.values());
        }

        private SOARecord soa() {
            Long negative = negativeTtl;
            long minimum = negative == null ? 0 : negative;
            return new SOARecord(apex, DClass.IN, SIGNED_TTL, name("ns." + apex), name("hostmaster." + apex), 1, 3600, 600,
                    86400, minimum);
        }

        /**
         * The NSEC at {@code owner}: the next name in the zone (the apex after the last), and the
         * types at the owner with RRSIG and NSEC.
         */
        private NSECRecord nsec(Name owner, NavigableSet<Name> names) {
            Name next = names.higher(owner);
            Set<Integer> types = new TreeSet<>(List.of(Type.RRSIG, Type.NSEC));
            for (RRset set : rrsets(owner, Type.ANY)) {
                types.add(set.getType());
            }
            return new NSECRecord(owner, DClass.IN, SIGNED_TTL, next == null ? apex : next,
                    types.stream().mapToInt(Integer::intValue).toArray());
        }

        /** A negative answer: the SOA, and with DNSSEC the NSECs of {@code owners}, each signed. */
        private void negative(Message a, boolean dnssec, Collection<Name> owners, NavigableSet<Name> names) {
            add(a, Section.AUTHORITY, new RRset(soa()), dnssec);
            if (dnssec) {
                for (Name owner : owners) {
                    add(a, Section.AUTHORITY, new RRset(nsec(owner, names)), true);
                }
            }
        }

        /** Adds the RRset to {@code section}, and its signature with DNSSEC. */
        private void add(Message a, int section, RRset set, boolean dnssec) {
            for (Record r : set.rrs(false)) {
                a.addRecord(r, section);
            }
            if (dnssec) {
                a.addRecord(signature(set), section);
            }
        }

        /** The RRset's RRSIG: made once per content, expired or corrupted where the test said so. */
        private RRSIGRecord signature(RRset set) {
            Key k = new Key(set.getName(), set.getType());
            boolean stale = expired.contains(k);
            String content = stale + "\n" + set.rrs(false).stream().map(Record::toString).sorted()
                    .collect(Collectors.joining("\n"));
            RRSIGRecord sig = signatures.computeIfAbsent(content, c -> {
                Instant now = Instant.now();
                Instant from = now.minus(Duration.ofDays(stale ? 8 : 1));
                Instant until = stale ? now.minus(Duration.ofDays(1)) : now.plus(Duration.ofDays(7));
                try {
                    return DNSSEC.sign(set, dnskey, key.getPrivate(), from, until);
                } catch (DNSSEC.DNSSECException e) {
                    throw new IllegalStateException("cannot sign " + k, e);
                }
            });
            if (bogus.contains(k)) {
                byte[] forged = sig.getSignature().clone();
                forged[forged.length / 4] ^= 0x5a; // inside r: still a well-formed signature, but a wrong one
                sig = new RRSIGRecord(sig.getName(), sig.getDClass(), sig.getTTL(), sig.getTypeCovered(), sig.getAlgorithm(),
                        sig.getOrigTTL(), sig.getExpire(), sig.getTimeSigned(), sig.getFootprint(), sig.getSigner(), forged);
            }
            return sig;
        }
    }

    @Override
    public void close() {
        socket.close();
        later.shutdownNow();
    }
}
