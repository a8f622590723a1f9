package io.tlsgate.platform.dns;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Name;
import org.xbill.DNS.PTRRecord;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.ReverseMap;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * Names and addresses from a hosts file ({@code /etc/hosts}: "address name aliases..."),
 * answered before DNS as the system's resolver does: A and AAAA for its names, PTR (the first
 * name of the line) for its addresses. Read at start and again when the file changes (checked
 * at most every 5 s).
 */
public final class HostsFile {
    /** No hosts file. */
    public static final HostsFile NONE = new HostsFile(null);

    private static final long CHECK_NANOS = 5_000_000_000L;

    private final Path path;
    private volatile Map<Name, List<Record>> records = Map.of();
    private volatile long modified = Long.MIN_VALUE;
    private volatile long checked = Long.MIN_VALUE;

    private HostsFile(Path path) {
        this.path = path;
    }

    /** {@code /etc/hosts}. */
    public static HostsFile system() {
        return of(Path.of("/etc/hosts"));
    }

    public static HostsFile of(Path path) {
        HostsFile h = new HostsFile(path);
        h.reloadIfChanged(true);
        return h;
    }

    /** The hosts file's answer to {@code name}/{@code type} (A, AAAA, PTR), or null when it has none. */
    DnsResolver.Answer answer(Name name, int type) {
        if (path == null || (type != Type.A && type != Type.AAAA && type != Type.PTR)) {
            return null;
        }
        reloadIfChanged(false);
        List<Record> known = records.get(name);
        if (known == null) {
            return null;
        }
        List<Record> matching = known.stream().filter(r -> r.getType() == type).toList();
        // A name the file knows, without an address of the asked family: no data, as the system's resolver says.
        return new DnsResolver.Answer(Rcode.NOERROR, matching, DnsResolver.Source.HOSTS, null);
    }

    private void reloadIfChanged(boolean force) {
        long now = System.nanoTime();
        if (!force && now - checked < CHECK_NANOS) {
            return;
        }
        checked = now;
        try {
            long m = Files.getLastModifiedTime(path).toMillis();
            if (m != modified) {
                records = parse(Files.readAllLines(path, StandardCharsets.UTF_8));
                modified = m;
            }
        } catch (IOException e) {
            records = Map.of();
        }
    }

    static Map<Name, List<Record>> parse(List<String> lines) {
        Map<Name, List<Record>> out = new HashMap<>();
        for (String line : lines) {
            int hash = line.indexOf('#');
            String[] f = (hash >= 0 ? line.substring(0, hash) : line).trim().split("\\s+");
            if (f.length < 2) {
                continue;
            }
            InetAddress a;
            try {
                a = literal(f[0]);
            } catch (IllegalArgumentException e) {
                continue;
            }
            for (int i = 1; i < f.length; i++) {
                Name n = name(f[i]);
                if (n == null) {
                    continue;
                }
                Record r = a.getAddress().length == 4 ? new ARecord(n, DClass.IN, 0, a) : new AAAARecord(n, DClass.IN, 0, a);
                out.computeIfAbsent(n, k -> new ArrayList<>()).add(r);
                if (i == 1) {
                    Name reverse = ReverseMap.fromAddress(a);
                    out.computeIfAbsent(reverse, k -> new ArrayList<>()).add(new PTRRecord(reverse, DClass.IN, 0, n));
                }
            }
        }
        Map<Name, List<Record>> frozen = new HashMap<>();
        out.forEach((k, v) -> frozen.put(k, List.copyOf(v)));
        return Map.copyOf(frozen);
    }

    /** An IPv4 or IPv6 address literal, never a name lookup. */
    private static InetAddress literal(String s) {
        if (!s.matches("[0-9a-fA-F:.%]+") || (!s.contains(":") && !s.matches("\\d{1,3}(\\.\\d{1,3}){3}"))) {
            throw new IllegalArgumentException(s);
        }
        try {
            return InetAddress.getByName(s.contains("%") ? s.substring(0, s.indexOf('%')) : s);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(s, e);
        }
    }

    private static Name name(String s) {
        try {
            return Name.fromString(s.endsWith(".") ? s : s + ".").canonicalize();
        } catch (TextParseException e) {
            return null;
        }
    }
}
