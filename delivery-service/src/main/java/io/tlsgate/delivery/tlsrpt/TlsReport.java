package io.tlsgate.delivery.tlsrpt;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

/**
 * One day's aggregate TLS report for one policy domain (RFC 8460 §4), built from the outbound
 * connections delivery recorded (the same facts as the outcome events): one entry per policy
 * that applied (MTA-STS {@code sts}, DANE {@code tlsa}, or {@code no-policy-found}) with its
 * successful and failed session counts and the failures by type, MX host and address. A
 * session is a connection (DCID); one that did not attempt TLS (mode NONE) is not counted.
 */
public final class TlsReport {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final java.util.Set<String> RFC_8460_TYPES = java.util.Set.of("starttls-not-supported",
            "certificate-host-mismatch", "certificate-expired", "certificate-not-trusted", "validation-failure", "tlsa-invalid",
            "dnssec-invalid", "dane-required", "sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid");

    /** One connection's facts: its DCID, MX host, address, the policy that applied, and the RFC 8460 failure type (null: TLS worked). */
    public record Session(long dcid, String host, String ip, Policy policy, String failureType) {}

    /** A policy as the report names it: its type, its text lines, the MX hosts it names. */
    public record Policy(String type, List<String> strings, List<String> mxHosts) {

        public static final Policy NONE = new Policy("no-policy-found", List.of(), List.of());
    }

    private TlsReport() {}

    /** The report as RFC 8460 §4.4 lays it out. */
    public static ObjectNode json(String organization, String contact, String reportId, String domain, LocalDate day,
            List<Session> sessions) {
        ObjectNode r = JSON.createObjectNode();
        r.put("organization-name", organization);
        ObjectNode range = r.putObject("date-range");
        range.put("start-datetime", day.atStartOfDay(ZoneOffset.UTC).toInstant().toString());
        range.put("end-datetime", day.plusDays(1).atStartOfDay(ZoneOffset.UTC).minusSeconds(1).toInstant().toString());
        r.put("contact-info", contact);
        r.put("report-id", reportId);
        ArrayNode policies = r.putArray("policies");
        Map<Policy, List<Session>> byPolicy = new LinkedHashMap<>();
        sessions.forEach(s -> byPolicy.computeIfAbsent(s.policy(), k -> new ArrayList<>()).add(s));
        byPolicy.forEach((policy, mine) -> {
            ObjectNode p = policies.addObject();
            ObjectNode pol = p.putObject("policy");
            pol.put("policy-type", policy.type());
            if (!policy.strings().isEmpty()) {
                policy.strings().forEach(pol.putArray("policy-string")::add);
            }
            pol.put("policy-domain", domain);
            if (!policy.mxHosts().isEmpty()) {
                policy.mxHosts().forEach(pol.putArray("mx-host")::add);
            }
            ObjectNode summary = p.putObject("summary");
            summary.put("total-successful-session-count", mine.stream().filter(s -> s.failureType() == null).count());
            summary.put("total-failure-session-count", mine.stream().filter(s -> s.failureType() != null).count());
            Map<List<String>, Long> failures = new LinkedHashMap<>();
            mine.stream().filter(s -> s.failureType() != null)
                    .forEach(s -> failures.merge(List.of(s.failureType(), s.host() == null ? "" : s.host(),
                            s.ip() == null ? "" : s.ip()), 1L, Long::sum));
            if (!failures.isEmpty()) {
                ArrayNode details = p.putArray("failure-details");
                failures.forEach((k, n) -> {
                    ObjectNode d = details.addObject();
                    // tlsgate's own handshake-failure is RFC 8460's general validation-failure, with its reason code.
                    boolean rfc = RFC_8460_TYPES.contains(k.get(0));
                    d.put("result-type", rfc ? k.get(0) : "validation-failure");
                    if (!rfc) {
                        d.put("failure-reason-code", k.get(0));
                    }
                    if (!k.get(1).isEmpty()) {
                        d.put("receiving-mx-hostname", k.get(1));
                    }
                    if (!k.get(2).isEmpty()) {
                        d.put("receiving-ip", k.get(2));
                    }
                    d.put("failed-session-count", n);
                });
            }
        });
        return r;
    }

    /** The report gzipped, as it is sent (RFC 8460 §5.2). */
    public static byte[] gzip(ObjectNode report) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(JSON.writeValueAsBytes(report));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.toByteArray();
    }

    /** The file name of RFC 8460 §5.1: {@code submitter!policy-domain!begin!end!id.json.gz} (UNIX times). */
    public static String fileName(String submitter, String domain, LocalDate day, String uniqueId) {
        long begin = day.atStartOfDay(ZoneOffset.UTC).toEpochSecond();
        long end = day.plusDays(1).atStartOfDay(ZoneOffset.UTC).toEpochSecond() - 1;
        return submitter + "!" + domain + "!" + begin + "!" + end + "!" + uniqueId + ".json.gz";
    }
}
