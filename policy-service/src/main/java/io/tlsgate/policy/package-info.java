/**
 * policy-service: owns the operators' TLS policy (destination controls, and in later issues
 * listeners, sender groups, mail flow policies, RAT, routes, bounce profiles) and the audit
 * log of every change. Serves REST {@code /api/v1/...} to operators and gRPC
 * {@code tlsgate.policy.v1.PolicyService} to delivery-service and listener-service; calls
 * nothing. Security: decides whether mail must be encrypted and verified, so every change is
 * authenticated, validated and audited; holds no secrets.
 */
package io.tlsgate.policy;
