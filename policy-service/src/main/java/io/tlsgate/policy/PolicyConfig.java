package io.tlsgate.policy;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;

/** policy-service settings ({@code tlsgate.policy.*}). */
@ConfigMapping(prefix = "tlsgate.policy")
public interface PolicyConfig {

    /**
     * How often each replica also polls the policy version, besides listening for the
     * change notification. Default: 5s.
     */
    @WithDefault("5s")
    Duration pollInterval();

    /** Largest JSON request body, in bytes. Default: 65536. */
    @WithDefault("65536")
    int maxJsonBody();

    /**
     * Largest JSON body of a request that carries a list (sender-group entries, the whole
     * recipient access table), in bytes. Default: 8388608 (8 MiB).
     */
    @WithDefault("8388608")
    int maxListBody();

    /** Largest import file, in bytes. Default: 67108864 (64 MiB). */
    @WithDefault("67108864")
    int maxImportBody();
}
