package io.tlsgate.platform.identity;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * The names the tlsgate services know each other by on internal gRPC. A service identity is
 * an X.509 certificate whose subject alternative names hold the URI
 * {@code spiffe://tlsgate/<service>} (what authorisation reads) and the DNS name
 * {@code <service>} (what TLS tools show); nothing else names a service.
 */
public final class ServiceIdentity {

    public static final String POLICY = "policy-service";
    public static final String CERT = "cert-service";
    public static final String DELIVERY = "delivery-service";
    public static final String LISTENER = "listener-service";

    /** Every service that can hold an identity. */
    public static final List<String> SERVICES = List.of(POLICY, CERT, DELIVERY, LISTENER);

    private static final String URI_PREFIX = "spiffe://tlsgate/";
    private static final int SAN_URI = 6;

    private ServiceIdentity() {}

    /** The SAN URI naming {@code service}. */
    public static String uri(String service) {
        return URI_PREFIX + known(service);
    }

    /** {@code service} when it is one of {@link #SERVICES}. */
    public static String known(String service) {
        if (!SERVICES.contains(service)) {
            throw new IllegalArgumentException("unknown service '" + service + "' (one of " + SERVICES + ")");
        }
        return service;
    }

    /** The service a certificate names, if it names exactly one known service. */
    public static Optional<String> of(X509Certificate certificate) {
        Collection<List<?>> sans;
        try {
            sans = certificate.getSubjectAlternativeNames();
        } catch (CertificateParsingException e) {
            return Optional.empty();
        }
        if (sans == null) {
            return Optional.empty();
        }
        String found = null;
        for (List<?> san : sans) {
            if (san.size() == 2 && Integer.valueOf(SAN_URI).equals(san.get(0)) && san.get(1) instanceof String u
                    && u.startsWith(URI_PREFIX)) {
                String name = u.substring(URI_PREFIX.length());
                if (!SERVICES.contains(name) || (found != null && !found.equals(name))) {
                    return Optional.empty();
                }
                found = name;
            }
        }
        return Optional.ofNullable(found);
    }
}
