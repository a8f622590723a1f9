package io.tlsgate.platform.bounce;

import io.tlsgate.core.smtp.BounceTags;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Clock;
import java.time.LocalDate;
import java.util.List;
import java.util.Optional;

/**
 * The configured tagging keys as {@link BounceTags} (docs/bounce-verification.md). A bad key,
 * or {@code reject-untagged} without keys, stops the service at start with the reason.
 */
@ApplicationScoped
public class BounceVerification {

    private final Optional<BounceTags> tags;
    private final boolean rejectUntagged;
    private final Clock clock = Clock.systemUTC();

    @Inject
    BounceVerification(BounceVerificationConfig config) {
        this(config.keys().orElse(List.of()), config.validDays(), config.rejectUntagged());
    }

    private BounceVerification(List<String> keys, int validDays, boolean rejectUntagged) {
        try {
            this.tags = keys.isEmpty() ? Optional.empty() : Optional.of(BounceTags.of(keys, validDays));
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("tlsgate.bounce-verification.keys: " + e.getMessage());
        }
        if (rejectUntagged && tags.isEmpty()) {
            throw new IllegalStateException(
                    "tlsgate.bounce-verification.reject-untagged=true needs tlsgate.bounce-verification.keys");
        }
        this.rejectUntagged = rejectUntagged;
    }

    /** As configured by {@code tlsgate.bounce-verification.*}, for code that builds its parts itself. */
    public static BounceVerification of(List<String> keys, int validDays, boolean rejectUntagged) {
        return new BounceVerification(keys, validDays, rejectUntagged);
    }

    /** Whether keys are configured (without them nothing is tagged and tags are not checked). */
    public boolean enabled() {
        return tags.isPresent();
    }

    public boolean rejectUntagged() {
        return rejectUntagged;
    }

    /** {@code sender} tagged with today's tag; unchanged without keys. */
    public String tag(String sender) {
        return tags.map(t -> t.tag(sender, today())).orElse(sender);
    }

    /** {@code recipient} checked against today's date; UNTAGGED without keys. */
    public BounceTags.Checked check(String recipient) {
        return tags.map(t -> t.check(recipient, today())).orElse(new BounceTags.Checked(BounceTags.Verdict.UNTAGGED, recipient));
    }

    private LocalDate today() {
        return LocalDate.now(clock);
    }
}
