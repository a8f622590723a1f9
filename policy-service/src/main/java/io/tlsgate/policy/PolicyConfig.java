package io.tlsgate.policy;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/** policy-service settings ({@code tlsgate.policy.*}). */
@ConfigMapping(prefix = "tlsgate.policy")
public interface PolicyConfig {

    /** Largest page of audit entries one REST call returns. Default: 500. */
    @WithDefault("500")
    int auditMaxPage();
}
