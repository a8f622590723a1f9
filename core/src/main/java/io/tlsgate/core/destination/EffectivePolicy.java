package io.tlsgate.core.destination;

import java.util.Map;

/**
 * What applies to one destination: the entry that matched, every field's effective value
 * ({@code values} is complete), and which entry supplied each field (the matched key, or
 * {@code default} for the fields it leaves as "use default").
 */
public record EffectivePolicy(String matchedKey, DestinationSettings values, Map<DestinationField, String> sources) {

    public String sourceOf(DestinationField f) {
        return sources.get(f);
    }
}
