#!/usr/bin/env bash
# "The delivery-service heap stays bounded while a peer streams replies for a minute"
# (Mail path safety). Starts devstack at a port offset in a temporary data directory and a
# hostile SMTP server on 127.0.0.1 (HostilePeerBench), routes the domain hostile.bench to it,
# enqueues messages for it over gRPC for 60 s per variant (A: endless 250- lines, B: one
# endless line, C: a 250- line every 200 ms) and samples delivery-service's heap
# (/q/metrics), RSS (ps), the bytes and connections of the server and the mail log every
# second; live heap before/after each variant with jcmd GC.class_histogram. Stops everything
# it started and deletes its temporary directory. Output: bench/results/hostile-peer-<date>.txt
#
# Usage: bench/run-hostile-peer.sh
#   HOSTILE_PORT_OFFSET  devstack --port-offset (default 7000: ports 22432, 26092-26093, 15081-15084, 9525;
#                        the cluster tests use 1000-4000)
#   HOSTILE_SECONDS      seconds per variant (default 60)
#   HOSTILE_RATE         messages enqueued per second while a variant runs (default 20)
#   HOSTILE_VARIANTS     which variants, in order (default ABC)
#   HOSTILE_JAVA_OPTS    JVM options of the services (default: devstack's own default)
#   HOSTILE_SKIP_BUILD=1 use the jars already built
set -euo pipefail
bench="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$bench/.." && pwd)"
offset="${HOSTILE_PORT_OFFSET:-7000}"
seconds="${HOSTILE_SECONDS:-60}"
rate="${HOSTILE_RATE:-20}"
variants="${HOSTILE_VARIANTS:-ABC}"
out="$bench/results"
result="$out/hostile-peer-$(date -u +%Y-%m-%d-%H%M).txt"
work="$(mktemp -d /tmp/tlsgate-hostile-XXXXXX)"
# Stops devstack (and kills what it left running from its data directory) and deletes $work on exit.
. "$bench/lib.sh"

if [ "${HOSTILE_SKIP_BUILD:-}" != 1 ]; then
  (cd "$root" && ./mvnw -B -q install -DskipTests)
  (cd "$bench" && ../mvnw -B -q package)
fi
cp_="$bench/target/tlsgate-bench-0.1.0-SNAPSHOT.jar:$(cat "$bench/target/classpath.txt")"

devstack_start "$work/devstack" "$offset" "${HOSTILE_JAVA_OPTS:-}"
# devstack/run -> the DevStack JVM -> the services; delivery-service is the one running its jar.
stack=$(pgrep -P "$devstack_pid" -f io.tlsgate.devstack.DevStack)
pid=$(pgrep -P "$stack" -f "$root/delivery-service/target/quarkus-app/quarkus-run.jar")
# Two stacks started at the same moment on the same offset both pass devstack's port check; make
# sure the delivery-service answering on the port is this one.
owner=$(ss -ltnpH "sport = :$((8083 + offset))" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
if [ "$owner" != "$pid" ]; then
  echo "port $((8083 + offset)) belongs to pid ${owner:-none}, not to this stack's delivery-service ($pid): pick another HOSTILE_PORT_OFFSET"
  exit 1
fi

{
  echo "== bench/run-hostile-peer.sh (HOSTILE_PORT_OFFSET=$offset HOSTILE_SECONDS=$seconds HOSTILE_RATE=$rate HOSTILE_VARIANTS=$variants)"
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); commit $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- . ':!bench/results' ':!bench/README.md' || echo ' (with local changes)')"
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r), $(java -version 2>&1 | head -1)"
  echo "uptime before: $(uptime)"
  echo "delivery-service: pid $pid: $(ps -o args= -p "$pid" | sed 's/ -jar .*//')"
  java -cp "$cp_" io.tlsgate.bench.HostilePeerBench "$work/devstack" "$offset" "$pid" "$seconds" "$rate" "$variants"
  echo
  echo "uptime after: $(uptime)"
} 2>&1 | tee "$result"
kill -TERM "$devstack_pid"; wait "$devstack_pid" || true; devstack_pid=""
echo "devstack stopped; results in $result"
