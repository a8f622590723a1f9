package io.tlsgate.platform.logging;

import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.interceptor.Interceptor;
import java.time.ZoneId;
import java.util.Locale;
import java.util.logging.Handler;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;
import org.jboss.logmanager.ExtHandler;
import org.jboss.logmanager.LogContext;

/**
 * The log's layout, switched by configuration (docs/operations.md, "Logs"):
 * {@code tlsgate.log.format=json} writes one JSON object per line ({@link JsonLogFormatter});
 * {@code tlsgate.log.mail-log-format=appliance} writes the mail log lines as the appliance's
 * mail_logs do ({@link ApplianceMailLogFormatter}). Set on the console and file handlers as the
 * application starts: the lines of the boot before that keep Quarkus' text layout.
 */
@ApplicationScoped
public class LogFormats {

    private static final Logger LOG = Logger.getLogger(LogFormats.class);

    private final String format;
    private final String mailLogFormat;
    private final String service;

    LogFormats(@ConfigProperty(name = "tlsgate.log.format", defaultValue = "text") String format,
            @ConfigProperty(name = "tlsgate.log.mail-log-format", defaultValue = "tlsgate") String mailLogFormat,
            @ConfigProperty(name = "quarkus.application.name") String service) {
        this.format = format.trim().toLowerCase(Locale.ROOT);
        this.mailLogFormat = mailLogFormat.trim().toLowerCase(Locale.ROOT);
        this.service = service;
        if (!this.format.equals("text") && !this.format.equals("json")) {
            throw new IllegalStateException("tlsgate.log.format must be text or json, not '" + format + "'");
        }
        if (!this.mailLogFormat.equals("tlsgate") && !this.mailLogFormat.equals("appliance")) {
            throw new IllegalStateException("tlsgate.log.mail-log-format must be tlsgate or appliance, not '" + mailLogFormat + "'");
        }
    }

    void start(@Observes @Priority(Interceptor.Priority.PLATFORM_BEFORE) StartupEvent ignored) {
        if (format.equals("text") && mailLogFormat.equals("tlsgate")) {
            return;
        }
        int n = apply(LogContext.getLogContext().getLogger("").getHandlers());
        LOG.infof("log format %s, mail log format %s (%d handler(s))", format, mailLogFormat, n);
    }

    private int apply(Handler[] handlers) {
        int n = 0;
        for (Handler h : handlers) {
            Handler[] children = h instanceof ExtHandler x ? x.getHandlers() : new Handler[0];
            if (children.length > 0) {
                n += apply(children);
            } else if (h.getFormatter() != null) {
                h.setFormatter(format.equals("json") ? new JsonLogFormatter(service)
                        : new ApplianceMailLogFormatter(h.getFormatter(), ZoneId.systemDefault()));
                n++;
            }
        }
        return n;
    }
}
