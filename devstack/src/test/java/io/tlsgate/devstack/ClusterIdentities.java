package io.tlsgate.devstack;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.tlsgate.proto.cert.v1.CertServiceGrpc;
import io.tlsgate.proto.cert.v1.GetInternalCaRequest;
import io.tlsgate.proto.cert.v1.InternalCa;
import io.tlsgate.proto.cert.v1.IssueIdentityRequest;
import io.tlsgate.proto.cert.v1.IssuedIdentity;
import io.tlsgate.testkit.GrpcChannels;
import io.tlsgate.testkit.TestIdentities;
import io.tlsgate.testkit.TestPki;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.MessageDigest;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Service identities from a running cluster's internal CA, got the way a service gets its own:
 * the CA certificate from {@code GetInternalCa}, believed only when its HMAC under the
 * service's enrolment token (devstack's secrets file) is right, then {@code IssueIdentity}
 * over TLS verified against that CA, with the token.
 */
final class ClusterIdentities {

    /** An identity and the CA it chains to. */
    record Enrolled(TestIdentities.Identity identity, X509Certificate ca) {}

    private ClusterIdentities() {}

    static X509Certificate internalCa(int certGrpcPort, String service, String token) throws Exception {
        ManagedChannel ch = NettyChannelBuilder.forAddress("localhost", certGrpcPort)
                .sslContext(GrpcSslContexts.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE).build()).build();
        try {
            InternalCa ca = CertServiceGrpc.newBlockingStub(ch).getInternalCa(GetInternalCaRequest.newBuilder().setService(service).build());
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(token.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            ca.getCertificatesList().forEach(c -> mac.update(c.toByteArray()));
            if (!MessageDigest.isEqual(mac.doFinal(), ca.getMac().toByteArray())) {
                throw new AssertionError("the internal CA's HMAC does not match " + service + "'s token");
            }
            return parse(ca.getCertificates(0).toByteArray());
        } finally {
            ch.shutdownNow();
        }
    }

    static Enrolled enroll(int certGrpcPort, String service, String token) throws Exception {
        X509Certificate ca = internalCa(certGrpcPort, service, token);
        KeyPair keys = TestPki.ecKeys();
        ManagedChannel ch = GrpcChannels.open("localhost", certGrpcPort, null, ca, "cert-service");
        try {
            Metadata auth = new Metadata();
            auth.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
            IssuedIdentity issued = CertServiceGrpc.newBlockingStub(ch).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(auth))
                    .issueIdentity(IssueIdentityRequest.newBuilder().setService(service)
                            .setPublicKey(com.google.protobuf.ByteString.copyFrom(keys.getPublic().getEncoded())).build());
            return new Enrolled(new TestIdentities.Identity(service, keys, parse(issued.getChain(0).toByteArray())), ca);
        } finally {
            ch.shutdownNow();
        }
    }

    static X509Certificate parse(byte[] der) throws Exception {
        return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(der));
    }
}
