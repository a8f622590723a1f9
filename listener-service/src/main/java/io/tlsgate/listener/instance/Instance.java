package io.tlsgate.listener.instance;

import java.time.Instant;
import java.util.UUID;

/** A listener-service replica and whether its heartbeat is recent. */
public record Instance(UUID id, String host, Instant startedAt, Instant heartbeatAt, boolean alive, boolean self) {}
