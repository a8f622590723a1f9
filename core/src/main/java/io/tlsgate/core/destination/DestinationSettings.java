package io.tlsgate.core.destination;

import io.tlsgate.core.tls.OutboundTlsMode;
import java.util.regex.Pattern;

/**
 * The fields of a destination-control entry (docs/destination-controls.md). A null field means "use
 * default": the {@code default} entry supplies it, and the default entry itself has every
 * field set ({@link #isComplete()}). Ranges are checked here, so no out-of-range settings
 * object exists.
 */
public record DestinationSettings(
        OutboundTlsMode tls,
        Integer maxConcurrentConnections,
        Integer maxMessagesPerConnection,
        RecipientLimit recipientLimit,
        LimitsApplyPer limitsApplyPer,
        LimitsScope limitsScope,
        IpPreference ipPreference,
        Boolean bounceVerification,
        String bounceProfile,
        Boolean ignoreMtaSts,
        Boolean ignoreDane) {

    public static final int MAX_CONNECTIONS = 1000;
    public static final int MAX_MESSAGES = 1000;
    /** Bounce profile names: 1 to 64 of letters, digits, '.', '_' and '-'. */
    public static final Pattern PROFILE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    /** The default entry's factory values. */
    public static final DestinationSettings FACTORY_DEFAULT = new DestinationSettings(OutboundTlsMode.NONE, 500, 50,
            RecipientLimit.NONE, LimitsApplyPer.DOMAIN, LimitsScope.SYSTEM, IpPreference.IPV6_PREFERRED, false,
            "default", false, false);

    /** An entry that takes every field from the default entry. */
    public static final DestinationSettings ALL_DEFAULT =
            new DestinationSettings(null, null, null, null, null, null, null, null, null, null, null);

    /** Settings that leave {@code ignoreMtaSts} and {@code ignoreDane} to the default entry. */
    public DestinationSettings(OutboundTlsMode tls, Integer maxConcurrentConnections, Integer maxMessagesPerConnection,
            RecipientLimit recipientLimit, LimitsApplyPer limitsApplyPer, LimitsScope limitsScope, IpPreference ipPreference,
            Boolean bounceVerification, String bounceProfile) {
        this(tls, maxConcurrentConnections, maxMessagesPerConnection, recipientLimit, limitsApplyPer, limitsScope, ipPreference,
                bounceVerification, bounceProfile, null, null);
    }

    public DestinationSettings {
        if (maxConcurrentConnections != null && (maxConcurrentConnections < 1 || maxConcurrentConnections > MAX_CONNECTIONS)) {
            throw new InvalidSettingException(DestinationField.MAX_CONCURRENT_CONNECTIONS,
                    "must be between 1 and " + MAX_CONNECTIONS);
        }
        if (maxMessagesPerConnection != null && (maxMessagesPerConnection < 1 || maxMessagesPerConnection > MAX_MESSAGES)) {
            throw new InvalidSettingException(DestinationField.MAX_MESSAGES_PER_CONNECTION,
                    "must be between 1 and " + MAX_MESSAGES);
        }
        if (bounceProfile != null && !PROFILE_NAME.matcher(bounceProfile).matches()) {
            throw new InvalidSettingException(DestinationField.BOUNCE_PROFILE,
                    "must be 1 to 64 letters, digits, '.', '_' or '-'");
        }
    }

    /** Whether every field is set (required of the default entry). */
    public boolean isComplete() {
        for (DestinationField f : DestinationField.values()) {
            if (f.get(this) == null) {
                return false;
            }
        }
        return true;
    }

    /** A field that is out of range or malformed; names the field. */
    public static final class InvalidSettingException extends IllegalArgumentException {
        private final DestinationField field;

        public InvalidSettingException(DestinationField field, String message) {
            super(field.jsonName() + ": " + message);
            this.field = field;
        }

        public DestinationField field() {
            return field;
        }

        /** The reason without the field name. */
        public String reason() {
            return getMessage().substring(field.jsonName().length() + 2);
        }
    }
}
