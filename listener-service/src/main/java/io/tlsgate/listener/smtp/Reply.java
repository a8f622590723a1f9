package io.tlsgate.listener.smtp;

/**
 * Every reply the SMTP server sends, with its RFC 3463 enhanced status code (the greeting
 * and the EHLO lines carry none, as RFC 2034 says). {@code %s} are filled in by {@link #text}.
 * docs/listener.md lists them; the dialogue tests expect exactly these.
 */
public enum Reply {
    GREETING(220, null, "%s ESMTP tlsgate"),
    REJECTED_GREETING(554, "5.7.1", "%s Access denied"),
    REJECTED_COMMAND(503, "5.5.1", "Error: access denied; only QUIT"),
    TOO_MANY_CONNECTIONS(421, "4.7.0", "%s Error: too many connections"),
    TOO_MANY_CONNECTIONS_FROM_CLIENT(421, "4.7.0", "%s Error: too many connections from %s"),
    POLICY_UNAVAILABLE(421, "4.3.0", "%s Error: policy temporarily unavailable, try again later"),
    HELO(250, null, "%s"),
    OK(250, "2.0.0", "Ok"),
    SENDER_OK(250, "2.1.0", "Ok"),
    RECIPIENT_OK(250, "2.1.5", "Ok"),
    QUEUED(250, "2.0.0", "Ok: queued as %s"),
    START_DATA(354, null, "End data with <CR><LF>.<CR><LF>"),
    BYE(221, "2.0.0", "Bye"),
    READY_FOR_TLS(220, "2.0.0", "Ready to start TLS"),
    VRFY_DISABLED(502, "5.5.1", "VRFY command is disabled"),
    EXPN_DISABLED(502, "5.5.1", "EXPN command is disabled"),
    HELP(214, "2.0.0", "See RFC 5321"),
    UNKNOWN_COMMAND(500, "5.5.2", "Error: command not recognized"),
    LINE_TOO_LONG(500, "5.5.2", "Error: line too long"),
    BARE_LF(550, "5.5.2", "Error: bare <LF> received"),
    BARE_CR(550, "5.5.2", "Error: bare <CR> received"),
    NOT_IMPLEMENTED(502, "5.5.1", "Error: command not implemented"),
    HELO_SYNTAX(501, "5.5.4", "Syntax: %s hostname"),
    MAIL_SYNTAX(501, "5.5.4", "Syntax: MAIL FROM:<address>"),
    RCPT_SYNTAX(501, "5.5.4", "Syntax: RCPT TO:<address>"),
    BAD_ADDRESS(501, "5.1.7", "Bad sender address syntax"),
    BAD_RECIPIENT(501, "5.1.3", "Bad recipient address syntax"),
    NO_ARGUMENTS(501, "5.5.4", "Syntax: %s"),
    UNSUPPORTED_PARAMETER(555, "5.5.4", "Unsupported option: %s"),
    NON_ASCII_ADDRESS(553, "5.6.7", "Error: non-ASCII addresses are not supported"),
    NEED_HELO(503, "5.5.1", "Error: send HELO/EHLO first"),
    NESTED_MAIL(503, "5.5.1", "Error: nested MAIL command"),
    NEED_MAIL(503, "5.5.1", "Error: need MAIL command"),
    NEED_RCPT(503, "5.5.1", "Error: need RCPT command"),
    MUST_STARTTLS(530, "5.7.0", "Must issue a STARTTLS command first"),
    STARTTLS_SYNTAX(501, "5.5.4", "Syntax: STARTTLS"),
    TLS_ALREADY_ACTIVE(503, "5.5.1", "Error: TLS already active"),
    TLS_NOT_OFFERED(502, "5.5.1", "Error: command not implemented"),
    TLS_NOT_AVAILABLE(454, "4.7.0", "TLS not available due to temporary reason"),
    RELAY_DENIED(550, "5.7.1", "<%s>: Relay access denied"),
    BOUNCE_TAG_INVALID(550, "5.7.1", "<%s>: bounce verification failed: the address tag is invalid or expired"),
    BOUNCE_UNTAGGED(550, "5.7.1", "<%s>: bounce verification failed: bounces are accepted only for tagged addresses"),
    TOO_MANY_RECIPIENTS(452, "4.5.3", "Error: too many recipients"),
    TOO_MANY_MESSAGES(421, "4.7.0", "%s Error: too many messages in this session"),
    MESSAGE_TOO_BIG(552, "5.3.4", "Error: message size exceeds fixed limit"),
    LOOKUP_FAILED(451, "4.3.0", "Error: temporary failure, try again later"),
    QUEUE_UNAVAILABLE(451, "4.3.0", "Error: queue unavailable, message not accepted, try again later"),
    MESSAGE_REFUSED(554, "5.6.0", "Error: message refused: %s"),
    TOO_MANY_ERRORS(421, "4.7.0", "%s Error: too many errors"),
    IDLE_TIMEOUT(421, "4.4.2", "%s Error: timeout exceeded"),
    SESSION_TIMEOUT(421, "4.4.2", "%s Error: session time limit exceeded"),
    SHUTTING_DOWN(421, "4.3.2", "%s Service shutting down"),
    INTERNAL_ERROR(421, "4.3.0", "%s Error: local error, try again later");

    private final int code;
    private final String enhanced;
    private final String template;

    Reply(int code, String enhanced, String template) {
        this.code = code;
        this.enhanced = enhanced;
        this.template = template;
    }

    public int code() {
        return code;
    }

    /** The reply line without CRLF, e.g. {@code 550 5.7.1 <a@b>: Relay access denied}. */
    public String text(Object... args) {
        String t = args.length == 0 ? template : String.format(template, args);
        return code + " " + (enhanced == null ? "" : enhanced + " ") + t;
    }

    /** Whether the session ends after this reply. */
    public boolean closes() {
        return code == 421 || this == BYE || this == BARE_LF || this == BARE_CR;
    }
}
