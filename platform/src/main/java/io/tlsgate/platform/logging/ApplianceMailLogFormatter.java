package io.tlsgate.platform.logging;

import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.logging.Formatter;
import org.jboss.logmanager.ExtFormatter;
import org.jboss.logmanager.ExtLogRecord;

/**
 * The mail log ({@code io.tlsgate.maillog}) in the appliance's mail_logs layout, so existing
 * grep habits and SIEM parsers work: {@code Thu Dec  3 07:56:14 2026 Info: New SMTP ICID 5 ...}
 * (local time of {@code zone}; {@code Warning:} for warnings). Every other line goes to the
 * handler's own formatter.
 */
public final class ApplianceMailLogFormatter extends ExtFormatter {

    public static final String MAIL_LOG = "io.tlsgate.maillog";
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("EEE MMM ppd HH:mm:ss yyyy", Locale.ROOT);

    private final Formatter others;
    private final ZoneId zone;

    public ApplianceMailLogFormatter(Formatter others, ZoneId zone) {
        this.others = others;
        this.zone = zone;
    }

    @Override
    public String format(ExtLogRecord r) {
        if (!MAIL_LOG.equals(r.getLoggerName())) {
            return others.format(r);
        }
        String level = r.getLevel().intValue() >= java.util.logging.Level.SEVERE.intValue() ? "Critical"
                : r.getLevel().intValue() >= java.util.logging.Level.WARNING.intValue() ? "Warning" : "Info";
        return TIME.format(Instant.ofEpochMilli(r.getMillis()).atZone(zone)) + " " + level + ": " + formatMessage(r) + "\n";
    }
}
