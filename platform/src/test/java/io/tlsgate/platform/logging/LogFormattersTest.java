package io.tlsgate.platform.logging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.logging.Level;
import org.jboss.logmanager.ExtLogRecord;
import org.junit.jupiter.api.Test;

class LogFormattersTest {

    private static ExtLogRecord record(String logger, Level level, String message, Throwable thrown) {
        ExtLogRecord r = new ExtLogRecord(level, message, ExtLogRecord.FormatStyle.NO_FORMAT, LogFormattersTest.class.getName());
        r.setLoggerName(logger);
        r.setInstant(Instant.parse("2026-12-03T07:05:09Z"));
        r.setThrown(thrown);
        return r;
    }

    @Test
    void jsonHasOneObjectPerLineWithTheMailLogsIdsAsNumbers() throws Exception {
        String line = new JsonLogFormatter("delivery-service").format(record("io.tlsgate.maillog", Level.INFO,
                "Delivery start DCID 42 MID 1234 to RID [0] \"quoted\"\nsecond line", null));
        assertTrue(line.endsWith("}\n") && line.indexOf('\n') == line.length() - 1, "one line: " + line);
        JsonNode j = new ObjectMapper().readTree(line);
        assertEquals("2026-12-03T07:05:09Z", j.get("time").asText());
        assertEquals("INFO", j.get("level").asText());
        assertEquals("io.tlsgate.maillog", j.get("logger").asText());
        assertEquals("delivery-service", j.get("service").asText());
        assertEquals("Delivery start DCID 42 MID 1234 to RID [0] \"quoted\"\nsecond line", j.get("message").asText());
        assertEquals(1234, j.get("mid").asLong());
        assertEquals(42, j.get("dcid").asLong());
        assertFalse(j.has("icid"));
        assertFalse(j.has("exception"));
    }

    @Test
    void jsonCarriesTheStackTrace() throws Exception {
        JsonNode j = new ObjectMapper().readTree(new JsonLogFormatter("x").format(record("io.tlsgate.x", Level.SEVERE,
                "failed", new IllegalStateException("boom"))));
        assertEquals("SEVERE", j.get("level").asText());
        assertTrue(j.get("exception").asText().startsWith("java.lang.IllegalStateException: boom"), j.toString());
    }

    @Test
    void applianceLayoutForTheMailLogOnly() {
        java.util.logging.Formatter others = new java.util.logging.Formatter() {
            @Override
            public String format(java.util.logging.LogRecord r) {
                return "OTHER " + r.getMessage() + "\n";
            }
        };
        ApplianceMailLogFormatter f = new ApplianceMailLogFormatter(others, ZoneOffset.UTC);
        assertEquals("Thu Dec  3 07:05:09 2026 Info: New SMTP ICID 5 interface inbound (127.0.0.1) address 127.0.0.1\n",
                f.format(record("io.tlsgate.maillog", Level.INFO,
                        "New SMTP ICID 5 interface inbound (127.0.0.1) address 127.0.0.1", null)));
        assertEquals("Thu Dec  3 07:05:09 2026 Warning: MID 7: no DSN could be queued\n",
                f.format(record("io.tlsgate.maillog", Level.WARNING, "MID 7: no DSN could be queued", null)));
        assertEquals("OTHER started\n", f.format(record("io.quarkus", Level.INFO, "started", null)));
    }
}
