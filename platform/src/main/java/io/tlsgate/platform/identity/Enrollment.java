package io.tlsgate.platform.identity;

import io.grpc.CallOptions;
import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.tlsgate.platform.tls.KeyMaterial;
import io.tlsgate.platform.tls.PeerTrust;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Gets a service identity from cert-service's internal CA, in two calls:
 * <ol>
 * <li>{@code GetInternalCa} over TLS that does not yet verify the server: the answer is
 * believed only when its HMAC under this service's enrolment token is right, which only
 * cert-service (the other holder of the token) can compute. The token is not sent.</li>
 * <li>{@code IssueIdentity} over TLS verified against that CA, to the service that proves it
 * is cert-service: the token authenticates the request for a certificate of a key generated
 * here (first or renewed: an identity alone never gets a new one, so a stolen identity dies
 * with its lifetime); the key never leaves this process.</li>
 * </ol>
 * Security-sensitive.
 */
final class Enrollment {

    private static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final long CALL_SECONDS = 10;

    private Enrollment() {}

    /** A new identity for {@code service}, first or renewed: always with the token, never with an older identity. */
    static IdentityMaterial enroll(String target, String service, String token) throws GeneralSecurityException {
        List<X509Certificate> anchors = internalCa(target, service, token);
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair keys = g.generateKeyPair();

        PeerTrust ca = PeerTrust.of(List.copyOf(anchors));
        IdentityTrustManager trust = new IdentityTrustManager(() -> ca, ServiceIdentity.CERT);
        Metadata headers = new Metadata();
        headers.put(AUTHORIZATION, "Bearer " + token);
        List<ClientInterceptor> interceptors = List.of(MetadataUtils.newAttachHeadersInterceptor(headers));
        ManagedChannel ch = InternalChannelFactory.open(target, null, trust, ServiceIdentity.CERT, 1024 * 1024, interceptors);
        CertWire.Issued issued;
        try {
            issued = ClientCalls.blockingUnaryCall(ch, CertWire.ISSUE_IDENTITY,
                    CallOptions.DEFAULT.withDeadlineAfter(CALL_SECONDS, TimeUnit.SECONDS),
                    new CertWire.IssueRequest(service, keys.getPublic().getEncoded()));
        } finally {
            ch.shutdownNow();
        }
        List<X509Certificate> chain = KeyMaterial.certificates(issued.chain());
        if (chain.isEmpty() || !chain.get(0).getPublicKey().equals(keys.getPublic())) {
            throw new GeneralSecurityException("cert-service answered with a certificate for another key");
        }
        return IdentityMaterial.of(service, keys.getPrivate(), chain, anchors);
    }

    /** Step 1: the CA certificates, authenticated by the token's HMAC. */
    static List<X509Certificate> internalCa(String target, String service, String token) throws GeneralSecurityException {
        ManagedChannel ch = InternalChannelFactory.open(target, null, InsecureTrustManagerFactory.INSTANCE.getTrustManagers()[0],
                ServiceIdentity.CERT, 1024 * 1024, List.of());
        CertWire.Ca ca;
        try {
            ca = ClientCalls.blockingUnaryCall(ch, CertWire.GET_INTERNAL_CA,
                    CallOptions.DEFAULT.withDeadlineAfter(CALL_SECONDS, TimeUnit.SECONDS), new CertWire.CaRequest(service));
        } finally {
            ch.shutdownNow();
        }
        if (!MessageDigest.isEqual(CertWire.mac(token, ca.certificates()), ca.mac())) {
            throw new GeneralSecurityException("the internal CA's authentication code does not match this service's enrolment "
                    + "token: wrong token, or not cert-service at " + target);
        }
        List<X509Certificate> certs = KeyMaterial.certificates(ca.certificates());
        if (certs.isEmpty()) {
            throw new GeneralSecurityException("cert-service sent no internal CA certificate");
        }
        return certs;
    }
}
