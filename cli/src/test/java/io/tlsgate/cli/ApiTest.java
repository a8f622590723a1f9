package io.tlsgate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.BufferedReader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ApiTest {

    @Test
    void serverSentEventsAreSplitAtBlankLines() throws Exception {
        String stream = ": a comment\nevent: progress\ndata: {\"step\":\"dns\"}\n\nevent:result\ndata: line one\ndata: line two\n\n"
                + "data: unnamed, without the last blank line";
        List<Api.Event> events = new ArrayList<>();
        Api.readEvents(new BufferedReader(new StringReader(stream)), events::add);
        assertEquals(List.of(new Api.Event("progress", "{\"step\":\"dns\"}"), new Api.Event("result", "line one\nline two"),
                new Api.Event("message", "unnamed, without the last blank line")), events);
    }

    @Test
    void aProblemIsPrintedWithItsDetailAndEachField() {
        String problem = "{\"type\":\"about:blank\",\"title\":\"Bad Request\",\"status\":400,\"detail\":\"the request has invalid fields\","
                + "\"errors\":[{\"field\":\"tls\",\"message\":\"'X' is not one of [NONE]\"},{\"field\":\"key\",\"message\":\"bad\"}]}";
        CliException e = Api.refused(Service.POLICY, new Api.Reply(400, "application/problem+json",
                problem.getBytes(StandardCharsets.UTF_8)));
        assertEquals(CliException.REFUSED, e.exitCode());
        assertEquals("policy-service answered 400 Bad Request: the request has invalid fields", e.getMessage());
        assertEquals(List.of("tls: 'X' is not one of [NONE]", "key: bad"), e.details());
    }

    @Test
    void serverErrorsAndBodiesThatAreNotProblemsExitThree() {
        CliException e = Api.refused(Service.CERT, new Api.Reply(503, "text/html", "<h1>down</h1>".getBytes(StandardCharsets.UTF_8)));
        assertEquals(CliException.UNAVAILABLE, e.exitCode());
        assertEquals("cert-service answered 503: <h1>down</h1>", e.getMessage());
        CliException auth = Api.refused(Service.DELIVERY, new Api.Reply(401, "", new byte[0]));
        assertEquals(CliException.REFUSED, auth.exitCode());
        assertEquals("delivery-service answered 401 Unauthorized: the token was not accepted (check --token, TLSGATE_TOKEN or the "
                + "configuration file)", auth.getMessage());
    }

    @Test
    void queriesLeaveOutAbsentValuesAndEncodeTheOthers() {
        assertEquals("", Api.query("a", null));
        assertEquals("?domain=b%C3%BCcher.test&lastError=TLS%20required", Api.query("domain", "bücher.test", "ip", null,
                "lastError", "TLS required"));
    }

    @Test
    void pathSegmentsAreEncoded() {
        assertEquals("a%20b%2Fc%3Fd", Api.encode("a b/c?d"));
        assertEquals("/api/v1/destinations/192.0.2.0/24", DestCommand.path("192.0.2.0/24"));
        assertEquals("/api/v1/destinations/.example.com", DestCommand.path(".example.com"));
    }
}
