#!/usr/bin/env bash
# Makes the secrets of deploy/compose/compose.yaml once, in deploy/compose/secrets/ (0600, never
# committed): one properties file per service holding only what that service needs (its own
# enrolment token, cert-service every service's and the master key), the database password and
# an admin API token. Run again: existing files are kept. Rotation: docs/deploy.md.
set -euo pipefail
dir=${TLSGATE_COMPOSE_SECRETS:-$(cd "$(dirname "$0")" && pwd)/secrets}
mkdir -p "$dir"
chmod 0700 "$dir"
umask 077
rand() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
if [ -f "$dir/db-password" ]; then
  echo "secrets exist in $dir (delete them to make new ones)"
  exit 0
fi
db=$(rand); admin=$(rand); master=$(head -c 32 /dev/urandom | base64); bounce="1:$(head -c 32 /dev/urandom | base64)"
declare -A enrol
for s in policy-service cert-service delivery-service listener-service; do enrol[$s]=$(rand); done
printf "%s" "$db" > "$dir/db-password"
# Read by the PostgreSQL container after it dropped root; the directory (0700) guards it here.
chmod 0644 "$dir/db-password"
for s in policy-service cert-service delivery-service listener-service; do
  {
    echo "quarkus.datasource.password=$db"
    echo "tlsgate.auth.tokens.admin.token=$admin"
    echo "tlsgate.auth.tokens.admin.role=admin"
    if [ "$s" = cert-service ]; then
      for t in "${!enrol[@]}"; do echo "tlsgate.internal-tls.enrollment-tokens.$t=${enrol[$t]}"; done
      echo "tlsgate.cert.master-key=$master"
    else
      echo "tlsgate.internal-tls.enrollment-tokens.$s=${enrol[$s]}"
    fi
    if [ "$s" = delivery-service ] || [ "$s" = listener-service ]; then
      echo "tlsgate.bounce-verification.keys=$bounce"
    fi
  } > "$dir/$s.properties"
done
# The services run as 65532 and read their file from a bind mount.
chown 65532:65532 "$dir"/*.properties 2>/dev/null || chmod 0644 "$dir"/*.properties
echo "secrets written to $dir; admin token: $admin"
