package io.tlsgate.policy.bounce;

/**
 * A bounce profile (docs/delivery.md): how long and how often a temporarily failing message is
 * retried, with exponential back-off from the initial to the maximum retry interval, and
 * which notices go to the sender: hard bounces, and delay warnings (the first once a message
 * has waited {@code delayWarningIntervalSeconds}, then at most that often, at most
 * {@code maxDelayWarnings} per recipient).
 */
public record BounceProfile(String name, int maxRetries, int maxTimeInQueueSeconds, int initialRetrySeconds,
        int maxRetrySeconds, boolean sendHardBounces, boolean sendDelayWarnings, int delayWarningIntervalSeconds,
        int maxDelayWarnings) {

    public static final int DEFAULT_DELAY_WARNING_INTERVAL = 14_400;
    public static final int MAX_DELAY_WARNING_INTERVAL = 7 * 86_400;
    public static final int MAX_DELAY_WARNINGS = 100;

    public static final String DEFAULT = "default";
    public static final int MAX_RETRIES = 10_000;
    public static final int MIN_QUEUE_SECONDS = 60;
    public static final int MAX_QUEUE_SECONDS = 30 * 86_400;
    public static final int MIN_RETRY_SECONDS = 60;
    public static final int MAX_RETRY_SECONDS = 86_400;
}
