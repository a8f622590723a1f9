package io.tlsgate.testkit;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.MXRecord;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * A real DNS server on loopback (UDP) for tests: it answers MX, A, AAAA and PTR queries from
 * records the test adds, NXDOMAIN for names it has nothing for. It stands in for the outside
 * world's DNS; the services talk to it as to any resolver ({@code tlsgate.dns.server}).
 * Records carry TTL 0 unless {@link #ttl} says otherwise (nothing is cached between tests);
 * {@link #misbehave} makes it drop or delay a share of the queries, as a loaded resolver does.
 */
public final class TestDnsServer implements AutoCloseable {

    private final DatagramSocket socket;
    private final Map<String, List<Record>> records = new ConcurrentHashMap<>();
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

    private void serve() {
        byte[] buf = new byte[4096];
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
                List<Record> known = records.get(question.getName().toString().toLowerCase());
                if (known == null) {
                    a.getHeader().setRcode(Rcode.NXDOMAIN);
                } else {
                    known.stream().filter(r -> r.getType() == question.getType() || question.getType() == Type.ANY)
                            .forEach(r -> a.addRecord(r, Section.ANSWER));
                }
                Long negative = negativeTtl;
                if (negative != null && a.getSection(Section.ANSWER).isEmpty()) {
                    a.addRecord(new org.xbill.DNS.SOARecord(name("test."), DClass.IN, negative, name("ns.test."),
                            name("hostmaster.test."), 1, 3600, 600, 86400, negative), Section.AUTHORITY);
                }
                queries.incrementAndGet();
                byte[] out = a.toWire(512);
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

    @Override
    public void close() {
        socket.close();
        later.shutdownNow();
    }
}
