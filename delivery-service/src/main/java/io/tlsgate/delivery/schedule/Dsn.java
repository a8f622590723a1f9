package io.tlsgate.delivery.schedule;

import java.nio.charset.StandardCharsets;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.UUID;

/**
 * A delivery status notification (RFC 3464, in an RFC 6522 multipart/report) telling the
 * envelope sender which recipients bounced and why. Sent from the null reverse-path, so that
 * it can never cause a bounce itself.
 */
public final class Dsn {

    /** A failed recipient: the address, its status code (5.x.y) and the remote MTA's or our reply. */
    public record Failed(String address, String status, String diagnostic, String remoteMta) {}

    private Dsn() {}

    public static byte[] build(String reportingMta, String sender, long mid, List<Failed> failed, ZonedDateTime now) {
        return report(reportingMta, sender, mid, failed, now, now, null);
    }

    /**
     * A delay warning (RFC 3464 {@code Action: delayed}): the recipients (status 4.x.y) are
     * still being tried, until {@code retryUntil}; the sender need do nothing.
     */
    public static byte[] delayed(String reportingMta, String sender, long mid, List<Failed> delayed, ZonedDateTime arrival,
            ZonedDateTime now, ZonedDateTime retryUntil) {
        return report(reportingMta, sender, mid, delayed, arrival, now, retryUntil);
    }

    private static byte[] report(String reportingMta, String sender, long mid, List<Failed> failed, ZonedDateTime arrival,
            ZonedDateTime now, ZonedDateTime retryUntil) {
        boolean delay = retryUntil != null;
        String boundary = "tlsgate-" + UUID.randomUUID();
        String date = DateTimeFormatter.RFC_1123_DATE_TIME.format(now);
        StringBuilder b = new StringBuilder();
        b.append("From: Mail Delivery System <MAILER-DAEMON@").append(reportingMta).append(">\r\n");
        b.append("To: <").append(sender).append(">\r\n");
        b.append("Subject: ").append(delay ? "Delayed Mail (still being retried)" : "Undelivered Mail Returned to Sender")
                .append("\r\n");
        b.append("Date: ").append(date).append("\r\n");
        b.append("Message-ID: <dsn.").append(mid).append('.').append(UUID.randomUUID()).append('@').append(reportingMta)
                .append(">\r\n");
        b.append("Auto-Submitted: auto-replied\r\n");
        b.append("MIME-Version: 1.0\r\n");
        b.append("Content-Type: multipart/report; report-type=delivery-status; boundary=\"").append(boundary).append("\"\r\n");
        b.append("\r\n");
        b.append("--").append(boundary).append("\r\n");
        b.append("Content-Type: text/plain; charset=us-ascii\r\n\r\n");
        if (delay) {
            b.append("Your message (MID ").append(mid).append(") has not yet been delivered to ").append(failed.size())
                    .append(" recipient(s). It will be retried until ").append(DateTimeFormatter.RFC_1123_DATE_TIME.format(retryUntil))
                    .append("; you need do nothing.\r\n\r\n");
        } else {
            b.append("Your message (MID ").append(mid).append(") could not be delivered to ").append(failed.size())
                    .append(" recipient(s):\r\n\r\n");
        }
        for (Failed f : failed) {
            b.append("  <").append(f.address()).append(">: ").append(oneLine(f.diagnostic())).append("\r\n");
        }
        b.append("\r\n--").append(boundary).append("\r\n");
        b.append("Content-Type: message/delivery-status\r\n\r\n");
        b.append("Reporting-MTA: dns; ").append(reportingMta).append("\r\n");
        b.append("X-Tlsgate-MID: ").append(mid).append("\r\n");
        b.append("Arrival-Date: ").append(DateTimeFormatter.RFC_1123_DATE_TIME.format(arrival)).append("\r\n");
        for (Failed f : failed) {
            b.append("\r\n");
            b.append("Final-Recipient: rfc822; ").append(f.address()).append("\r\n");
            b.append("Action: ").append(delay ? "delayed" : "failed").append("\r\n");
            b.append("Status: ").append(f.status()).append("\r\n");
            if (f.remoteMta() != null) {
                b.append("Remote-MTA: dns; ").append(f.remoteMta()).append("\r\n");
            }
            b.append("Diagnostic-Code: smtp; ").append(oneLine(f.diagnostic())).append("\r\n");
            if (delay) {
                b.append("Will-Retry-Until: ").append(DateTimeFormatter.RFC_1123_DATE_TIME.format(retryUntil)).append("\r\n");
            }
        }
        b.append("\r\n--").append(boundary).append("--\r\n");
        return b.toString().getBytes(StandardCharsets.US_ASCII);
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("[\\r\\n]+", " ").replaceAll("[^\\x20-\\x7e]", "?");
    }
}
