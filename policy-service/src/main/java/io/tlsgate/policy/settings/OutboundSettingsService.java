package io.tlsgate.policy.settings;

import io.tlsgate.policy.bounce.BounceProfile;
import io.tlsgate.policy.bounce.BounceProfileStore;
import io.tlsgate.policy.change.PolicyTransactions;
import io.tlsgate.policy.resolve.PolicyVersionStore;
import io.tlsgate.policy.web.ChangeContext;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.List;

/** The global outbound settings: read, changed field by field (audited), and handed to delivery-service. */
@ApplicationScoped
public class OutboundSettingsService {

    /** What delivery-service needs in one consistent read: the settings, every bounce profile, the policy version. */
    public record ForDelivery(OutboundSettings settings, List<BounceProfile> bounceProfiles, long version) {}

    private final PolicyTransactions tx;
    private final OutboundSettingsStore store;
    private final BounceProfileStore profiles;
    private final PolicyVersionStore versions;

    OutboundSettingsService(PolicyTransactions tx, OutboundSettingsStore store, BounceProfileStore profiles,
            PolicyVersionStore versions) {
        this.tx = tx;
        this.store = store;
        this.profiles = profiles;
        this.versions = versions;
    }

    public OutboundSettings get() {
        return tx.read((c, a) -> store.read(c));
    }

    /** Changes the fields given (not null) and keeps the others. */
    public OutboundSettings update(Boolean alertOnRequiredTlsFailure, String certificateSlot,
            OutboundSettings.TrustedCaMode trustedCaMode, ChangeContext who) {
        return tx.change(who, (c, audit) -> {
            OutboundSettings before = store.read(c);
            OutboundSettings after = new OutboundSettings(
                    alertOnRequiredTlsFailure != null ? alertOnRequiredTlsFailure : before.alertOnRequiredTlsFailure(),
                    certificateSlot != null ? certificateSlot : before.certificateSlot(),
                    trustedCaMode != null ? trustedCaMode : before.trustedCaMode());
            store.update(c, after);
            audit.record("update", "settings:outbound", before, after);
            return after;
        });
    }

    /** The settings with every bounce profile and the version they belong to. */
    public ForDelivery forDelivery() {
        return tx.read((c, a) -> new ForDelivery(store.read(c), profiles.all(c), versions.version(c)));
    }
}
