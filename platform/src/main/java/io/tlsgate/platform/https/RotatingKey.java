package io.tlsgate.platform.https;

import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * A server key manager whose key and chain can be replaced at any time: each new handshake
 * gets the current one. Each version has its own alias, so a handshake that chose the previous
 * one just before a switch still finds it.
 */
final class RotatingKey extends X509ExtendedKeyManager {

    private record Version(String alias, PrivateKey key, X509Certificate[] chain) {}

    private volatile Version current;
    private volatile Version previous;

    void use(PrivateKey key, X509Certificate[] chain, long revision) {
        previous = current;
        current = new Version("rest-" + revision + "-" + chain[0].getSerialNumber().toString(16), key, chain.clone());
    }

    X509Certificate leaf() {
        Version v = current;
        return v == null ? null : v.chain()[0];
    }

    private Version byAlias(String alias) {
        Version c = current;
        if (c != null && c.alias().equals(alias)) {
            return c;
        }
        Version p = previous;
        return p != null && p.alias().equals(alias) ? p : null;
    }

    private String alias() {
        Version c = current;
        return c == null ? null : c.alias();
    }

    @Override
    public String[] getClientAliases(String keyType, Principal[] issuers) {
        return null;
    }

    @Override
    public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
        return null;
    }

    @Override
    public String[] getServerAliases(String keyType, Principal[] issuers) {
        String a = alias();
        return a == null ? null : new String[] {a};
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
