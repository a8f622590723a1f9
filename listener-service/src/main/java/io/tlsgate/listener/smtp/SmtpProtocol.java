package io.tlsgate.listener.smtp;

import io.tlsgate.platform.bounce.BounceVerification;
import java.util.List;

/** The handlers every session of the listener shares (they keep no per-session state), with their settings and upstream. */
record SmtpProtocol(SessionSettings settings, Upstream upstream, GreetingHandler greeting, SmtpCommands commands, DataHandler data) {

    static SmtpProtocol of(SessionSettings settings, Upstream upstream, BounceVerification bounce) {
        DataHandler data = new DataHandler(upstream, settings.enqueueTimeout());
        SmtpCommands commands = new SmtpCommands(List.of(new HelloHandler(), new MailHandler(), new RcptHandler(upstream, bounce), data,
                new StartTlsHandler(upstream, settings)));
        return new SmtpProtocol(settings, upstream, new GreetingHandler(upstream), commands, data);
    }
}
