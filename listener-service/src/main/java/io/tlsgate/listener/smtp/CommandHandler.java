package io.tlsgate.listener.smtp;

import java.util.Set;

/**
 * The handler of one or a few SMTP commands (as in Apache James' protocols-smtp): it reads and
 * changes the {@link SessionState} and answers; it never touches the socket.
 */
interface CommandHandler {

    /** The verbs it handles, upper case. */
    Set<String> verbs();

    /** Handles one command; {@code arg} is what follows the verb, trimmed. */
    Answer handle(SessionState s, String verb, String arg);
}
