package io.tlsgate.cert.identity;

import io.grpc.Metadata;
import io.tlsgate.core.auth.TokenTable;
import io.tlsgate.platform.grpc.GrpcAccess;
import io.tlsgate.platform.identity.ServiceIdentity;
import io.tlsgate.proto.cert.v1.CertServiceGrpc;
import io.tlsgate.proto.cert.v1.GetBundleRequest;
import io.tlsgate.proto.cert.v1.IssueIdentityRequest;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Map;
import java.util.Set;

/**
 * Who may call cert-service over gRPC (docs/security.md). Bundles hold private keys, so each
 * service gets only its own slots: listener-service the {@code listener:*} slots,
 * delivery-service {@code outbound}, and every service {@code https} (its REST certificate).
 * The trusted CAs are for the two services that verify peers. The two enrolment methods need
 * no certificate: {@code GetInternalCa} gives out only the public CA certificate (with an HMAC
 * under the named service's token), and {@code IssueIdentity} always wants the service's
 * enrolment token, for renewals too.
 *
 * <p>Security-sensitive.
 */
@ApplicationScoped
public class CertGrpcAccess implements GrpcAccess {

    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private static final Set<String> BUNDLE_READERS = Set.of(ServiceIdentity.LISTENER, ServiceIdentity.DELIVERY,
            ServiceIdentity.POLICY, ServiceIdentity.CERT);
    private static final Map<String, Set<String>> CALLERS = Map.of(
            CertServiceGrpc.getGetTrustMethod().getFullMethodName(), Set.of(ServiceIdentity.LISTENER, ServiceIdentity.DELIVERY),
            CertServiceGrpc.getGetBundleMethod().getFullMethodName(), BUNDLE_READERS,
            CertServiceGrpc.getWatchBundleMethod().getFullMethodName(), BUNDLE_READERS,
            // No key in the answer: any service may ask what a slot serves.
            CertServiceGrpc.getDescribeSlotMethod().getFullMethodName(), Set.copyOf(ServiceIdentity.SERVICES));
    private static final Set<String> OPEN = Set.of(CertServiceGrpc.getGetInternalCaMethod().getFullMethodName(),
            CertServiceGrpc.getIssueIdentityMethod().getFullMethodName());

    private static final String DESCRIBE = CertServiceGrpc.getDescribeSlotMethod().getFullMethodName();

    private final InternalCa ca;

    CertGrpcAccess(InternalCa ca) {
        this.ca = ca;
    }

    @Override
    public Set<String> callers(String fullMethodName) {
        return CALLERS.getOrDefault(fullMethodName, Set.of());
    }

    @Override
    public boolean open(String fullMethodName) {
        return OPEN.contains(fullMethodName);
    }

    @Override
    public String refuse(String caller, String fullMethodName, Metadata headers, Object request) {
        if (request instanceof GetBundleRequest r && !DESCRIBE.equals(fullMethodName) && !mayRead(caller, r.getSlot())) {
            return caller + " may not read the bundle of slot " + r.getSlot();
        }
        if (request instanceof IssueIdentityRequest r) {
            String service = r.getService();
            if (!ServiceIdentity.SERVICES.contains(service)) {
                return "unknown service '" + service + "'";
            }
            // Always the token, renewals too: an identity alone never gets a new one, so a stolen
            // identity ends with its lifetime.
            String token = TokenTable.bearerToken(headers.get(AUTHORIZATION)).orElse(null);
            if (!ca.isEnrollmentToken(service, token)) {
                return "no valid enrolment token for " + service;
            }
        }
        return null;
    }

    static boolean mayRead(String caller, String slot) {
        if ("https".equals(slot)) {
            return caller != null;
        }
        if (slot.startsWith("listener:")) {
            return ServiceIdentity.LISTENER.equals(caller);
        }
        if ("outbound".equals(slot)) {
            return ServiceIdentity.DELIVERY.equals(caller);
        }
        return false;
    }
}
