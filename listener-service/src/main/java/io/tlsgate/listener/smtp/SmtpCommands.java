package io.tlsgate.listener.smtp;

import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The command phase of a session: finds the handler of a command line and applies what holds
 * for every command first (a rejected client may only QUIT; where TLS is required, only
 * EHLO, HELO, NOOP, RSET, QUIT and STARTTLS come before it). Also handles the commands that
 * need no handler of their own (RSET, NOOP, QUIT, VRFY, EXPN, HELP, and the ones not
 * implemented). Stateless: one for all sessions.
 */
final class SmtpCommands {

    private static final Set<String> BEFORE_TLS = Set.of("EHLO", "HELO", "NOOP", "RSET", "QUIT", "STARTTLS");
    private static final Set<String> NOT_IMPLEMENTED = Set.of("AUTH", "BDAT", "ETRN", "TURN", "ATRN", "SEND", "SOML", "SAML");

    private final Map<String, CommandHandler> handlers = new HashMap<>();

    SmtpCommands(List<CommandHandler> handlers) {
        for (CommandHandler h : handlers) {
            for (String verb : h.verbs()) {
                if (this.handlers.putIfAbsent(verb, h) != null) {
                    throw new IllegalArgumentException("two handlers for " + verb);
                }
            }
        }
    }

    /** The answer to one command line (without its CRLF). */
    Answer command(SessionState s, String line) {
        String verb = verb(line);
        if (s.phase == SessionState.Phase.REJECTED) {
            return verb.equals("QUIT") ? Answer.reply(Reply.BYE) : Answer.error(Reply.REJECTED_COMMAND);
        }
        String arg = line.length() > verb.length() ? line.substring(verb.length()).trim() : "";
        if (s.tlsSetting.requiresTls() && !s.tls.active && !BEFORE_TLS.contains(verb)) {
            if (!s.requiredLogged) {
                s.requiredLogged = true;
                MailLog.tlsRequiredNotStarted(s);
            }
            return Answer.error(Reply.MUST_STARTTLS);
        }
        CommandHandler h = handlers.get(verb);
        if (h != null) {
            return h.handle(s, verb, arg);
        }
        return switch (verb) {
            case "RSET" -> {
                if (!arg.isEmpty()) {
                    yield Answer.error(Reply.NO_ARGUMENTS, "RSET");
                }
                s.resetTransaction();
                yield Answer.reply(Reply.OK);
            }
            case "NOOP" -> Answer.reply(Reply.OK);
            case "QUIT" -> Answer.reply(Reply.BYE);
            case "VRFY" -> Answer.reply(Reply.VRFY_DISABLED);
            case "EXPN" -> Answer.reply(Reply.EXPN_DISABLED);
            case "HELP" -> Answer.reply(Reply.HELP);
            default -> Answer.error(NOT_IMPLEMENTED.contains(verb) ? Reply.NOT_IMPLEMENTED : Reply.UNKNOWN_COMMAND);
        };
    }

    /** The command verb, upper case; "?" for anything longer than any verb. */
    static String verb(String line) {
        int sp = line.indexOf(' ');
        String v = sp < 0 ? line : line.substring(0, sp);
        return v.length() > 16 ? "?" : v.toUpperCase(Locale.ROOT);
    }
}
