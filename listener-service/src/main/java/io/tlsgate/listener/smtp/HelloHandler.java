package io.tlsgate.listener.smtp;

import java.util.Set;

/**
 * EHLO and HELO: a new greeting ends any transaction. EHLO lists the extensions: SIZE,
 * PIPELINING, 8BITMIME, ENHANCEDSTATUSCODES, STARTTLS while TLS is not active and the mail
 * flow policy offers it, and REQUIRETLS (RFC 8689) once TLS is active (never in plaintext). No SMTPUTF8 (RFC 6531): delivery-service cannot send a UTF-8 envelope
 * on yet, so non-ASCII addresses are refused at MAIL/RCPT instead of accepted and bounced.
 */
final class HelloHandler implements CommandHandler {

    @Override
    public Set<String> verbs() {
        return Set.of("EHLO", "HELO");
    }

    @Override
    public Answer handle(SessionState s, String verb, String arg) {
        if (arg.isEmpty()) {
            return Answer.error(Reply.HELO_SYNTAX, verb);
        }
        s.resetTransaction();
        s.helo = arg;
        s.esmtp = verb.equals("EHLO");
        if (!s.esmtp) {
            return Answer.reply(Reply.HELO, s.listener.getHostname());
        }
        StringBuilder out = new StringBuilder(128).append("250-").append(s.listener.getHostname())
                .append("\r\n250-SIZE ").append(s.listener.getMaxMessageSizeBytes())
                .append("\r\n250-PIPELINING\r\n250-8BITMIME\r\n250");
        if (s.tlsSetting.advertisesStartTls() && !s.tls.active) {
            out.append("-ENHANCEDSTATUSCODES\r\n250 STARTTLS");
        } else if (s.tls.active) {
            out.append("-ENHANCEDSTATUSCODES\r\n250 REQUIRETLS");
        } else {
            out.append(" ENHANCEDSTATUSCODES");
        }
        return new Answer.Say(out.toString(), false, Answer.Then.READ);
    }
}
