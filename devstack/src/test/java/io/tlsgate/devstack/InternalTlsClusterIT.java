package io.tlsgate.devstack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.tlsgate.proto.cert.v1.CertServiceGrpc;
import io.tlsgate.proto.cert.v1.GetBundleRequest;
import io.tlsgate.proto.cert.v1.GetTrustRequest;
import io.tlsgate.proto.cert.v1.IssueIdentityRequest;
import io.tlsgate.proto.policy.v1.ListListenersRequest;
import io.tlsgate.proto.policy.v1.PolicyServiceGrpc;
import io.tlsgate.proto.policy.v1.ResolveOutboundRequest;
import io.tlsgate.testkit.GrpcChannels;
import io.tlsgate.testkit.TestIdentities;
import io.tlsgate.testkit.TestPki;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.function.Function;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Internal gRPC across the running cluster (docs/security.md): every gRPC port (policy-,
 * cert-, delivery-service; listener-service serves none) refuses plaintext, a caller without a
 * client certificate and a certificate from another CA; each service's identity, got from
 * cert-service's internal CA with its own enrolment token, may use what that service needs and
 * nothing else; identities are short-lived in this cluster (2 minutes) and renewed without a
 * restart while mail keeps flowing through the other tests.
 */
@ExtendWith(ListenerCluster.Shared.class)
class InternalTlsClusterIT {

    private static final int POLICY = 8081;
    private static final int CERT = 8082;
    private static final int DELIVERY = 8083;

    /** One call per gRPC port, on a given channel. */
    private record Port(int base, String service, Function<ManagedChannel, Object> call) {}

    private static final List<Port> PORTS = List.of(
            new Port(POLICY, "policy-service", ch -> PolicyServiceGrpc.newBlockingStub(ch)
                    .withDeadlineAfter(20, java.util.concurrent.TimeUnit.SECONDS)
                    .resolveOutbound(ResolveOutboundRequest.newBuilder().setDomain("example.com").build())),
            new Port(CERT, "cert-service", ch -> CertServiceGrpc.newBlockingStub(ch)
                    .withDeadlineAfter(20, java.util.concurrent.TimeUnit.SECONDS).getTrust(GetTrustRequest.getDefaultInstance())),
            new Port(DELIVERY, "delivery-service", ch -> enqueue(ch)));

    @Test
    void everyGrpcPortRefusesPlaintextNoCertificateAndAnotherCasCertificate() throws Exception {
        ClusterApi api = ListenerCluster.api();
        var ca = api.identity("delivery-service").ca();
        for (Port p : PORTS) {
            int port = api.grpcPort(p.base());
            ManagedChannel plain = GrpcChannels.plaintext(port);
            ManagedChannel none = GrpcChannels.open("localhost", port, null, ca, p.service());
            ManagedChannel foreign = GrpcChannels.open("localhost", port, TestIdentities.get().foreign("listener-service"), ca,
                    p.service());
            try {
                assertEquals(Status.Code.UNAVAILABLE, code(() -> p.call().apply(plain)), p.service() + ": plaintext");
                assertEquals(Status.Code.UNAUTHENTICATED, code(() -> p.call().apply(none)), p.service() + ": no certificate");
                assertEquals(Status.Code.UNAVAILABLE, code(() -> p.call().apply(foreign)), p.service() + ": another CA");
            } finally {
                plain.shutdownNow();
                none.shutdownNow();
                foreign.shutdownNow();
            }
        }
        // Refusals are logged by the service that refused them.
        awaitLog(api, "policy-service", "refused gRPC call tlsgate.policy.v1.PolicyService/ResolveOutbound");
        awaitLog(api, "cert-service", "internal TLS: refused a client certificate");
    }

    @Test
    void eachServiceMayUseWhatItNeedsAndNothingElse() throws Exception {
        ClusterApi api = ListenerCluster.api();
        ManagedChannel listenerToPolicy = api.grpc(POLICY, "listener-service", "policy-service");
        ManagedChannel deliveryToPolicy = api.grpc(POLICY, "delivery-service", "policy-service");
        ManagedChannel listenerToCert = api.grpc(CERT, "listener-service", "cert-service");
        ManagedChannel deliveryToCert = api.grpc(CERT, "delivery-service", "cert-service");
        ManagedChannel policyToCert = api.grpc(CERT, "policy-service", "cert-service");
        ManagedChannel deliveryToDelivery = api.grpc(DELIVERY, "delivery-service", "delivery-service");
        ManagedChannel policyToDelivery = api.grpc(DELIVERY, "policy-service", "delivery-service");
        try {
            // policy-service: inbound lookups for the listener, outbound ones for delivery.
            assertTrue(PolicyServiceGrpc.newBlockingStub(listenerToPolicy).listListeners(ListListenersRequest.getDefaultInstance())
                    .getListenersCount() > 0);
            assertEquals(Status.Code.PERMISSION_DENIED, code(() -> PORTS.get(0).call().apply(listenerToPolicy)));
            PORTS.get(0).call().apply(deliveryToPolicy);
            assertEquals(Status.Code.PERMISSION_DENIED, code(() -> PolicyServiceGrpc.newBlockingStub(deliveryToPolicy)
                    .listListeners(ListListenersRequest.getDefaultInstance())));

            // cert-service: each service's own keys only.
            assertTrue(bundle(listenerToCert, "listener:inbound").getChainCount() > 0);
            assertTrue(bundle(deliveryToCert, "outbound").getChainCount() > 0);
            assertTrue(bundle(policyToCert, "https").getChainCount() > 0);
            assertEquals(Status.Code.PERMISSION_DENIED, code(() -> bundle(listenerToCert, "outbound")));
            assertEquals(Status.Code.PERMISSION_DENIED, code(() -> bundle(deliveryToCert, "listener:inbound")));
            assertEquals(Status.Code.PERMISSION_DENIED, code(() -> bundle(policyToCert, "outbound")));
            assertEquals(Status.Code.PERMISSION_DENIED, code(() -> PORTS.get(1).call().apply(policyToCert)));
            // listener-service's identity cannot get delivery-service's.
            assertEquals(Status.Code.PERMISSION_DENIED, code(() -> CertServiceGrpc.newBlockingStub(listenerToCert)
                    .issueIdentity(IssueIdentityRequest.newBuilder().setService("delivery-service").setPublicKey(
                            com.google.protobuf.ByteString.copyFrom(TestPki.ecKeys().getPublic().getEncoded())).build())));

            // delivery-service: only listener-service queues mail (it does so in every mail test).
            assertEquals(Status.Code.PERMISSION_DENIED, code(() -> enqueue(deliveryToDelivery)));
            assertEquals(Status.Code.PERMISSION_DENIED, code(() -> enqueue(policyToDelivery)));
        } finally {
            for (ManagedChannel ch : List.of(listenerToPolicy, deliveryToPolicy, listenerToCert, deliveryToCert, policyToCert,
                    deliveryToDelivery, policyToDelivery)) {
                ch.shutdownNow();
            }
        }
        // Another service's enrolment token does not authenticate the internal CA.
        AssertionError wrong = assertThrows(AssertionError.class, () -> ClusterIdentities.internalCa(api.grpcPort(CERT),
                "listener-service", api.secrets().enrollmentToken("delivery-service")));
        assertTrue(wrong.getMessage().contains("HMAC"), wrong.getMessage());
    }

    @Test
    void serversPresentTheirOwnIdentityAndRenewItWithoutARestart() throws Exception {
        ClusterApi api = ListenerCluster.api();
        var ca = api.identity("listener-service").ca();
        for (Port p : PORTS) {
            var served = servedCertificate(api.grpcPort(p.base()), ca);
            assertTrue(served.getSubjectAlternativeNames().contains(List.of(6, "spiffe://tlsgate/" + p.service())),
                    p.service() + " presents " + served.getSubjectAlternativeNames());
        }
        // This cluster issues identities for 2 minutes: each service renews after 80 s, with no restart.
        for (String s : List.of("policy-service", "delivery-service", "listener-service", "cert-service")) {
            awaitLog(api, s, "internal TLS identity of " + s + " renewed");
        }
        var served = servedCertificate(api.grpcPort(POLICY), ca);
        assertTrue(served.getNotAfter().getTime() - System.currentTimeMillis() <= Duration.ofMinutes(2).toMillis());
        // Renewed when due (after 80 s of 120), not in a loop: each renewal at least a minute after
        // the identity it replaces (a restart, as in ListenerOutageClusterIT, starts afresh).
        List<String> lines = Files.readAllLines(api.logs().resolve("policy-service.log")).stream()
                .filter(l -> l.contains("internal TLS identity of policy-service")).toList();
        int renewals = 0;
        for (int i = 1; i < lines.size(); i++) {
            if (lines.get(i).contains(" renewed ")) {
                renewals++;
                assertTrue(Duration.between(time(lines.get(i - 1)), time(lines.get(i))).toSeconds() >= 60,
                        "renewed too early: " + lines.get(i - 1) + " / " + lines.get(i));
            }
        }
        assertTrue(renewals >= 1, lines.toString());
    }

    private static java.time.LocalDateTime time(String logLine) {
        return java.time.LocalDateTime.parse(logLine.substring(0, 23).replace(' ', 'T').replace(',', '.'));
    }

    private static io.tlsgate.proto.cert.v1.CertificateBundle bundle(ManagedChannel ch, String slot) {
        return CertServiceGrpc.newBlockingStub(ch).withDeadlineAfter(20, java.util.concurrent.TimeUnit.SECONDS)
                .getBundle(GetBundleRequest.newBuilder().setSlot(slot).build());
    }

    private static Object enqueue(ManagedChannel ch) {
        try {
            return ClusterApi.enqueue(ch, "a@example.net", List.of("b@example.org"), "Subject: x\r\n\r\nx\r\n".getBytes());
        } catch (AssertionError e) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof StatusRuntimeException s) {
                    throw s;
                }
            }
            throw e;
        }
    }

    private static Status.Code code(org.junit.jupiter.api.function.Executable call) {
        return assertThrows(StatusRuntimeException.class, call).getStatus().getCode();
    }

    /** The leaf certificate the TLS server on {@code port} presents, checked against {@code ca}. */
    private static java.security.cert.X509Certificate servedCertificate(int port, java.security.cert.X509Certificate ca)
            throws Exception {
        java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setCertificateEntry("ca", ca);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("localhost", port)) {
            s.startHandshake();
            return (java.security.cert.X509Certificate) s.getSession().getPeerCertificates()[0];
        }
    }

    private static void awaitLog(ClusterApi api, String service, String text) throws Exception {
        java.nio.file.Path log = api.logs().resolve(service + ".log");
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (!Files.readString(log).contains(text)) {
            assertTrue(System.nanoTime() < deadline, service + " never logged: " + text);
            Thread.sleep(1000);
        }
    }
}
