/**
 * policy-service: owns the operators' TLS policy (destination controls, listeners, sender
 * groups, mail flow policies, RAT, SMTP routes, bounce profiles, outbound settings) and the
 * audit log of every change. Serves REST {@code /api/v1/...} to operators and gRPC
 * {@code tlsgate.policy.v1.PolicyService} to delivery-service and listener-service; calls
 * nothing. Security: decides whether mail must be encrypted and verified, so every change is
 * authenticated, validated and audited; holds no secrets.
 */
package io.tlsgate.policy;
