package io.tlsgate.cert;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/** cert-service settings ({@code tlsgate.cert.*}). */
@ConfigMapping(prefix = "tlsgate.cert")
public interface CertConfig {

    /** Largest PEM document accepted in one upload, in bytes. Default: 65536. */
    @WithDefault("65536")
    int maxPemSize();
}
