package io.tlsgate.core.destination;

import java.util.function.Function;

/** The fields of {@link DestinationSettings}, with their JSON names, for per-field sources and errors. */
public enum DestinationField {
    TLS("tls", DestinationSettings::tls),
    MAX_CONCURRENT_CONNECTIONS("maxConcurrentConnections", DestinationSettings::maxConcurrentConnections),
    MAX_MESSAGES_PER_CONNECTION("maxMessagesPerConnection", DestinationSettings::maxMessagesPerConnection),
    RECIPIENT_LIMIT("recipientLimit", DestinationSettings::recipientLimit),
    LIMITS_APPLY_PER("limitsApplyPer", DestinationSettings::limitsApplyPer),
    LIMITS_SCOPE("limitsScope", DestinationSettings::limitsScope),
    IP_PREFERENCE("ipPreference", DestinationSettings::ipPreference),
    BOUNCE_VERIFICATION("bounceVerification", DestinationSettings::bounceVerification),
    BOUNCE_PROFILE("bounceProfile", DestinationSettings::bounceProfile),
    /** The escape hatch: the destination domain's MTA-STS policy is not applied. */
    IGNORE_MTA_STS("ignoreMtaSts", DestinationSettings::ignoreMtaSts),
    /** The escape hatch: the destination domain's DANE TLSA records are not applied. */
    IGNORE_DANE("ignoreDane", DestinationSettings::ignoreDane);

    private final String jsonName;
    private final Function<DestinationSettings, Object> getter;

    DestinationField(String jsonName, Function<DestinationSettings, Object> getter) {
        this.jsonName = jsonName;
        this.getter = getter;
    }

    public String jsonName() {
        return jsonName;
    }

    /** This field's value in {@code s}; null means "use default". */
    public Object get(DestinationSettings s) {
        return getter.apply(s);
    }

    /** The field with this JSON name, or null. */
    public static DestinationField byJsonName(String name) {
        for (DestinationField f : values()) {
            if (f.jsonName.equals(name)) {
                return f;
            }
        }
        return null;
    }
}
