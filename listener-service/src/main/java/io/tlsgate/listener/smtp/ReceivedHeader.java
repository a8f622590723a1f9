package io.tlsgate.listener.smtp;

import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;

/**
 * The trace header the listener puts on top of every message (RFC 5321 §4.4): the client's
 * greeting name, its verified reverse-DNS name ("unknown" otherwise) and address, the
 * listener's host name, the protocol (SMTP/ESMTP, with S after STARTTLS, RFC 3848), the ICID,
 * and the TLS protocol and cipher.
 */
final class ReceivedHeader {

    private static final DateTimeFormatter RFC5322 = DateTimeFormatter.RFC_1123_DATE_TIME;

    private ReceivedHeader() {}

    static String of(SessionState s, ZonedDateTime now) {
        String with = (s.esmtp ? "ESMTP" : "SMTP") + (s.tls.active ? "S" : "");
        StringBuilder h = new StringBuilder(256).append("Received: from ").append(sanitize(s.helo)).append(" (")
                .append(s.rdns.verified() ? s.rdns.host() : "unknown").append(" [").append(s.ip).append("])\r\n\tby ")
                .append(s.listener.getHostname()).append(" (tlsgate) with ").append(with).append(" id ").append(s.icid);
        if (s.tls.active) {
            h.append("\r\n\t(using ").append(s.tls.protocol).append(" with cipher ").append(s.tls.cipher).append(')');
        }
        return h.append(";\r\n\t").append(RFC5322.format(now)).append("\r\n").toString();
    }

    /** Client-chosen text in a header or a reply: no control characters, at most 255 characters. */
    static String sanitize(String s) {
        if (s == null) {
            return "";
        }
        StringBuilder b = new StringBuilder(Math.min(s.length(), 255));
        for (int i = 0; i < s.length() && b.length() < 255; i++) {
            char c = s.charAt(i);
            b.append(c < 32 || c == 127 ? '?' : c);
        }
        return b.toString();
    }
}
