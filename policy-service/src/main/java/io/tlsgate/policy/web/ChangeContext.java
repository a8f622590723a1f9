package io.tlsgate.policy.web;

/**
 * Who makes a change and why: the authenticated principal and the operator's optional
 * comment (REST header {@code X-Change-Comment}), recorded in the audit log.
 */
public record ChangeContext(String principal, String comment) {

    /** Longest comment kept. */
    public static final int MAX_COMMENT = 1000;
}
