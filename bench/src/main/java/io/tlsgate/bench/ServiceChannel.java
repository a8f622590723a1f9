package io.tlsgate.bench;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.grpc.stub.MetadataUtils;
import io.tlsgate.proto.cert.v1.CertServiceGrpc;
import io.tlsgate.proto.cert.v1.GetInternalCaRequest;
import io.tlsgate.proto.cert.v1.InternalCa;
import io.tlsgate.proto.cert.v1.IssueIdentityRequest;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Properties;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The gRPC channel of a bench client to a tlsgate service: mutual TLS with a service identity
 * got from devstack's internal CA as the services get theirs (the enrolment token from
 * devstack's secrets file; cert-service's gRPC address from {@code -Dtlsgate.cert-grpc},
 * default {@code HOST:8092}).
 */
final class ServiceChannel {

    private ServiceChannel() {
    }

    /** The channel to {@code HOST PORT SECRETS_FILE} (the first three arguments of the bench's gRPC clients) as {@code as}. */
    static ManagedChannel open(String[] args, String as, String to) {
        return open(args[0], Integer.parseInt(args[1]), Path.of(args[2]), as, to);
    }

    static ManagedChannel open(String host, int port, Path secretsFile, String as, String to) {
        try {
            Properties secrets = new Properties();
            try (InputStream in = Files.newInputStream(secretsFile)) {
                secrets.load(in);
            }
            String token = secrets.getProperty("tlsgate.internal-tls.enrollment-tokens." + as);
            String[] cert = System.getProperty("tlsgate.cert-grpc", host + ":8092").split(":");
            X509Certificate ca = internalCa(cert[0], Integer.parseInt(cert[1]), as, token);
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(256);
            KeyPair keys = g.generateKeyPair();
            X509Certificate identity = issue(cert[0], Integer.parseInt(cert[1]), ca, as, token, keys);
            // directExecutor: answers are handled on the channel's event-loop thread. The default
            // executor hands every answer to a pooled thread, and those hand-offs (futex calls, a
            // hundred threads) cost this 2-core machine more CPU than the server's work.
            return NettyChannelBuilder.forAddress(host, port).directExecutor().overrideAuthority(to)
                    .sslContext(GrpcSslContexts.forClient().keyManager(keys.getPrivate(), identity).trustManager(ca).build())
                    .build();
        } catch (IOException | java.security.GeneralSecurityException e) {
            throw new IllegalStateException("cannot get " + as + "'s identity for the bench: " + e.getMessage(), e);
        }
    }

    private static X509Certificate internalCa(String host, int port, String service, String token)
            throws IOException, java.security.GeneralSecurityException {
        ManagedChannel ch = NettyChannelBuilder.forAddress(host, port)
                .sslContext(GrpcSslContexts.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE).build()).build();
        try {
            InternalCa ca = CertServiceGrpc.newBlockingStub(ch).getInternalCa(GetInternalCaRequest.newBuilder().setService(service).build());
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(token.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            ca.getCertificatesList().forEach(c -> mac.update(c.toByteArray()));
            if (!MessageDigest.isEqual(mac.doFinal(), ca.getMac().toByteArray())) {
                throw new java.security.GeneralSecurityException("the internal CA's HMAC does not match the enrolment token");
            }
            return parse(ca.getCertificates(0));
        } finally {
            ch.shutdownNow();
        }
    }

    private static X509Certificate issue(String host, int port, X509Certificate ca, String service, String token, KeyPair keys)
            throws IOException, java.security.GeneralSecurityException {
        ManagedChannel ch = NettyChannelBuilder.forAddress(host, port).overrideAuthority("cert-service")
                .sslContext(GrpcSslContexts.forClient().trustManager(ca).build()).build();
        try {
            Metadata auth = new Metadata();
            auth.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
            return parse(CertServiceGrpc.newBlockingStub(ch).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(auth))
                    .issueIdentity(IssueIdentityRequest.newBuilder().setService(service)
                            .setPublicKey(ByteString.copyFrom(keys.getPublic().getEncoded())).build())
                    .getChain(0));
        } finally {
            ch.shutdownNow();
        }
    }

    private static X509Certificate parse(ByteString der) throws java.security.GeneralSecurityException {
        return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(der.toByteArray()));
    }
}
