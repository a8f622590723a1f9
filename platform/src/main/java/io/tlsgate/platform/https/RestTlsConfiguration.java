package io.tlsgate.platform.https;

import io.quarkus.tls.TlsConfiguration;
import io.tlsgate.platform.tls.RotatingKeyManager;
import io.vertx.core.net.KeyCertOptions;
import io.vertx.core.net.SSLOptions;
import io.vertx.core.net.TrustOptions;
import java.security.KeyStore;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;

/** The TLS configuration of the REST port: the rotating key, TLS 1.3/1.2 and strong suites only, no client certificates. */
final class RestTlsConfiguration implements TlsConfiguration {

    private final RotatingKeyManager key;
    private final List<String> protocols;
    private final List<String> ciphers;

    RestTlsConfiguration(RotatingKeyManager key, List<String> protocols, List<String> ciphers) {
        this.key = key;
        this.protocols = List.copyOf(protocols);
        this.ciphers = List.copyOf(ciphers);
    }

    @Override
    public KeyStore getKeyStore() {
        return null;
    }

    @Override
    public KeyCertOptions getKeyStoreOptions() {
        return KeyCertOptions.wrap(key);
    }

    @Override
    public KeyStore getTrustStore() {
        return null;
    }

    @Override
    public TrustOptions getTrustStoreOptions() {
        return null;
    }

    @Override
    public SSLOptions getSSLOptions() {
        SSLOptions o = new SSLOptions();
        o.setKeyCertOptions(getKeyStoreOptions());
        o.setEnabledSecureTransportProtocols(new LinkedHashSet<>(protocols));
        ciphers.forEach(o::addEnabledCipherSuite);
        return o;
    }

    @Override
    public SSLContext createSSLContext() throws Exception {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(new KeyManager[] {key}, null, null);
        return ctx;
    }

    @Override
    public boolean isTrustAll() {
        return false;
    }

    @Override
    public Optional<String> getHostnameVerificationAlgorithm() {
        return Optional.empty();
    }

    @Override
    public boolean usesSni() {
        return false;
    }

    @Override
    public boolean reload() {
        return false;
    }

    @Override
    public String getName() {
        return RestTls.NAME;
    }
}
