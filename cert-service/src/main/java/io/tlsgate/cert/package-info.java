/**
 * cert-service: the only holder of private keys at rest. Owns key pairs, certificates, CSRs,
 * PKCS#12 import/export, the operator-added trusted CAs and the slot assignments
 * ({@code listener:<name>}, {@code outbound}, {@code https}). Serves REST to operators and
 * gRPC {@code tlsgate.cert.v1.CertService} to the other services; calls nothing; publishes
 * certificate expiry alerts to Kafka. Security: the most sensitive service; keys are
 * encrypted at rest, never logged, and served only over the authenticated internal channel.
 */
package io.tlsgate.cert;
