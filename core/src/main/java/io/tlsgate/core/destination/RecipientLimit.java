package io.tlsgate.core.destination;

/**
 * A destination's recipient rate limit: at most {@code recipients} recipients per
 * {@code perMinutes} minutes, or no limit at all ({@link #NONE}).
 */
public record RecipientLimit(boolean limited, int recipients, int perMinutes) {

    public static final int MAX_RECIPIENTS = 1_000_000_000;
    public static final int MAX_MINUTES = 60;
    public static final RecipientLimit NONE = new RecipientLimit(false, 0, 0);

    public RecipientLimit {
        if (limited) {
            if (recipients < 0 || recipients > MAX_RECIPIENTS) {
                throw new IllegalArgumentException("recipients must be between 0 and " + MAX_RECIPIENTS);
            }
            if (perMinutes < 1 || perMinutes > MAX_MINUTES) {
                throw new IllegalArgumentException("perMinutes must be between 1 and " + MAX_MINUTES);
            }
        } else if (recipients != 0 || perMinutes != 0) {
            throw new IllegalArgumentException("no limit carries no numbers");
        }
    }

    public static RecipientLimit of(int recipients, int perMinutes) {
        return new RecipientLimit(true, recipients, perMinutes);
    }

    @Override
    public String toString() {
        return limited ? recipients + "/" + perMinutes + "min" : "none";
    }
}
