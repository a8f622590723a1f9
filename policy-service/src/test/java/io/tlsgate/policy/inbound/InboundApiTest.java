package io.tlsgate.policy.inbound;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.ValidatableResponse;
import io.restassured.specification.RequestSpecification;
import io.tlsgate.proto.policy.v1.Behaviour;
import io.tlsgate.proto.policy.v1.InboundPolicy;
import io.tlsgate.proto.policy.v1.InboundTls;
import io.tlsgate.proto.policy.v1.IsAcceptedRecipientRequest;
import io.tlsgate.proto.policy.v1.ListListenersRequest;
import io.tlsgate.proto.policy.v1.PolicyServiceGrpc;
import io.tlsgate.proto.policy.v1.ResolveInboundRequest;
import io.tlsgate.proto.policy.v1.ResolveRouteRequest;
import io.tlsgate.proto.policy.v1.Route;
import io.tlsgate.testkit.GrpcChannels;
import io.tlsgate.testkit.TestIdentities;
import io.tlsgate.testkit.TestTokens;
import java.net.URL;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;

/**
 * Inbound policy over REST and gRPC against the real service and PostgreSQL: a listener with
 * its own HAT, groups and policies, resolution with its reason, RAT and routes, audit, and
 * the object-spanning rules (in use, port clashes). Validation edges are in
 * {@link InboundValidationTest}; open-relay rules in {@link NoOpenRelayTest}.
 */
@QuarkusTest
class InboundApiTest {

    @TestHTTPResource("/")
    URL url;

    static RequestSpecification as(String token) {
        return given().header("Authorization", TestTokens.bearer(token));
    }

    static String unique(String prefix) {
        return prefix + UUID.randomUUID().toString().substring(0, 8);
    }

    static int freePort() {
        return ThreadLocalRandom.current().nextInt(20_000, 60_000);
    }

    static ValidatableResponse post(String path, String json) {
        return as(TestTokens.OPERATOR).contentType("application/json").body(json).when().post(path).then();
    }

    static ValidatableResponse put(String path, String json) {
        return as(TestTokens.OPERATOR).contentType("application/json").body(json).when().put(path).then();
    }

    @Test
    void listenerHatGroupsPoliciesResolveOverRestAndGrpc() {
        String policy = unique("P");
        String relayGroup = unique("R");
        String partnerGroup = unique("G");
        String listener = unique("l");
        int port = freePort();
        post("/api/v1/mail-flow-policies", "{\"name\":\"" + policy + "\",\"behaviour\":\"ACCEPT\",\"tls\":\"PREFERRED\","
                + "\"tlsMandatorySenders\":[\"@Bank.Example\",\"ceo@\"],\"maxRecipientsPerMessage\":50}")
                .statusCode(201)
                .body("tlsMandatorySenders", contains("@bank.example", "ceo@"))
                .body("maxMessagesPerConnection", equalTo(100));
        post("/api/v1/sender-groups", "{\"name\":\"" + relayGroup + "\",\"policy\":\"RELAYED\","
                + "\"senders\":[\"10.20.0.0/16\",\"2001:DB8:20::/48\"]}").statusCode(201)
                .body("senders", contains("10.20.0.0/16", "2001:db8:20::/48"));
        post("/api/v1/sender-groups", "{\"name\":\"" + partnerGroup + "\",\"policy\":\"" + policy + "\","
                + "\"senders\":[\".partner.example\",\"10.20.30.0/24\"]}").statusCode(201);
        as(TestTokens.OPERATOR).header("X-Change-Comment", "new edge listener").contentType("application/json")
                .body("{\"name\":\"" + listener + "\",\"port\":" + port + ",\"hostname\":\"MX.Example.COM.\"}")
                .when().post("/api/v1/listeners").then().statusCode(201)
                .body("hostname", equalTo("mx.example.com"))
                .body("bindAddress", equalTo("0.0.0.0"))
                .body("certificateSlot", equalTo("listener:" + listener))
                .body("maxMessageSizeBytes", equalTo(10485760))
                .body("hostAccessTable", contains("ALL"));
        put("/api/v1/listeners/" + listener + "/hat", "{\"hostAccessTable\":[\"" + partnerGroup + "\",\"" + relayGroup + "\"]}")
                .statusCode(200).body("hostAccessTable", contains(partnerGroup, relayGroup, "ALL"));

        // 10.20.30.5 is in both groups: the partner group comes first in this HAT.
        resolve(listener, "ip=10.20.30.5").body("senderGroup", equalTo(partnerGroup))
                .body("matchedBy", equalTo("10.20.30.0/24")).body("position", equalTo(1))
                .body("policy.name", equalTo(policy)).body("policy.behaviour", equalTo("ACCEPT"))
                .body("reason", containsString("first match"));
        resolve(listener, "ip=10.20.99.1").body("senderGroup", equalTo(relayGroup)).body("position", equalTo(2))
                .body("policy.behaviour", equalTo("RELAY"));
        resolve(listener, "ip=192.0.2.1&host=mx1.partner.example").body("senderGroup", equalTo(partnerGroup))
                .body("matchedBy", equalTo(".partner.example"));
        resolve(listener, "ip=192.0.2.1&host=mx1.partner.example&hostVerified=false").body("senderGroup", equalTo("ALL"))
                .body("position", equalTo(0)).body("policy.name", equalTo("ACCEPTED"));
        as(TestTokens.READER).when().get("/api/v1/listeners/" + listener + "/resolve?ip=not-an-ip").then().statusCode(400)
                .contentType("application/problem+json").body("errors[0].field", equalTo("ip"));
        as(TestTokens.READER).when().get("/api/v1/listeners/nosuch/resolve?ip=192.0.2.1").then().statusCode(404);

        ManagedChannel ch = GrpcChannels.open(GrpcChannels.testPort(), TestIdentities.get().of("listener-service"), "policy-service");
        try {
            PolicyServiceGrpc.PolicyServiceBlockingStub stub = PolicyServiceGrpc.newBlockingStub(ch);
            InboundPolicy p = stub.resolveInbound(ResolveInboundRequest.newBuilder().setListener(listener)
                    .setClientIp("192.0.2.44").setVerifiedRdnsHost("MX2.partner.example.").build());
            assertEquals(partnerGroup, p.getSenderGroup());
            assertEquals(".partner.example", p.getMatchedBy());
            assertEquals(Behaviour.ACCEPT, p.getPolicy().getBehaviour());
            assertEquals(InboundTls.TLS_PREFERRED, p.getPolicy().getTls());
            assertEquals(java.util.List.of("@bank.example", "ceo@"), p.getPolicy().getTlsMandatorySendersList());
            assertEquals(50, p.getPolicy().getMaxRecipientsPerMessage());
            InboundPolicy relay = stub.resolveInbound(ResolveInboundRequest.newBuilder().setListener(listener)
                    .setClientIp("[2001:db8:20::9]").build());
            assertEquals(relayGroup, relay.getSenderGroup());
            assertEquals(Behaviour.RELAY, relay.getPolicy().getBehaviour());
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> stub.resolveInbound(
                    ResolveInboundRequest.newBuilder().setListener("nosuch").setClientIp("192.0.2.1").build()));
            assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
            e = assertThrows(StatusRuntimeException.class, () -> stub.resolveInbound(
                    ResolveInboundRequest.newBuilder().setListener(listener).setClientIp("999.1.1.1").build()));
            assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
            assertEquals(1, stub.listListeners(ListListenersRequest.getDefaultInstance()).getListenersList().stream()
                    .filter(l -> l.getName().equals(listener) && l.getPort() == port
                            && l.getCertificateSlot().equals("listener:" + listener)).count());
        } finally {
            ch.shutdownNow();
        }

        // In use: the policy by the group, the group by the HAT.
        as(TestTokens.OPERATOR).when().delete("/api/v1/mail-flow-policies/" + policy).then().statusCode(409)
                .contentType("application/problem+json").body("detail", containsString(partnerGroup));
        as(TestTokens.OPERATOR).when().delete("/api/v1/sender-groups/" + partnerGroup).then().statusCode(409)
                .body("detail", containsString(listener));
        as(TestTokens.OPERATOR).when().delete("/api/v1/sender-groups/ALL").then().statusCode(409);
        // Deleting the listener takes its HAT with it; then the group and the policy can go.
        as(TestTokens.OPERATOR).when().delete("/api/v1/listeners/" + listener).then().statusCode(204);
        as(TestTokens.OPERATOR).when().delete("/api/v1/sender-groups/" + partnerGroup).then().statusCode(204);
        as(TestTokens.OPERATOR).when().delete("/api/v1/sender-groups/" + relayGroup).then().statusCode(204);
        as(TestTokens.OPERATOR).when().delete("/api/v1/mail-flow-policies/" + policy).then().statusCode(204);
        as(TestTokens.READER).when().get("/api/v1/listeners/" + listener).then().statusCode(404)
                .contentType("application/problem+json");

        as(TestTokens.OPERATOR).when().get("/api/v1/audit?limit=50").then().statusCode(200)
                .body("find { it.entity == 'listener:" + listener + "' && it.action == 'create' }.comment",
                        equalTo("new edge listener"))
                .body("find { it.entity == 'listener-hat:" + listener + "' }.after",
                        contains(partnerGroup, relayGroup, "ALL"))
                .body("find { it.entity == 'sender-group:" + relayGroup + "' && it.action == 'delete' }.before.senders",
                        contains("10.20.0.0/16", "2001:db8:20::/48"));
    }

    private static ValidatableResponse resolve(String listener, String query) {
        return as(TestTokens.READER).when().get("/api/v1/listeners/" + listener + "/resolve?" + query).then()
                .statusCode(200);
    }

    @Test
    void listenersCannotShareAnAddressAndPort() {
        int port = freePort();
        String a = unique("l");
        String b = unique("l");
        post("/api/v1/listeners", "{\"name\":\"" + a + "\",\"bindAddress\":\"192.0.2.10\",\"port\":" + port
                + ",\"hostname\":\"a.example\"}").statusCode(201);
        post("/api/v1/listeners", "{\"name\":\"" + b + "\",\"bindAddress\":\"0.0.0.0\",\"port\":" + port
                + ",\"hostname\":\"b.example\"}").statusCode(409).body("detail", containsString(a));
        post("/api/v1/listeners", "{\"name\":\"" + b + "\",\"bindAddress\":\"192.0.2.11\",\"port\":" + port
                + ",\"hostname\":\"b.example\"}").statusCode(201);
        post("/api/v1/listeners", "{\"name\":\"" + b + "\",\"port\":" + (port + 1) + ",\"hostname\":\"b.example\"}")
                .statusCode(409).body("detail", containsString("exists"));
        put("/api/v1/listeners/" + b, "{\"bindAddress\":\"192.0.2.10\",\"port\":" + port + ",\"hostname\":\"b.example\"}")
                .statusCode(409);
        as(TestTokens.READER).when().get("/api/v1/listeners/" + b).then().statusCode(200)
                .body("bindAddress", equalTo("192.0.2.11"));
        put("/api/v1/listeners/" + b, "{\"bindAddress\":\"::\",\"port\":" + (port + 1)
                + ",\"hostname\":\"b.example\",\"maxConcurrentConnections\":5,\"maxConnectionsPerClient\":5}")
                .statusCode(200).body("bindAddress", equalTo("::")).body("maxConcurrentConnections", equalTo(5));
        as(TestTokens.OPERATOR).when().delete("/api/v1/listeners/" + a).then().statusCode(204);
        as(TestTokens.OPERATOR).when().delete("/api/v1/listeners/" + b).then().statusCode(204);
        as(TestTokens.READER).contentType("application/json").body("{}").when().post("/api/v1/listeners").then()
                .statusCode(403);
    }

    @Test
    void recipientAccessAndRoutes() {
        String d = unique("d") + ".example";
        long v0 = as(TestTokens.READER).when().get("/api/v1/rat/resolve?domain=" + d).then().statusCode(200)
                .body("accepted", equalTo(false)).extract().jsonPath().getLong("version");
        post("/api/v1/rat", "{\"domain\":\"" + d.toUpperCase() + ".\"}").statusCode(201).body("domain", equalTo(d));
        post("/api/v1/rat", "{\"domain\":\"" + d + "\"}").statusCode(409);
        post("/api/v1/rat", "{\"domain\":\"." + d + "\"}").statusCode(201);
        as(TestTokens.READER).when().get("/api/v1/rat/resolve?domain=" + d).then().statusCode(200)
                .body("accepted", equalTo(true)).body("matchedKey", equalTo(d))
                .body("version", equalTo((int) v0 + 2)); // one version per change
        as(TestTokens.READER).when().get("/api/v1/rat/resolve?domain=mx.sub." + d).then()
                .body("matchedKey", equalTo("." + d));
        as(TestTokens.READER).when().get("/api/v1/rat").then().statusCode(200)
                .body("domains", org.hamcrest.Matchers.hasItems(d, "." + d));

        post("/api/v1/smtp-routes", "{\"domain\":\"" + d + "\",\"hops\":[\"Mail1.Internal\",\"192.0.2.25:2525\",\"usedns\"]}")
                .statusCode(201).body("hops", contains("mail1.internal", "[192.0.2.25]:2525", "USEDNS"));
        post("/api/v1/smtp-routes", "{\"domain\":\"" + d + "\",\"hops\":[\"x.internal\"]}").statusCode(409);
        put("/api/v1/smtp-routes/" + d, "{\"hops\":[\"[2001:db8::25]:26\"]}").statusCode(200)
                .body("hops", contains("[2001:db8::25]:26"));
        ManagedChannel ch = GrpcChannels.open(GrpcChannels.testPort(), TestIdentities.get().of("delivery-service"), "policy-service");
        ManagedChannel asListener = GrpcChannels.open(GrpcChannels.testPort(), TestIdentities.get().of("listener-service"),
                "policy-service");
        try {
            PolicyServiceGrpc.PolicyServiceBlockingStub stub = PolicyServiceGrpc.newBlockingStub(ch);
            PolicyServiceGrpc.PolicyServiceBlockingStub listener = PolicyServiceGrpc.newBlockingStub(asListener);
            Route r = stub.resolveRoute(ResolveRouteRequest.newBuilder().setDomain(d.toUpperCase()).build());
            assertEquals(d, r.getMatchedKey());
            assertEquals("[2001:db8::25]", r.getHops(0).getHost());
            assertEquals(26, r.getHops(0).getPort());
            assertFalse(r.getUseDns());
            Route none = stub.resolveRoute(ResolveRouteRequest.newBuilder().setDomain("other-" + d).build());
            assertEquals("", none.getMatchedKey());
            assertEquals(0, none.getHopsCount());
            assertEquals(true, none.getUseDns());
            assertEquals(true, listener.isAcceptedRecipient(IsAcceptedRecipientRequest.newBuilder().setDomain("a." + d).build())
                    .getAccepted());
            assertEquals(false, listener.isAcceptedRecipient(IsAcceptedRecipientRequest.newBuilder().setDomain("x" + d).build())
                    .getAccepted());
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> listener.isAcceptedRecipient(
                    IsAcceptedRecipientRequest.newBuilder().setDomain("bad domain").build()));
            assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
        } finally {
            ch.shutdownNow();
            asListener.shutdownNow();
        }
        as(TestTokens.OPERATOR).when().delete("/api/v1/smtp-routes/" + d).then().statusCode(204);
        as(TestTokens.OPERATOR).when().delete("/api/v1/smtp-routes/" + d).then().statusCode(404);
        as(TestTokens.OPERATOR).when().delete("/api/v1/rat/" + d).then().statusCode(204);
        as(TestTokens.OPERATOR).when().delete("/api/v1/rat/." + d).then().statusCode(204);
        as(TestTokens.READER).when().get("/api/v1/rat/resolve?domain=" + d).then().body("accepted", equalTo(false));
    }
}
