package io.tlsgate.cert.identity;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.quarkus.test.junit.QuarkusTest;
import io.tlsgate.platform.identity.CertWire;
import io.tlsgate.platform.identity.ServiceIdentity;
import io.tlsgate.platform.tls.PeerTrust;
import io.tlsgate.proto.cert.v1.CertServiceGrpc;
import io.tlsgate.proto.cert.v1.CertificateBundle;
import io.tlsgate.proto.cert.v1.GetBundleRequest;
import io.tlsgate.proto.cert.v1.GetInternalCaRequest;
import io.tlsgate.proto.cert.v1.InternalCa;
import io.tlsgate.proto.cert.v1.IssueIdentityRequest;
import io.tlsgate.proto.cert.v1.IssuedIdentity;
import io.tlsgate.testkit.GrpcChannels;
import io.tlsgate.testkit.TestIdentities;
import io.tlsgate.testkit.TestPki;
import io.tlsgate.testkit.TestTokens;
import java.io.ByteArrayInputStream;
import java.security.KeyPair;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * cert-service's internal CA and its two enrolment calls over real gRPC: the CA certificate
 * comes with an HMAC only the token's holder can check, identities go only to the holder of
 * that service's token, and the platform's hand-written encoding of these messages is the
 * generated one's, both ways.
 */
@QuarkusTest
class InternalCaTest {

    private static final String LISTENER = ServiceIdentity.LISTENER;

    @Test
    void theCaIsAuthenticatedByTheServicesTokenAndIssuesIdentitiesNamingTheService() throws Exception {
        ManagedChannel ch = GrpcChannels.open(GrpcChannels.testPort(), null, "cert-service");
        try {
            InternalCa ca = CertServiceGrpc.newBlockingStub(ch).getInternalCa(GetInternalCaRequest.newBuilder().setService(LISTENER).build());
            List<byte[]> der = ca.getCertificatesList().stream().map(ByteString::toByteArray).toList();
            assertArrayEquals(CertWire.mac(TestTokens.enrollment(LISTENER), der), ca.getMac().toByteArray());
            assertFalse(java.util.Arrays.equals(CertWire.mac("some-other-token-123", der), ca.getMac().toByteArray()));
            X509Certificate caCert = parse(der.get(0));
            assertTrue(caCert.getBasicConstraints() >= 0, "a CA certificate");

            KeyPair keys = TestPki.ecKeys();
            IssuedIdentity issued = withToken(ch, TestTokens.enrollment(LISTENER)).issueIdentity(IssueIdentityRequest.newBuilder()
                    .setService(LISTENER).setPublicKey(ByteString.copyFrom(keys.getPublic().getEncoded())).build());
            X509Certificate leaf = parse(issued.getChain(0).toByteArray());
            assertEquals(keys.getPublic(), leaf.getPublicKey());
            assertEquals(java.util.Optional.of(LISTENER), ServiceIdentity.of(leaf));
            assertTrue(leaf.getSubjectAlternativeNames().contains(List.of(2, LISTENER)), "DNS name for TLS tools");
            assertEquals(null, PeerTrust.of(List.of(caCert)).check(new X509Certificate[] {leaf}, PeerTrust.Role.CLIENT, "UNKNOWN"));
            assertEquals(null, PeerTrust.of(List.of(caCert)).check(new X509Certificate[] {leaf}, PeerTrust.Role.SERVER, "UNKNOWN"));
            assertEquals(-1, leaf.getBasicConstraints(), "not a CA");
            long days = (leaf.getNotAfter().getTime() - System.currentTimeMillis()) / 86_400_000L;
            assertTrue(days >= 6 && days <= 7, "the default lifetime is 7 days: " + days);
        } finally {
            ch.shutdownNow();
        }
    }

    @Test
    void noIdentityWithoutTheRightTokenOrForAnotherService() {
        ManagedChannel ch = GrpcChannels.open(GrpcChannels.testPort(), null, "cert-service");
        ManagedChannel asListener = GrpcChannels.open(GrpcChannels.testPort(), TestIdentities.get().of(LISTENER), "cert-service");
        try {
            IssueIdentityRequest forListener = IssueIdentityRequest.newBuilder().setService(LISTENER)
                    .setPublicKey(ByteString.copyFrom(TestPki.ecKeys().getPublic().getEncoded())).build();
            assertEquals(Status.Code.PERMISSION_DENIED,
                    code(() -> CertServiceGrpc.newBlockingStub(ch).issueIdentity(forListener)), "no token");
            assertEquals(Status.Code.PERMISSION_DENIED,
                    code(() -> withToken(ch, "test-enrol-wrong-0123456789").issueIdentity(forListener)), "wrong token");
            // An identity alone gets no new one (a stolen identity ends with its lifetime), for itself or another service.
            IssueIdentityRequest forDelivery = forListener.toBuilder().setService(ServiceIdentity.DELIVERY).build();
            assertEquals(Status.Code.PERMISSION_DENIED,
                    code(() -> CertServiceGrpc.newBlockingStub(asListener).issueIdentity(forDelivery)));
            assertEquals(Status.Code.PERMISSION_DENIED,
                    code(() -> CertServiceGrpc.newBlockingStub(asListener).issueIdentity(forListener)));
            assertNotNull(withToken(asListener, TestTokens.enrollment(LISTENER)).issueIdentity(forListener).getChain(0));
            assertEquals(Status.Code.PERMISSION_DENIED, code(() -> withToken(ch, TestTokens.enrollment(LISTENER))
                    .issueIdentity(forListener.toBuilder().setService("mallory-service").build())));
            assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> withToken(ch, TestTokens.enrollment(LISTENER))
                    .issueIdentity(forListener.toBuilder().setPublicKey(ByteString.copyFromUtf8("not a key")).build())));
            // Without a certificate only the two enrolment calls are open.
            assertEquals(Status.Code.UNAUTHENTICATED, code(() -> CertServiceGrpc.newBlockingStub(ch)
                    .getBundle(GetBundleRequest.newBuilder().setSlot("https").build())));
        } finally {
            ch.shutdownNow();
            asListener.shutdownNow();
        }
    }

    @Test
    void thePlatformsEncodingIsTheProtos() throws Exception {
        KeyPair keys = TestPki.ecKeys();
        byte[] key = keys.getPublic().getEncoded();
        IssueIdentityRequest generated = IssueIdentityRequest.parseFrom(CertWire.encode(new CertWire.IssueRequest(LISTENER, key)));
        assertEquals(LISTENER, generated.getService());
        assertArrayEquals(key, generated.getPublicKey().toByteArray());
        CertWire.IssueRequest back = CertWire.issueRequest(generated.toByteArray());
        assertEquals(LISTENER, back.service());
        assertArrayEquals(key, back.publicKey());

        assertEquals("x", GetInternalCaRequest.parseFrom(CertWire.encode(new CertWire.CaRequest("x"))).getService());
        assertEquals("y", CertWire.caRequest(GetInternalCaRequest.newBuilder().setService("y").build().toByteArray()).service());

        InternalCa ca = InternalCa.newBuilder().addCertificates(ByteString.copyFrom(new byte[] {1, 2})).addCertificates(
                ByteString.copyFrom(new byte[] {3})).setMac(ByteString.copyFrom(new byte[] {9})).build();
        CertWire.Ca decoded = CertWire.ca(ca.toByteArray());
        assertEquals(2, decoded.certificates().size());
        assertArrayEquals(new byte[] {3}, decoded.certificates().get(1));
        assertArrayEquals(new byte[] {9}, decoded.mac());
        assertEquals(ca, InternalCa.parseFrom(CertWire.encode(decoded)));

        assertEquals("https", GetBundleRequest.parseFrom(CertWire.encode(new CertWire.BundleRequest("https"))).getSlot());
        CertificateBundle bundle = CertificateBundle.newBuilder().setSlot("https").setCertificate("api").setDemo(true)
                .setAssigned(true).setPrivateKeyPkcs8(ByteString.copyFrom(new byte[] {5, 6})).setKeyAlgorithm("EC")
                .addChain(ByteString.copyFrom(new byte[] {1})).addChain(ByteString.copyFrom(new byte[] {2, 3}))
                .setRevision(1L << 40).build();
        CertWire.Bundle b = CertWire.bundle(bundle.toByteArray());
        assertEquals("api", b.certificate());
        assertTrue(b.demo() && b.assigned());
        assertEquals(1L << 40, b.revision());
        assertArrayEquals(new byte[] {2, 3}, b.chain().get(1));
        assertEquals(bundle, CertificateBundle.parseFrom(CertWire.encode(b)));

        IssuedIdentity issued = IssuedIdentity.newBuilder().addChain(ByteString.copyFrom(new byte[] {7, 7})).build();
        assertEquals(issued, IssuedIdentity.parseFrom(CertWire.encode(CertWire.issued(issued.toByteArray()))));
    }

    private static CertServiceGrpc.CertServiceBlockingStub withToken(ManagedChannel ch, String token) {
        Metadata m = new Metadata();
        m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        return CertServiceGrpc.newBlockingStub(ch).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(m));
    }

    private static Status.Code code(org.junit.jupiter.api.function.Executable call) {
        return assertThrows(StatusRuntimeException.class, call).getStatus().getCode();
    }

    private static X509Certificate parse(byte[] der) throws Exception {
        return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(der));
    }
}
