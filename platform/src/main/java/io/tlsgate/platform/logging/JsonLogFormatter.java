package io.tlsgate.platform.logging;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jboss.logmanager.ExtFormatter;
import org.jboss.logmanager.ExtLogRecord;

/**
 * One JSON object per line: {@code time}, {@code level}, {@code logger}, {@code thread},
 * {@code service}, {@code message}, the mail log's {@code mid}, {@code icid}, {@code dcid} as
 * numbers when the line names them (the first of each), {@code mdc} when set, and
 * {@code exception} (the stack trace) when there is one.
 */
public final class JsonLogFormatter extends ExtFormatter {

    private static final JsonFactory JSON = new JsonFactory();
    private static final Pattern MID = Pattern.compile("\\bMID (\\d+)");
    private static final Pattern ICID = Pattern.compile("\\bICID (\\d+)");
    private static final Pattern DCID = Pattern.compile("\\bDCID (\\d+)");

    private final String service;

    public JsonLogFormatter(String service) {
        this.service = service;
    }

    @Override
    public String format(ExtLogRecord r) {
        StringWriter out = new StringWriter(256);
        String message = formatMessage(r);
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("time", Instant.ofEpochMilli(r.getMillis()).toString());
            g.writeStringField("level", r.getLevel().getName());
            g.writeStringField("logger", r.getLoggerName());
            g.writeStringField("thread", r.getThreadName());
            g.writeStringField("service", service);
            g.writeStringField("message", message);
            id(g, "mid", MID, message);
            id(g, "icid", ICID, message);
            id(g, "dcid", DCID, message);
            Map<String, String> mdc = r.getMdcCopy();
            if (mdc != null && !mdc.isEmpty()) {
                g.writeObjectFieldStart("mdc");
                for (Map.Entry<String, String> e : mdc.entrySet()) {
                    g.writeStringField(e.getKey(), e.getValue());
                }
                g.writeEndObject();
            }
            if (r.getThrown() != null) {
                StringWriter trace = new StringWriter();
                r.getThrown().printStackTrace(new PrintWriter(trace));
                g.writeStringField("exception", trace.toString());
            }
            g.writeEndObject();
        } catch (IOException e) {
            return "{\"level\":\"ERROR\",\"message\":\"log record not formatted: " + e.getMessage().replace("\"", "'") + "\"}\n";
        }
        return out.append('\n').toString();
    }

    private static void id(JsonGenerator g, String name, Pattern p, String message) throws IOException {
        Matcher m = p.matcher(message);
        if (m.find()) {
            try {
                g.writeNumberField(name, Long.parseLong(m.group(1)));
            } catch (NumberFormatException e) {
                g.writeStringField(name, m.group(1));
            }
        }
    }
}
