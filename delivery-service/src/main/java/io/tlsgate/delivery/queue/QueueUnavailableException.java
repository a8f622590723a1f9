package io.tlsgate.delivery.queue;

/** The queue's database cannot be reached or refused a write: a temporary failure. */
public class QueueUnavailableException extends RuntimeException {
    public QueueUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
