package io.tlsgate.listener;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;

/** listener-service settings ({@code tlsgate.listener.*}). */
@ConfigMapping(prefix = "tlsgate.listener")
public interface ListenerConfig {

    /**
     * How often a replica records that it is alive. A replica is shown as not alive after
     * three missed heartbeats. Default: 30s.
     */
    @WithDefault("30s")
    Duration heartbeatInterval();
}
