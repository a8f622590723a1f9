package io.tlsgate.testkit;

/**
 * Bearer tokens that {@link TlsgateTestResources} configures in every service under test,
 * one per role, plus the services' enrolment token for cert-service's internal CA. Test-only
 * values, generated per JVM.
 */
public final class TestTokens {
    public static final String ADMIN = "test-admin-" + random();
    public static final String OPERATOR = "test-operator-" + random();
    public static final String READER = "test-reader-" + random();
    private static final String ENROLLMENT = "test-enrol-" + random();

    /** {@code service}'s enrolment token (tlsgate.internal-tls.enrollment-tokens.*): one per service, as cert-service demands. */
    public static String enrollment(String service) {
        return ENROLLMENT + "-" + service;
    }
    /** cert-service's master key for this test run (base64 of 32 random bytes). */
    public static final String MASTER_KEY = masterKey();
    /** cert-service's master key before a rotation: still configured, as an operator rotating keys would. */
    public static final String PREVIOUS_MASTER_KEY = masterKey();

    private static String masterKey() {
        byte[] b = new byte[32];
        new java.security.SecureRandom().nextBytes(b);
        return java.util.Base64.getEncoder().encodeToString(b);
    }

    private TestTokens() {}

    private static String random() {
        byte[] b = new byte[16];
        new java.security.SecureRandom().nextBytes(b);
        return java.util.HexFormat.of().formatHex(b);
    }

    /** {@code Bearer <token>}, for an Authorization header. */
    public static String bearer(String token) {
        return "Bearer " + token;
    }
}
