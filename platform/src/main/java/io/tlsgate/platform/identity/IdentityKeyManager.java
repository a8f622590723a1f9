package io.tlsgate.platform.identity;

import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.function.Supplier;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * Presents the service's current identity in every new handshake, client and server side:
 * a renewed or re-read identity is used from the next handshake on, without a restart. The
 * previous version stays readable for a handshake that chose it just before the switch.
 */
final class IdentityKeyManager extends X509ExtendedKeyManager {

    private final Supplier<IdentityMaterial> current;
    private final Supplier<IdentityMaterial> previous;

    IdentityKeyManager(Supplier<IdentityMaterial> current, Supplier<IdentityMaterial> previous) {
        this.current = current;
        this.previous = previous;
    }

    private IdentityMaterial byAlias(String alias) {
        IdentityMaterial c = current.get();
        if (c != null && c.alias().equals(alias)) {
            return c;
        }
        IdentityMaterial p = previous.get();
        return p != null && p.alias().equals(alias) ? p : null;
    }

    private String alias() {
        IdentityMaterial c = current.get();
        return c == null ? null : c.alias();
    }

    @Override
    public String[] getClientAliases(String keyType, Principal[] issuers) {
        String a = alias();
        return a == null ? null : new String[] {a};
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
        return getClientAliases(keyType, issuers);
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
        IdentityMaterial m = byAlias(alias);
        return m == null ? null : m.chain().clone();
    }

    @Override
    public PrivateKey getPrivateKey(String alias) {
        IdentityMaterial m = byAlias(alias);
        return m == null ? null : m.key();
    }
}
