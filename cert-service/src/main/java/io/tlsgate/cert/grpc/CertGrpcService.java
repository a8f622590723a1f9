package io.tlsgate.cert.grpc;

import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Uni;
import io.tlsgate.cert.trust.TrustStore;
import io.tlsgate.proto.cert.v1.CertService;
import io.tlsgate.proto.cert.v1.GetTrustRequest;
import io.tlsgate.proto.cert.v1.TrustBundle;
import io.tlsgate.proto.cert.v1.TrustedCa;

/** gRPC edge of cert-service: maps wire types to the domain and back, nothing more. */
@GrpcService
public class CertGrpcService implements CertService {

    private final TrustStore trust;

    CertGrpcService(TrustStore trust) {
        this.trust = trust;
    }

    @Override
    @Blocking
    public Uni<TrustBundle> getTrust(GetTrustRequest request) {
        TrustStore.Snapshot s = trust.snapshot();
        TrustBundle.Builder b = TrustBundle.newBuilder().setRevision(s.revision());
        s.cas().forEach(ca -> b.addCas(TrustedCa.newBuilder()
                .setId(ca.id().toString())
                .setSubject(ca.subject())
                .setPem(ca.pem())));
        return Uni.createFrom().item(b.build());
    }
}
