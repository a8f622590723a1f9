/**
 * delivery-service: owns the durable queue. Accepts messages from listener-service over gRPC
 * {@code tlsgate.delivery.v1.DeliveryService/Enqueue} (answering only after the message is
 * committed to PostgreSQL) and delivers them over SMTP with the six
 * outbound TLS modes, calling policy-service and cert-service over gRPC, DNS and remote MTAs,
 * and publishing TLS outcome events and alerts to Kafka. Security: holds mail content and
 * decides whether it leaves encrypted; never falls back from a required TLS mode.
 */
package io.tlsgate.delivery;
