package io.tlsgate.platform.audit;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/** The audit log's settings ({@code tlsgate.audit.*}). */
@ConfigMapping(prefix = "tlsgate.audit")
public interface AuditConfig {

    /** Largest {@code limit} of {@code GET /api/v1/audit}. Default: 500. */
    @WithDefault("500")
    int maxPage();
}
