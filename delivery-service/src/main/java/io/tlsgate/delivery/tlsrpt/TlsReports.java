package io.tlsgate.delivery.tlsrpt;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.tlsgate.delivery.DeliveryConfig;
import io.tlsgate.delivery.queue.MessageQueue;
import io.tlsgate.delivery.queue.NewMessage;
import io.tlsgate.delivery.queue.TlsRequest;
import io.tlsgate.delivery.upstream.CertClient;
import io.tlsgate.delivery.upstream.PolicyClient;
import io.tlsgate.platform.dns.DnsResolver;
import io.tlsgate.platform.tls.PeerTrust;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.net.InetAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Date;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.sql.DataSource;
import org.jboss.logging.Logger;
import org.xbill.DNS.Record;
import org.xbill.DNS.TXTRecord;
import org.xbill.DNS.Type;

/**
 * TLSRPT (RFC 8460) as a sender: once a day, for the day before (UTC), an aggregate report for
 * every destination domain that publishes a TLSRPT record and got connections that day, sent
 * to its {@code mailto:} addresses (a {@code multipart/report} message through this gateway's
 * own queue, marked {@code TLS-Required: No} so that a domain whose TLS is broken still gets
 * its report) and {@code https:} URIs (POST of the gzipped report; the server's certificate
 * checked against the trusted CAs of the verify modes). Each (domain, day) is reported once
 * across all replicas (table {@code tlsrpt_report}).
 */
@ApplicationScoped
public class TlsReports {

    private static final Logger LOG = Logger.getLogger("io.tlsgate.maillog");

    /** What was sent for one domain: the report's id and each destination's result. */
    public record Sent(String domain, String reportId, List<String> results) {}

    private final DataSource dataSource;
    private final MessageQueue queue;
    private final DnsResolver dns;
    private final CertClient certs;
    private final PolicyClient policy;
    private final DeliveryConfig config;
    private final String submitter;
    private ScheduledExecutorService timer;

    TlsReports(DataSource dataSource, MessageQueue queue, DnsResolver dns, CertClient certs, PolicyClient policy,
            DeliveryConfig config) {
        this.dataSource = dataSource;
        this.queue = queue;
        this.dns = dns;
        this.certs = certs;
        this.policy = policy;
        this.config = config;
        this.submitter = config.tlsrpt().organizationName().orElse(config.heloName().orElse(localHost()));
    }

    void start(@Observes StartupEvent ignored) {
        if (!config.tlsrpt().enabled() || !config.schedulerEnabled()) {
            return;
        }
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tlsrpt");
            t.setDaemon(true);
            return t;
        });
        // Yesterday's reports a minute after start (if no replica sent them yet), then every day at send-at.
        timer.schedule(this::sendYesterday, 1, TimeUnit.MINUTES);
        ZonedDateTime now = ZonedDateTime.now(ZoneOffset.UTC);
        ZonedDateTime next = now.toLocalDate().atTime(config.tlsrpt().sendAt()).atZone(ZoneOffset.UTC);
        if (!next.isAfter(now)) {
            next = next.plusDays(1);
        }
        timer.scheduleAtFixedRate(this::sendYesterday, Duration.between(now, next).toSeconds(), TimeUnit.DAYS.toSeconds(1),
                TimeUnit.SECONDS);
    }

    void stop(@Observes ShutdownEvent ignored) {
        if (timer != null) {
            timer.shutdownNow();
        }
    }

    private void sendYesterday() {
        try {
            send(LocalDate.now(ZoneOffset.UTC).minusDays(1));
        } catch (RuntimeException e) {
            LOG.warnf("TLSRPT: reports not sent this round: %s", e.getMessage());
        }
    }

    /** The report {@code domain} would get for {@code day}, as JSON (nothing is sent or recorded). */
    public ObjectNode report(String domain, LocalDate day) {
        return TlsReport.json(submitter, contact(), reportId(domain, day), domain, day, sessions(domain, day));
    }

    /**
     * Sends the reports of {@code day} that no replica has sent yet, to the domains that
     * publish a TLSRPT record; returns what was sent. Waits for DNS, the database and the
     * report URIs: call it off the event loop.
     */
    public List<Sent> send(LocalDate day) {
        List<Sent> out = new ArrayList<>();
        for (String domain : domains(day)) {
            TlsRptRecord record = record(domain);
            if (record == null) {
                continue;
            }
            String id = reportId(domain, day);
            if (!claim(domain, day, id)) {
                continue; // sent already (by this or another replica)
            }
            ObjectNode report = TlsReport.json(submitter, contact(), id, domain, day, sessions(domain, day));
            byte[] gz = TlsReport.gzip(report);
            String file = TlsReport.fileName(submitter, domain, day, id);
            List<String> results = new ArrayList<>();
            for (URI uri : record.rua()) {
                String result;
                try {
                    result = uri.getScheme().equalsIgnoreCase("mailto") ? mail(uri, domain, id, file, gz) : post(uri, gz);
                } catch (Exception e) {
                    result = "failed: " + e.getMessage();
                }
                results.add(uri + " " + result);
                LOG.infof("TLSRPT report %s for %s (%s) to %s: %s", id, domain, day, uri, result);
            }
            out.add(new Sent(domain, id, results));
        }
        return out;
    }

    /** The domains delivery connected for on {@code day}. */
    private List<String> domains(LocalDate day) {
        return query("select distinct domain from attempt where at >= ? and at < ? and dcid > 0 order by domain", day, null,
                r -> r.getString(1));
    }

    /** One session per connection that attempted TLS, with the policy that applied. */
    private List<TlsReport.Session> sessions(String domain, LocalDate day) {
        List<String[]> rows = query("select distinct on (dcid) dcid, host, ip, tls_mode_source, tls_result, tls_failure "
                + "from attempt where domain = ? and at >= ? and at < ? and dcid > 0 and tls_result is not null "
                + "order by dcid, id", day, domain, r -> new String[] {r.getString(1), r.getString(2), r.getString(3),
                r.getString(4), r.getString(5), r.getString(6)});
        List<TlsReport.Session> out = new ArrayList<>();
        for (String[] r : rows) {
            boolean succeeded = "success".equals(r[4]) && r[5] == null;
            if (succeeded || r[5] != null) {
                out.add(new TlsReport.Session(Long.parseLong(r[0]), r[1], r[2], policyOf(domain, r[3], r[1]), r[5]));
            }
        }
        return out;
    }

    /** The policy a connection's mode source names: an MTA-STS policy (as cached), DANE's TLSA records, or none. */
    private TlsReport.Policy policyOf(String domain, String modeSource, String host) {
        if (modeSource != null && modeSource.startsWith("mta-sts ")) {
            List<String[]> p = query("select mode, mx, max_age_seconds from mta_sts_policy where domain = ?", null, domain,
                    r -> new String[] {r.getString(1), r.getString(2), r.getString(3)});
            String mode = modeSource.split(" ")[1];
            List<String> strings = new ArrayList<>(List.of("version: STSv1", "mode: " + mode));
            List<String> mx = p.isEmpty() ? List.of() : List.of(p.get(0)[1].split("\n"));
            mx.forEach(m -> strings.add("mx: " + m));
            if (!p.isEmpty()) {
                strings.add("max_age: " + p.get(0)[2]);
            }
            return new TlsReport.Policy("sts", List.copyOf(strings), mx);
        }
        if (modeSource != null && modeSource.startsWith("dane TLSA ")) {
            String name = modeSource.substring("dane TLSA ".length());
            List<String> records = dns.query(name, Type.TLSA).join().records().stream().filter(r -> r.getType() == Type.TLSA)
                    .map(Record::rdataToString).toList();
            return new TlsReport.Policy("tlsa", records, host == null ? List.of() : List.of(host));
        }
        return TlsReport.Policy.NONE;
    }

    private TlsRptRecord record(String domain) {
        DnsResolver.Answer a = dns.query("_smtp._tls." + domain, Type.TXT).join();
        if (!a.ok()) {
            return null;
        }
        List<String> txt = a.records().stream().filter(r -> r instanceof TXTRecord).map(r -> String.join("",
                ((TXTRecord) r).getStrings())).toList();
        return TlsRptRecord.of(txt);
    }

    /** Records that (domain, day) is being reported; false when it was already. */
    private boolean claim(String domain, LocalDate day, String id) {
        try (Connection c = dataSource.getConnection();
                PreparedStatement ps = c.prepareStatement("insert into tlsrpt_report (domain, day, report_id) values (?, ?, ?) "
                        + "on conflict do nothing")) {
            ps.setString(1, domain);
            ps.setDate(2, Date.valueOf(day));
            ps.setString(3, id);
            return ps.executeUpdate() == 1;
        } catch (SQLException e) {
            throw new IllegalStateException("TLSRPT: could not record the report of " + domain + ": " + e.getMessage(), e);
        }
    }

    /** RFC 8460 §5.3: a multipart/report (report-type tlsrpt) with the gzipped report, queued for delivery. */
    private String mail(URI uri, String domain, String id, String file, byte[] gz) {
        String to = URLDecoder.decode(uri.getSchemeSpecificPart().replaceAll("\\?.*$", ""), StandardCharsets.UTF_8);
        String from = config.tlsrpt().from().orElse("postmaster@" + submitter);
        String boundary = "tlsrpt-" + UUID.randomUUID();
        String date = DateTimeFormatter.RFC_1123_DATE_TIME.format(ZonedDateTime.now(ZoneOffset.UTC));
        StringBuilder b = new StringBuilder();
        b.append("From: <").append(from).append(">\r\n");
        b.append("To: <").append(to).append(">\r\n");
        b.append("Subject: Report Domain: ").append(domain).append(" Submitter: ").append(submitter).append(" Report-ID: <")
                .append(id).append(">\r\n");
        b.append("Date: ").append(date).append("\r\n");
        b.append("Message-ID: <").append(id).append("@").append(submitter).append(">\r\n");
        b.append("TLS-Report-Domain: ").append(domain).append("\r\n");
        b.append("TLS-Report-Submitter: ").append(submitter).append("\r\n");
        b.append("TLS-Required: No\r\n");
        b.append("MIME-Version: 1.0\r\n");
        b.append("Content-Type: multipart/report; report-type=\"tlsrpt\"; boundary=\"").append(boundary).append("\"\r\n\r\n");
        b.append("--").append(boundary).append("\r\n");
        b.append("Content-Type: text/plain; charset=us-ascii\r\n\r\n");
        b.append("This is an aggregate TLS report from ").append(submitter).append(" for ").append(domain).append(".\r\n\r\n");
        b.append("--").append(boundary).append("\r\n");
        b.append("Content-Type: application/tlsrpt+gzip\r\n");
        b.append("Content-Transfer-Encoding: base64\r\n");
        b.append("Content-Disposition: attachment; filename=\"").append(file).append("\"\r\n\r\n");
        b.append(Base64.getMimeEncoder(76, "\r\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(gz)).append("\r\n");
        b.append("--").append(boundary).append("--\r\n");
        byte[] message = b.toString().getBytes(StandardCharsets.US_ASCII);
        long mid = queue.enqueue(new NewMessage(from, List.of(to), NewMessage.Content.of(message), message.length, 0, "tlsrpt",
                NewMessage.TlsFacts.NONE, TlsRequest.TLS_OPTIONAL));
        return "queued as MID " + mid;
    }

    /** RFC 8460 §5.4: POST of the gzipped report, the server's certificate checked. */
    private String post(URI uri, byte[] gz) throws Exception {
        var s = policy.settings();
        SSLContext tls = PeerTrust.clientContext(certs.material(s.getCertificateSlot(), s.getTrustedCaMode()).trust().anchors());
        HttpClient client = HttpClient.newBuilder().sslContext(tls).connectTimeout(Duration.ofSeconds(30))
                .followRedirects(HttpClient.Redirect.NEVER).build();
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(1))
                .header("Content-Type", "application/tlsrpt+gzip").POST(HttpRequest.BodyPublishers.ofByteArray(gz)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() / 100 != 2) {
            throw new IllegalStateException("HTTP " + r.statusCode());
        }
        return "HTTP " + r.statusCode();
    }

    private String contact() {
        return config.tlsrpt().contactInfo().orElse("postmaster@" + submitter);
    }

    /** Unique per domain and day, the same on every replica. */
    private String reportId(String domain, LocalDate day) {
        return day + "T00:00:00Z_" + domain.toLowerCase(Locale.ROOT) + "@" + submitter;
    }

    private interface Row<T> {
        T of(ResultSet r) throws SQLException;
    }

    /** Runs {@code sql} with {@code [domain,] [day start, day end]} bound in that order. */
    private <T> List<T> query(String sql, LocalDate day, String domain, Row<T> row) {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            int i = 1;
            if (domain != null) {
                ps.setString(i++, domain);
            }
            if (day != null) {
                ps.setTimestamp(i++, Timestamp.from(day.atStartOfDay(ZoneOffset.UTC).toInstant()));
                ps.setTimestamp(i++, Timestamp.from(day.plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant()));
            }
            List<T> out = new ArrayList<>();
            try (ResultSet r = ps.executeQuery()) {
                while (r.next()) {
                    out.add(row.of(r));
                }
            }
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException("TLSRPT: could not read the delivery records: " + e.getMessage(), e);
        }
    }

    private static String localHost() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException e) {
            return "localhost";
        }
    }
}
