#!/usr/bin/env bash
# Destination-control benchmarks (issue 4), side by side with Postfix:
#   1. JMH: in-process resolve on a 1,000,000-entry index (ResolveBenchmark).
#   2. The same 1,000,000 exact-domain lookups through tlsgate's BatchResolve and through
#      Postfix's `postmap -q - lmdb:TABLE` (both read keys on stdin and print answers).
#   3. gRPC: PolicyService/ResolveOutbound at 5,000 req/s for 30 s against a policy-service
#      started by devstack with a 100,000-entry table imported over REST.
# Results go to bench/results/. Installs Postfix from Debian when postmap is missing.
# Needs the ports of devstack free (8081-8084, 15432, 19092-19093).
# Usage: bench/run-policy.sh [all|jmh|postfix|grpc]   (default all)
set -euo pipefail
bench="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$bench/.." && pwd)"
out="$bench/results"
work="$(mktemp -d /tmp/tlsgate-bench-XXXXXX)"
what="${1:-all}"
part() { [ "$what" = all ] || [ "$what" = "$1" ]; }
mkdir -p "$out"

cd "$root" && ./mvnw -B -q install -DskipTests
cd "$bench" && ../mvnw -B -q package
cp_="$bench/target/tlsgate-bench-0.1.0-SNAPSHOT.jar:$(cat "$bench/target/classpath.txt")"
run() { java -cp "$cp_" "$@"; }

{ echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r), $(java -version 2>&1 | head -1)"; date -u; } > "$out/machine.txt"

# 1. JMH
if part jmh; then
run org.openjdk.jmh.Main ResolveBenchmark -rf text -rff "$out/jmh.txt" | tee "$out/jmh.log" | grep -E '^Resolve|p0.50|Benchmark' || true
fi

# 2. Postfix side by side
if part postfix; then
if ! command -v postmap >/dev/null; then
  apt-get update -qq
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postfix postfix-lmdb >/dev/null
fi
run io.tlsgate.bench.WriteTables "$work" 1000000 1000000
mkdir -p "$work/pfconf" && printf 'compatibility_level = 3.6\n' > "$work/pfconf/main.cf"
{
  /usr/bin/time -f "postmap lmdb build: wall %e s" postmap -c "$work/pfconf" lmdb:"$work/postfix-table"
  for i in 1 2 3; do
    echo "== run $i: postfix postmap -q - lmdb:postfix-table < queries (1,000,000 lookups)"
    /usr/bin/time -f "wall %e s, user %U s, max RSS %M KB" postmap -c "$work/pfconf" -q - lmdb:"$work/postfix-table" \
      < "$work/queries" > "$work/postfix.out"
    echo "== run $i: tlsgate BatchResolve 1000000 < queries (JVM start and index build included)"
    /usr/bin/time -f "wall %e s, user %U s, max RSS %M KB" java -Xmx3g -cp "$cp_" io.tlsgate.bench.BatchResolve 1000000 \
      < "$work/queries" > "$work/tlsgate.out"
  done
  # Same answers? Postfix levels map onto tlsgate modes (may covers both PREFERRED modes).
  paste "$work/postfix.out" "$work/tlsgate.out" | awk -F'\t' '{ok = ($1==$3) && (($2=="none"&&$4=="NONE")||($2=="may"&&($4=="PREFERRED"||$4=="PREFERRED_VERIFY"))||($2=="encrypt"&&$4=="REQUIRED")||($2=="verify"&&$4=="REQUIRED_VERIFY")||($2=="secure"&&$4=="REQUIRED_VERIFY_HOSTED_DOMAINS")); if (ok) a++; else b++} END {print "answers agree:", a+0, "disagree:", b+0}'
} 2>&1 | tee "$out/postfix-side-by-side.txt"
fi

# 3. gRPC load against a real policy-service
if part grpc; then
data="$work/devstack"
TLSGATE_DEV_SKIP_BUILD=1 "$root/devstack/run" --data-dir "$data" --java-opts "${BENCH_JAVA_OPTS:--Xms512m -Xmx512m}" > "$work/devstack.out" 2>&1 &
ds=$!
trap 'kill -TERM $ds 2>/dev/null; wait $ds 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do grep -q 'Press Ctrl-C' "$work/devstack.out" && break; sleep 1; done
admin=$(grep 'admin token' "$work/devstack.out" | awk '{print $3}')
export CURL_CA_BUNDLE="$data/https-ca.pem"
run io.tlsgate.bench.WriteTables "$work/grpc" 100000 1
{
  echo "policy-service JVM options: ${BENCH_JAVA_OPTS:--Xms512m -Xmx512m}; client: ${CLIENT_JAVA_OPTS:--Xms1g -Xmx1g}"
  /usr/bin/time -f "import of 100,000 entries over REST: wall %e s" \
    curl -sf -X POST -H "Authorization: Bearer $admin" -H 'Content-Type: text/plain' \
    --data-binary @"$work/grpc/destinations.ini" https://localhost:8081/api/v1/destinations/import -o /dev/null
  for i in 1 2 3; do
    echo "== run $i"
    java ${CLIENT_JAVA_OPTS:--Xms1g -Xmx1g} -cp "$cp_" io.tlsgate.bench.GrpcLoad localhost 8091 "$data/secrets.properties" 5000 30 100000
  done
} 2>&1 | tee "$out/grpc-5000rps.txt"
kill -TERM $ds; wait $ds || true; trap - EXIT
fi
echo "results in $out"
