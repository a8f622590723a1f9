#!/usr/bin/env bash
# The mail path, side by side with Postfix in one run, alternating (tlsgate, then Postfix, per
# scenario), with the same load client (bench/SmtpLoad: Netty, BoringSSL, a few threads):
#   starttls-1    inbound, STARTTLS, one message per connection
#   starttls-50   inbound, STARTTLS, 50 messages per connection
#   plain-1       inbound, plaintext, one message per connection
#   handshake     inbound, greeting + EHLO + STARTTLS + handshake + EHLO + QUIT, no mail
#   end-to-end    inbound STARTTLS 50 per connection plus delivery to a loopback smtp-sink
#                 (plaintext), measured until the queue is empty
# Inbound-only scenarios hold what they accept (tlsgate: queued for the year 2100; Postfix:
# the hold queue), so delivery does not share the CPU; both commit before they say 250
# (PostgreSQL commit; Postfix's queue file fsync).
#
#   tlsgate   devstack/run (embedded PostgreSQL and Kafka, the four services), listener
#             `inbound` on 2525, RAT bench.test; delivery-service with its shipped JVM options
#             (C2 on, never devstack's fast-start flags), the others with JVM defaults.
#   Postfix   private instances from Debian's package: smtpd with STARTTLS, a certificate of
#             the same key type as the listener's; relayhost = the sink for end-to-end.
#
# Usage: bench/run-mailpath.sh [N]    (default 5000 messages per scenario)
#   Environment: BENCH_CONCURRENCY (16), BENCH_BODY (10240 bytes), BENCH_SCENARIOS (all five),
#                BENCH_JFR (0; 1: JFR recordings of listener- and delivery-service over the scenarios,
#                summarised by bench/JfrSummary into jfr-*.txt),
#                BENCH_PORT (30300: Postfix inbound; +1 end-to-end Postfix; +2 smtp-sink)
# Writes bench/results/mailpath-<date>-n<N>/ (raw lines, machine) and prints the table.
set -euo pipefail
N="${1:-5000}"
bench="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$bench/.." && pwd)"
stamp="$(date -u +%Y-%m-%d-%H%M)"
out="$bench/results/mailpath-$stamp-n$N"
work="$(mktemp -d /tmp/tlsgate-mailpath-bench-XXXXXX)"
chmod 755 "$work"
CONC="${BENCH_CONCURRENCY:-16}"
BODY="${BENCH_BODY:-10240}"
SCENARIOS="${BENCH_SCENARIOS:-starttls-1 starttls-50 plain-1 handshake end-to-end}"
PF_IN=$((${BENCH_PORT:-30300}))
PF_E2E=$((PF_IN + 1))
SINK=$((PF_IN + 2))
DOMAIN=bench.test
mkdir -p "$out"
. "$bench/lib.sh"

# Postfix and smtp-sink from Debian when missing (CI and these machines run as root).
if ! command -v postfix >/dev/null || ! command -v smtp-sink >/dev/null; then
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix >/dev/null
fi

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r), $(java -version 2>&1 | head -1)"
  echo "postfix: $(postconf -d -h mail_version 2>/dev/null), openssl: $(openssl version)"
  echo "git: $(git -C "$root" rev-parse --short HEAD)"
  echo "N=$N per scenario, $CONC concurrent sessions, body $BODY bytes; scenarios: $SCENARIOS; load at start: $(load)"
} | tee "$out/machine.txt"
for p in "$PF_IN" "$PF_E2E" "$SINK" 2525 8081 8083 8084; do port_free "$p" || { echo "port $p is in use"; exit 1; }; done

# ---------------------------------------------------------------- tlsgate
[ -f "$root/listener-service/target/quarkus-app/quarkus-run.jar" ] || (cd "$root" && ./mvnw -B -q install -DskipTests)
(cd "$bench" && ../mvnw -B -q package)
cp_="$bench/target/tlsgate-bench-0.1.0-SNAPSHOT.jar:$(cat "$bench/target/classpath.txt")"
data="$work/devstack"
cg_make tlsgate cg_tlsgate
cg_make client cg_client
log "devstack/run --java-opts shipped"
devstack_start "$data" 0 shipped "$cg_tlsgate"
lpid=$(service_pid listener-service); dpid=$(service_pid delivery-service)
H=(-sf -H "Authorization: Bearer $admin" -H 'Content-Type: application/json')
curl "${H[@]}" -d "{\"domain\":\"$DOMAIN\"}" https://localhost:8081/api/v1/rat -o /dev/null
# One client opens $CONC sessions at once, and a closed one may still count for a moment: the
# per-client limit as Postfix's default (smtpd_client_connection_count_limit = 50).
listener=$(curl "${H[@]}" https://localhost:8081/api/v1/listeners/inbound)
curl "${H[@]}" -X PUT -d "$(echo "$listener" | sed 's/"maxConnectionsPerClient":[0-9]*/"maxConnectionsPerClient":50/')" \
  https://localhost:8081/api/v1/listeners/inbound -o /dev/null
curl "${H[@]}" -d "{\"key\":\"$DOMAIN\",\"tls\":\"NONE\"}" https://localhost:8081/api/v1/destinations -o /dev/null
curl "${H[@]}" -d "{\"domain\":\"$DOMAIN\",\"hops\":[\"127.0.0.1:$SINK\"]}" https://localhost:8081/api/v1/smtp-routes -o /dev/null
psqlq() { PGPASSWORD="$dbpw" psql -h 127.0.0.1 -p 15432 -U tlsgate -d tlsgate -qtAX -v ON_ERROR_STOP=1 -c "$1"; }
hold() { psqlq "create or replace function delivery.bench_hold() returns trigger language plpgsql as \$\$ begin new.next_attempt_at := '2100-01-01'; return new; end \$\$;
                drop trigger if exists bench_hold on delivery.recipient;
                create trigger bench_hold before insert on delivery.recipient for each row execute function delivery.bench_hold();"; }
unhold() { psqlq "drop trigger if exists bench_hold on delivery.recipient"; }
state_count() { psqlq "select count(*) from delivery.recipient where state = '$1' and next_attempt_at < '2100-01-01'"; }
( while kill -0 "$lpid" 2>/dev/null; do echo "$(date +%s) $(ps -o rss= -p "$lpid") $(ps -o rss= -p "$dpid")"; sleep 1; done ) \
  > "$out/tlsgate-rss.txt" &
bg_pids+=($!)
# The key type of the listener's STARTTLS certificate, for Postfix's.
await_banner 2525
keyalg=$(openssl s_client -starttls smtp -connect 127.0.0.1:2525 </dev/null 2>/dev/null | openssl x509 -noout -text \
  | awk -F': ' '/Public Key Algorithm/ {print $2; exit}')
log "tlsgate up: listener pid $lpid, delivery pid $dpid; listener certificate key: $keyalg"

# ---------------------------------------------------------------- Postfix and the sink
case "$keyalg" in *id-ecPublicKey*) keyopts=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;; *) keyopts=(-newkey rsa:2048) ;; esac
openssl req -x509 "${keyopts[@]}" -nodes -days 2 -subj "/CN=mx.bench.test" -keyout "$work/pf.key" -out "$work/pf.crt" 2>/dev/null
chmod 600 "$work/pf.key"
smtp-sink -u postfix "127.0.0.1:$SINK" 1024 > "$work/smtp-sink.out" 2>&1 &
bg_pids+=($!)
for inst in in e2e; do
  d="$work/postfix-$inst"; port=$PF_IN; [ "$inst" = e2e ] && port=$PF_E2E
  pf_prepare "$d"
  {
    pf_common "$d" "postfix-$inst"
    cat <<EOF
relay_domains = $DOMAIN
smtpd_tls_security_level = may
smtpd_tls_cert_file = $work/pf.crt
smtpd_tls_key_file = $work/pf.key
relayhost = [127.0.0.1]:$SINK
smtp_tls_security_level = none
EOF
    # Inbound only: accepted mail waits in the hold queue.
    [ "$inst" = in ] && echo "smtpd_recipient_restrictions = check_recipient_access static:HOLD, permit_mynetworks, reject"
  } > "$d/etc/main.cf"
  { echo "127.0.0.1:$port inet n - n - - smtpd"; pf_master_common; } > "$d/etc/master.cf"
  cg_make "postfix-$inst" "cg_pf_$inst"
  cgv="cg_pf_$inst"; pf_start "$d" "${!cgv}"
  await_banner "$port"
done
await_banner "$SINK"
log "Postfix up: inbound $PF_IN (hold), end-to-end $PF_E2E -> smtp-sink $SINK"

# ---------------------------------------------------------------- runs
smtpload() { # port messages perConnection mode
  in_cg "$cg_client" java -Xmx256m -cp "$cp_" io.tlsgate.bench.SmtpLoad 127.0.0.1 "$1" "$2" "$CONC" "$3" "$4" "$BODY" "$DOMAIN" \
    2>> "$out/load-failures.txt"; }
field() { echo "$1" | grep -o "$2=[^ ]*" | cut -d= -f2; }
ms_per() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.2f", (n > 0 ? (b - a) / 1e6 / n : 0) }'; }
results="$out/results.txt"
: > "$results"
record() { # scenario who loadline cpu_server_ns cpu_client_ns seconds_override
  local acc; acc=$(field "$3" accepted)
  local rate="${6:-}"; [ -n "$rate" ] || rate=$(field "$3" rate)
  echo "$1 $2 rate=$rate accepted=$acc failed=$(field "$3" failed) p99_ms=$(field "$3" p99) server_ms_per_msg=$(ms_per 0 "$4" "$acc") client_ms_per_msg=$(ms_per 0 "$5" "$acc")" \
    | tee -a "$results"
}
run_inbound() { # scenario perConnection mode
  local line c0 c1 k0 k1
  hold
  c0=$(cg_usage "$cg_tlsgate"); k0=$(cg_usage "$cg_client"); p0=$(cpu_parts "$cg_tlsgate")
  line=$(smtpload 2525 "$N" "$2" "$3"); echo "tlsgate $1: $line" >> "$out/raw.txt"
  c1=$(cg_usage "$cg_tlsgate"); k1=$(cg_usage "$cg_client"); p1=$(cpu_parts "$cg_tlsgate")
  record "$1" tlsgate "$line" $((c1 - c0)) $((k1 - k0))
  echo "$1 tlsgate CPU ms/msg by part: $(cpu_parts_per_msg "$p0" "$p1" "$(field "$line" accepted)")" | tee -a "$out/parts.txt"
  sleep 2
  c0=$(cg_usage "$cg_pf_in"); k0=$(cg_usage "$cg_client")
  line=$(smtpload "$PF_IN" "$N" "$2" "$3"); echo "postfix $1: $line" >> "$out/raw.txt"
  c1=$(cg_usage "$cg_pf_in"); k1=$(cg_usage "$cg_client")
  record "$1" postfix "$line" $((c1 - c0)) $((k1 - k0))
  sleep 2
}
run_e2e() {
  local line c0 c1 k0 k1 t0 t1 d0
  unhold
  d0=$(state_count DELIVERED)
  c0=$(cg_usage "$cg_tlsgate"); k0=$(cg_usage "$cg_client"); t0=$(now); p0=$(cpu_parts "$cg_tlsgate")
  line=$(smtpload 2525 "$N" 50 starttls); echo "tlsgate end-to-end: $line" >> "$out/raw.txt"
  for _ in $(seq 1 1200); do [ "$(state_count QUEUED)" = 0 ] && break; sleep 0.2; done
  t1=$(now); c1=$(cg_usage "$cg_tlsgate"); k1=$(cg_usage "$cg_client"); p1=$(cpu_parts "$cg_tlsgate")
  echo "end-to-end tlsgate CPU ms/msg by part: $(cpu_parts_per_msg "$p0" "$p1" "$N")" | tee -a "$out/parts.txt"
  log "tlsgate end-to-end: $(( $(state_count DELIVERED) - d0 )) delivered to the sink"
  record end-to-end tlsgate "$line" $((c1 - c0)) $((k1 - k0)) "$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')"
  sleep 2
  c0=$(cg_usage "$cg_pf_e2e"); k0=$(cg_usage "$cg_client"); t0=$(now)
  line=$(smtpload "$PF_E2E" "$N" 50 starttls); echo "postfix end-to-end: $line" >> "$out/raw.txt"
  while [ "$(pf_queued "$work/postfix-e2e")" -gt 0 ]; do sleep 0.2; done
  t1=$(now); c1=$(cg_usage "$cg_pf_e2e"); k1=$(cg_usage "$cg_client")
  record end-to-end postfix "$line" $((c1 - c0)) $((k1 - k0)) "$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')"
}
# Warm-up, unmeasured: the JIT compiles the path once (a restarted replica's first minutes are slower).
log "warm-up: $N messages, STARTTLS, 50 per connection, to each (unmeasured)"
hold
smtpload 2525 "$N" 50 starttls > "$out/warmup.txt"; smtpload "$PF_IN" "$N" 50 starttls >> "$out/warmup.txt"
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
if [ "${BENCH_JFR:-0}" = 1 ]; then
  for p in "$lpid" "$dpid"; do jcmd "$p" JFR.start name=bench settings=profile > /dev/null; done
fi
l0=$(ticks "$lpid"); d0=$(ticks "$dpid")
for s in $SCENARIOS; do
  log "scenario $s"
  case "$s" in
    starttls-1) run_inbound "$s" 1 starttls ;;
    starttls-50) run_inbound "$s" 50 starttls ;;
    plain-1) run_inbound "$s" 1 plain ;;
    handshake) run_inbound "$s" 1 handshake ;;
    end-to-end) run_e2e ;;
    *) echo "unknown scenario $s"; exit 2 ;;
  esac
done
echo "CPU over the scenarios (both servers' runs): listener-service $(( ($(ticks "$lpid") - l0) * 10 )) ms, delivery-service $(( ($(ticks "$dpid") - d0) * 10 )) ms" | tee -a "$results"
if [ "${BENCH_JFR:-0}" = 1 ]; then
  for p in listener:"$lpid" delivery:"$dpid"; do
    jcmd "${p#*:}" JFR.stop name=bench filename="$work/${p%%:*}.jfr" > /dev/null
    java -cp "$cp_" io.tlsgate.bench.JfrSummary "$work/${p%%:*}.jfr" 40 > "$out/jfr-${p%%:*}.txt" 2>&1 || true
  done
fi
awk '{ print $2 }' "$out/tlsgate-rss.txt" | sort -n | tail -1 | awk '{ printf "listener-service RSS peak: %d MB\n", $1 / 1024 }' | tee -a "$results"
awk '{ print $3 }' "$out/tlsgate-rss.txt" | sort -n | tail -1 | awk '{ printf "delivery-service RSS peak: %d MB\n", $1 / 1024 }' | tee -a "$results"
{
  echo
  echo "| scenario | tlsgate msg/s | Postfix msg/s | ratio | p99 connection ms (tlsgate / Postfix) | server CPU ms/msg (tlsgate whole devstack / Postfix) | failed (tlsgate / Postfix) |"
  echo "|---|---|---|---|---|---|---|"
  for s in $SCENARIOS; do
    t=$(grep "^$s tlsgate " "$results"); p=$(grep "^$s postfix " "$results")
    tr_=$(field "$t" rate); pr=$(field "$p" rate)
    echo "| $s | $tr_ | $pr | $(awk -v a="$tr_" -v b="$pr" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }') | $(field "$t" p99_ms) / $(field "$p" p99_ms) | $(field "$t" server_ms_per_msg) / $(field "$p" server_ms_per_msg) | $(field "$t" failed) / $(field "$p" failed) |"
  done
} | tee "$out/table.md"
log "results in $out"
