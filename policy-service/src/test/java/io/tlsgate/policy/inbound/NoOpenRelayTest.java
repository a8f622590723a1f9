package io.tlsgate.policy.inbound;

import static io.tlsgate.policy.inbound.InboundApiTest.as;
import static io.tlsgate.policy.inbound.InboundApiTest.post;
import static io.tlsgate.policy.inbound.InboundApiTest.put;
import static io.tlsgate.policy.inbound.InboundApiTest.unique;
import static io.tlsgate.policy.inbound.InboundValidationTest.rejected;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.junit.QuarkusTest;
import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.inbound.Behaviour;
import io.tlsgate.core.inbound.InboundIndex;
import io.tlsgate.core.inbound.Listener;
import io.tlsgate.core.inbound.MailFlowPolicy;
import io.tlsgate.core.inbound.SenderGroup;
import io.tlsgate.testkit.TestTokens;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;

/**
 * No open relay (docs/inbound-policy.md): a fresh install relays for nobody and accepts mail for no
 * domain, and no API call can give a RELAY policy to a group that matches every client.
 */
@QuarkusTest
class NoOpenRelayTest {

    @Inject
    DataSource dataSource;

    @Inject
    InboundStore store;

    /** Addresses and names a spammer might connect with, including loopback and private ranges. */
    private static final List<String> CLIENTS = List.of("198.51.100.1", "127.0.0.1", "10.0.0.1", "192.168.1.1",
            "172.16.0.1", "0.0.0.0", "255.255.255.255", "::1", "2001:db8::1", "fe80::1", "::ffff:10.0.0.1");

    @Test
    void aFreshInstallRelaysForNobodyAndAcceptsNoDomain() throws Exception {
        String schema = "fresh_" + unique("s").toLowerCase();
        Flyway.configure(Thread.currentThread().getContextClassLoader()).dataSource(dataSource).schemas(schema)
                .defaultSchema(schema).createSchemas(true).locations("classpath:db/migration").load().migrate();
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.execute("set local search_path to " + schema); // reset at commit: the pooled connection stays clean
            }
            InboundIndex ix = store.load(c);
            List<MailFlowPolicy> policies = store.policies(c);
            List<SenderGroup> groups = store.groups(c);
            c.commit();
            assertEquals(0, ix.ratSize(), "the default recipient access table is empty");
            List<Listener> listeners = ix.listeners();
            assertEquals(List.of("inbound"), listeners.stream().map(Listener::name).toList());
            for (Listener l : listeners) {
                for (String ip : CLIENTS) {
                    for (String host : new String[] {null, "localhost", "mx.example.com"}) {
                        InboundIndex.HatDecision d = ix.resolve(l.name(), DestinationKey.parseAddress(ip), host, true)
                                .orElseThrow();
                        assertNotEquals(Behaviour.RELAY, d.policy().behaviour(), ip + " " + host + " -> " + d);
                    }
                }
            }
            for (String domain : List.of("example.com", "localhost", "gmail.com", "com", "inbound.local")) {
                assertFalse(ix.acceptsRecipient(domain).accepted(), domain);
            }
            // The only RELAY policy belongs to groups with no senders.
            for (SenderGroup g : groups) {
                boolean relays = policies.stream().anyMatch(p -> p.name().equals(g.policy()) && p.behaviour().relays());
                assertTrue(!relays || g.senders().isEmpty(), g.name() + " relays for " + g.senders());
            }
        } finally {
            try (Connection c = dataSource.getConnection(); Statement s = c.createStatement()) {
                s.execute("drop schema " + schema + " cascade");
            }
        }
    }

    @Test
    void noGroupThatMatchesEveryoneCanRelay() {
        rejected(put("/api/v1/sender-groups/ALL", "{\"policy\":\"RELAYED\"}"), "policy")
                .body("errors[0].message", containsString("open relay"));
        String g = unique("G");
        for (String everyone : List.of("ALL", "0.0.0.0/0", "::/0")) {
            rejected(post("/api/v1/sender-groups", "{\"name\":\"" + g + "\",\"policy\":\"RELAYED\",\"senders\":[\"10.0.0.1\",\""
                    + everyone + "\"]}"), "senders[1]");
        }
        as(TestTokens.READER).when().get("/api/v1/sender-groups/" + g).then().statusCode(404);

        // From the policy side: a policy used by an everyone-group cannot become RELAY.
        String p = unique("P");
        post("/api/v1/mail-flow-policies", "{\"name\":\"" + p + "\",\"behaviour\":\"ACCEPT\",\"tls\":\"OFF\"}").statusCode(201);
        post("/api/v1/sender-groups", "{\"name\":\"" + g + "\",\"policy\":\"" + p + "\",\"senders\":[\"0.0.0.0/0\"]}")
                .statusCode(201);
        put("/api/v1/mail-flow-policies/" + p, "{\"behaviour\":\"RELAY\",\"tls\":\"OFF\"}").statusCode(409)
                .contentType("application/problem+json").body("detail", containsString(g));
        put("/api/v1/mail-flow-policies/ACCEPTED", "{\"behaviour\":\"RELAY\",\"tls\":\"PREFERRED\"}").statusCode(409)
                .body("detail", containsString("ALL"));
        as(TestTokens.READER).when().get("/api/v1/mail-flow-policies/" + p).then().body("behaviour", equalTo("ACCEPT"));
        as(TestTokens.READER).when().get("/api/v1/mail-flow-policies/ACCEPTED").then().body("behaviour", equalTo("ACCEPT"));
        as(TestTokens.READER).when().get("/api/v1/sender-groups/ALL").then().body("policy", equalTo("ACCEPTED"));
        // A group that does not match everyone may relay.
        put("/api/v1/sender-groups/" + g, "{\"policy\":\"RELAYED\",\"senders\":[\"0.0.0.0/1\"]}").statusCode(200);
        as(TestTokens.OPERATOR).when().delete("/api/v1/sender-groups/" + g).then().statusCode(204);
        as(TestTokens.OPERATOR).when().delete("/api/v1/mail-flow-policies/" + p).then().statusCode(204);
    }
}
