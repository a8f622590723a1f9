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
 * A real DNS server on loopback (UDP) for tests: it answers MX, A and AAAA queries from
 * records the test adds, NXDOMAIN for names it has nothing for. It stands in for the outside
 * world's DNS; the services talk to it as to any resolver ({@code tlsgate.dns.server}).
 */
public final class TestDnsServer implements AutoCloseable {

    private final DatagramSocket socket;
    private final Map<String, List<Record>> records = new ConcurrentHashMap<>();
    private final Thread thread;

    public TestDnsServer() throws IOException {
        socket = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        thread = new Thread(this::serve, "test-dns");
        thread.setDaemon(true);
        thread.start();
    }

    /** {@code host:port} to configure a resolver with. */
    public String address() {
        return "127.0.0.1:" + socket.getLocalPort();
    }

    /** Adds an MX record: {@code domain} is served by {@code host} at {@code preference}. */
    public TestDnsServer mx(String domain, int preference, String host) {
        return add(new MXRecord(name(domain), DClass.IN, 60, preference, name(host)));
    }

    /** Adds an A or AAAA record. */
    public TestDnsServer address(String host, String ip) {
        try {
            InetAddress a = InetAddress.getByName(ip);
            return add(a.getAddress().length == 4 ? new ARecord(name(host), DClass.IN, 60, a)
                    : new AAAARecord(name(host), DClass.IN, 60, a));
        } catch (IOException e) {
            throw new IllegalArgumentException(ip, e);
        }
    }

    /** Adds a PTR record: the reverse name of {@code ip} points to {@code host}. */
    public TestDnsServer ptr(String ip, String host) {
        try {
            return add(new org.xbill.DNS.PTRRecord(org.xbill.DNS.ReverseMap.fromAddress(InetAddress.getByName(ip)), DClass.IN, 60,
                    name(host)));
        } catch (IOException e) {
            throw new IllegalArgumentException(ip, e);
        }
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
                byte[] out = a.toWire(512);
                socket.send(new DatagramPacket(out, out.length, p.getSocketAddress()));
            } catch (IOException e) {
                if (socket.isClosed()) {
                    return;
                }
            } catch (RuntimeException e) {
                // a malformed query: ignore it, keep serving
            }
        }
    }

    @Override
    public void close() {
        socket.close();
    }
}
