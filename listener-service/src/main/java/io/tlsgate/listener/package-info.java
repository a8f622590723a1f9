/**
 * listener-service: the SMTP server(s). Accepts client connections, applies the inbound
 * policy from policy-service (sender groups, mail flow policies, STARTTLS with the
 * certificate of slot {@code listener:<name>} from cert-service) and hands each accepted
 * message to delivery-service, answering 250 only after delivery-service committed it.
 * Owns nothing durable about mail; its schema only records running replicas. Security: the
 * internet-facing service; never an open relay, never stalled by garbage on a socket.
 */
package io.tlsgate.listener;
