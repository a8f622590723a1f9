package io.tlsgate.cert.grpc;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import io.tlsgate.cert.certs.CertChanges;
import io.tlsgate.cert.certs.CertificateView;
import io.tlsgate.cert.certs.Certificates;
import io.tlsgate.cert.trust.TrustedCas;
import io.tlsgate.platform.identity.CertWire;
import io.tlsgate.platform.problem.InvalidRequestException;
import io.tlsgate.proto.cert.v1.CertService;
import io.tlsgate.proto.cert.v1.CertificateBundle;
import io.tlsgate.proto.cert.v1.GetBundleRequest;
import io.tlsgate.proto.cert.v1.GetInternalCaRequest;
import io.tlsgate.proto.cert.v1.GetTrustRequest;
import io.tlsgate.proto.cert.v1.InternalCa;
import io.tlsgate.proto.cert.v1.IssueIdentityRequest;
import io.tlsgate.proto.cert.v1.IssuedIdentity;
import io.tlsgate.proto.cert.v1.SlotCertificate;
import io.tlsgate.proto.cert.v1.TrustBundle;
import io.tlsgate.proto.cert.v1.TrustedCa;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * gRPC edge of cert-service: maps wire types to the domain and back, nothing more. Who may
 * call what (GetBundle and WatchBundle hand out private keys) is decided before a call gets
 * here, by the caller's service identity ({@code CertGrpcAccess}).
 */
@GrpcService
public class CertGrpcService implements CertService {

    private final TrustedCas trust;
    private final Certificates certificates;
    private final CertChanges changes;
    private final io.tlsgate.cert.identity.InternalCa ca;

    CertGrpcService(TrustedCas trust, Certificates certificates, CertChanges changes, io.tlsgate.cert.identity.InternalCa ca) {
        this.trust = trust;
        this.certificates = certificates;
        this.changes = changes;
        this.ca = ca;
    }

    @Override
    @Blocking
    public Uni<TrustBundle> getTrust(GetTrustRequest request) {
        TrustedCas.Snapshot s = trust.snapshot();
        TrustBundle.Builder b = TrustBundle.newBuilder().setRevision(s.revision());
        s.cas().forEach(ca -> b.addCas(TrustedCa.newBuilder()
                .setId(ca.id().toString())
                .setSubject(ca.subject())
                .setPem(ca.pem())));
        return Uni.createFrom().item(b.build());
    }

    @Override
    @Blocking
    public Uni<CertificateBundle> getBundle(GetBundleRequest request) {
        try {
            return Uni.createFrom().item(toProto(certificates.bundle(request.getSlot())));
        } catch (InvalidRequestException e) {
            return Uni.createFrom().failure(Status.INVALID_ARGUMENT.withDescription("slot: " + e.getMessage())
                    .asRuntimeException());
        }
    }

    @Override
    @Blocking
    public Uni<SlotCertificate> describeSlot(GetBundleRequest request) {
        try {
            Certificates.SlotCertificate s = certificates.describe(request.getSlot());
            return Uni.createFrom().item(SlotCertificate.newBuilder()
                    .setSlot(s.slot())
                    .setCertificate(s.certificate())
                    .setDemo(s.demo())
                    .setAssigned(s.assigned())
                    .setNotAfterEpochSeconds(s.leaf().getNotAfter().toInstant().getEpochSecond())
                    .setSubject(s.leaf().getSubjectX500Principal().getName())
                    .build());
        } catch (InvalidRequestException e) {
            return Uni.createFrom().failure(Status.INVALID_ARGUMENT.withDescription("slot: " + e.getMessage())
                    .asRuntimeException());
        }
    }

    @Override
    public Multi<CertificateBundle> watchBundle(GetBundleRequest request) {
        String slot = request.getSlot();
        if (!Certificates.SLOT.matcher(slot).matches()) {
            return Multi.createFrom().failure(Status.INVALID_ARGUMENT
                    .withDescription("slot: must be listener:<name>, outbound or https").asRuntimeException());
        }
        // The bundle now, then after every revision; only bundles that differ from the last one go out.
        Object[] last = {null};
        return Multi.createBy().concatenating().streams(Multi.createFrom().item(0L), changes.revisions())
                .emitOn(Infrastructure.getDefaultWorkerPool())
                .map(v -> certificates.bundle(slot))
                .filter(b -> {
                    Object key = java.util.List.of(b.certificate(), b.assigned(),
                            b.chain().stream().map(CertificateView::fingerprint).toList());
                    if (Objects.equals(key, last[0])) {
                        return false;
                    }
                    last[0] = key;
                    return true;
                })
                .map(CertGrpcService::toProto);
    }

    @Override
    @Blocking
    public Uni<InternalCa> getInternalCa(GetInternalCaRequest request) {
        // Only a service with an enrolment token can check the answer; others get nothing to check it with.
        Optional<String> token = ca.enrollmentToken(request.getService());
        if (token.isEmpty()) {
            return Uni.createFrom().failure(Status.NOT_FOUND
                    .withDescription("service: no enrolment token is configured for '" + request.getService() + "'")
                    .asRuntimeException());
        }
        List<byte[]> der = ca.anchors().stream().map(CertGrpcService::der).toList();
        try {
            InternalCa.Builder b = InternalCa.newBuilder().setMac(ByteString.copyFrom(CertWire.mac(token.get(), der)));
            der.forEach(d -> b.addCertificates(ByteString.copyFrom(d)));
            return Uni.createFrom().item(b.build());
        } catch (GeneralSecurityException e) {
            return Uni.createFrom().failure(e);
        }
    }

    /** Authorised by {@code CertGrpcAccess} (token or current identity) before it gets here. */
    @Override
    @Blocking
    public Uni<IssuedIdentity> issueIdentity(IssueIdentityRequest request) {
        PublicKey key = publicKey(request.getPublicKey().toByteArray());
        if (key == null) {
            return Uni.createFrom().failure(Status.INVALID_ARGUMENT
                    .withDescription("public_key: not an EC or RSA SubjectPublicKeyInfo").asRuntimeException());
        }
        IssuedIdentity.Builder b = IssuedIdentity.newBuilder();
        ca.issue(request.getService(), key).forEach(c -> b.addChain(ByteString.copyFrom(der(c))));
        return Uni.createFrom().item(b.build());
    }

    private static PublicKey publicKey(byte[] spki) {
        for (String alg : List.of("EC", "RSA")) {
            try {
                return KeyFactory.getInstance(alg).generatePublic(new X509EncodedKeySpec(spki));
            } catch (GeneralSecurityException e) {
                // try the next algorithm
            }
        }
        return null;
    }

    private static byte[] der(X509Certificate c) {
        try {
            return c.getEncoded();
        } catch (CertificateEncodingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static CertificateBundle toProto(Certificates.Bundle b) {
        CertificateBundle.Builder out = CertificateBundle.newBuilder()
                .setSlot(b.slot())
                .setCertificate(b.certificate())
                .setDemo(b.demo())
                .setAssigned(b.assigned())
                .setPrivateKeyPkcs8(ByteString.copyFrom(b.privateKeyPkcs8()))
                .setKeyAlgorithm(b.chain().get(0).getPublicKey().getAlgorithm())
                .setRevision(b.revision());
        java.util.Arrays.fill(b.privateKeyPkcs8(), (byte) 0);
        for (X509Certificate x : b.chain()) {
            try {
                out.addChain(ByteString.copyFrom(x.getEncoded()));
            } catch (CertificateEncodingException e) {
                throw new IllegalStateException(e);
            }
        }
        return out.build();
    }
}
