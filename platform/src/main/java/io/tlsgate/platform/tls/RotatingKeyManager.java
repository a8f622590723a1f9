package io.tlsgate.platform.tls;

import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.function.Supplier;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * A key manager (client and server side) that presents whatever version of a key and chain
 * is current when a handshake starts: a renewed or re-assigned certificate is used from the
 * next handshake on, without a new SSL context or a restart. Each version has its own alias,
 * so a handshake that chose the previous one just before a switch still finds it. Used for
 * the services' internal identities and for the REST port's certificate.
 *
 * <p>Security-sensitive: hands out private keys to the TLS engine only.
 */
public final class RotatingKeyManager extends X509ExtendedKeyManager {

    /** One version of the key and chain (leaf first); {@code alias} unique per version. */
    public record Version(String alias, PrivateKey key, X509Certificate[] chain) {
        @Override
        public String toString() {
            return "Version[" + alias + "]";
        }
    }

    /** Holds the current and previous version for a {@link RotatingKeyManager}. */
    public static final class Holder {
        private volatile Version current;
        private volatile Version previous;

        /** Makes {@code next} current from the next handshake on. */
        public synchronized void use(Version next) {
            previous = current;
            current = next;
        }

        /** Makes {@code next} current only if there is none yet; whether it did. */
        public synchronized boolean useIfEmpty(Version next) {
            if (current != null) {
                return false;
            }
            use(next);
            return true;
        }

        public Version current() {
            return current;
        }

        public RotatingKeyManager manager() {
            return new RotatingKeyManager(() -> current, () -> previous);
        }
    }

    private final Supplier<Version> current;
    private final Supplier<Version> previous;

    /** Asks {@code current} (and {@code previous}, for a handshake under way) at every handshake. */
    public RotatingKeyManager(Supplier<Version> current, Supplier<Version> previous) {
        this.current = current;
        this.previous = previous;
    }

    private Version byAlias(String alias) {
        Version c = current.get();
        if (c != null && c.alias().equals(alias)) {
            return c;
        }
        Version p = previous.get();
        return p != null && p.alias().equals(alias) ? p : null;
    }

    private String alias() {
        Version c = current.get();
        return c == null ? null : c.alias();
    }

    private String[] aliases() {
        String a = alias();
        return a == null ? null : new String[] {a};
    }

    @Override
    public String[] getClientAliases(String keyType, Principal[] issuers) {
        return aliases();
    }

    @Override
    public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
        return alias();
    }

    @Override
    public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
        return alias();
    }

    @Override
    public String[] getServerAliases(String keyType, Principal[] issuers) {
        return aliases();
    }

    @Override
    public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
        return alias();
    }

    @Override
    public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
        return alias();
    }

    @Override
    public X509Certificate[] getCertificateChain(String alias) {
        Version v = byAlias(alias);
        return v == null ? null : v.chain().clone();
    }

    @Override
    public PrivateKey getPrivateKey(String alias) {
        Version v = byAlias(alias);
        return v == null ? null : v.key();
    }
}
