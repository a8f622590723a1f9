package io.tlsgate.listener;

/**
 * Client-initiated TLS renegotiation is refused on the SMTP listeners (testssl.sh: "Secure
 * Client-Initiated Renegotiation VULNERABLE, potential DoS threat", CVE-2011-1473: each
 * renegotiation costs the server a full handshake and the client next to nothing).
 *
 * <p>On BoringSSL ({@code tlsgate.listener.tls-engine = openssl}, the default) a server never
 * renegotiates. On the JDK's own TLS engine (JSSE, {@code tls-engine = jdk} or where BoringSSL
 * cannot load) there is no per-engine switch for this: only the system property {@value #PROPERTY}, which the JDK reads
 * once, into a static final, when its server handshake code ({@code ServerHandshakeContext}) is
 * first loaded, i.e. at the first server-side handshake of the JVM. Set later it does nothing.
 * So it is set in three places, the first that runs wins and the others make sure:
 * <ol>
 *   <li>on the JVM's command line by whatever starts the service (devstack does);</li>
 *   <li>by {@link ListenerMain} before Quarkus starts (a production {@code java -jar});</li>
 *   <li>by {@code SmtpServers} before it binds any listener (dev mode and tests, where Quarkus
 *       has its own main), with a warning, since there it is late for anything else in the JVM
 *       that might already serve TLS.</li>
 * </ol>
 * TLS 1.3 has no renegotiation at all; this matters for TLS 1.2 sessions.
 */
public final class TlsRenegotiation {

    public static final String PROPERTY = "jdk.tls.rejectClientInitiatedRenegotiation";

    private TlsRenegotiation() {}

    /** Sets the property to {@code true}; returns what it was before (null when unset). */
    public static String refuseClientInitiated() {
        String before = System.getProperty(PROPERTY);
        System.setProperty(PROPERTY, "true");
        return before;
    }
}
