package io.tlsgate.platform.bounce;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.util.List;
import java.util.Optional;

/**
 * Bounce address tagging (docs/bounce-verification.md), the same in delivery-service (which
 * tags) and listener-service (which verifies):
 *
 * <pre>
 * tlsgate.bounce-verification.keys=2:base64secret,1:base64secret  # first tags, all verify; secret
 * tlsgate.bounce-verification.valid-days=7                        # how long a tag is good
 * tlsgate.bounce-verification.reject-untagged=false               # listener: refuse untagged bounces
 * </pre>
 */
@ConfigMapping(prefix = "tlsgate.bounce-verification")
public interface BounceVerificationConfig {

    /** The tagging keys, {@code K:base64-secret}; none: nothing is tagged or verified. */
    Optional<List<String>> keys();

    /** Days a tag stays good (1..365). Default: 7. */
    @WithDefault("7")
    int validDays();

    /** Whether the listener refuses a bounce (null sender) to an untagged address. Default: false. */
    @WithDefault("false")
    boolean rejectUntagged();
}
