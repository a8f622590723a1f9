package io.tlsgate.core.inbound;

/** What a mail flow policy does with a client (docs/inbound-policy.md). */
public enum Behaviour {
    /** Accept mail for recipient-access-table domains only. */
    ACCEPT,
    /** Accept mail for any recipient (the client is trusted to relay). */
    RELAY,
    /** Answer the greeting with 554 and refuse every command. */
    REJECT,
    /** Close the TCP connection without a greeting. */
    TCPREFUSE;

    /** Whether this behaviour lets the client send to domains outside the RAT. */
    public boolean relays() {
        return this == RELAY;
    }
}
