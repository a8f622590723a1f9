package io.tlsgate.delivery;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/** delivery-service settings ({@code tlsgate.delivery.*}). */
@ConfigMapping(prefix = "tlsgate.delivery")
public interface DeliveryConfig {

    /** Largest message accepted by Enqueue, in bytes. Default: 52428800 (50 MiB). */
    @WithDefault("52428800")
    int maxMessageSize();

    /** Required-TLS failure alerts for one domain and reason within this window are coalesced. Default: 15m. */
    @WithDefault("15m")
    java.time.Duration alertWindow();

    /** Most recipients of one message. Default: 1000. */
    @WithDefault("1000")
    int maxRecipients();
}
