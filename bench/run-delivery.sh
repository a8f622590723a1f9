#!/usr/bin/env bash
# Outbound delivery benchmark ("Delivery engine: throughput"), side by side with Postfix:
# N queued messages to one domain, delivered over STARTTLS to the same TLS sink on loopback,
# timed from release until the queue is empty.
#   sink     a private Postfix smtpd on 127.0.0.1 (STARTTLS with a self-signed certificate made
#            here with openssl, smtpd_tls_security_level = may) that passes each message to
#            smtp-sink through smtpd_proxy_filter: accepted and discarded, no queue file. Its
#            capacity alone is measured with smtp-source (plaintext: Debian 12's smtp-source
#            has no TLS).
#   postfix  a second private Postfix as the client: relayhost = the sink,
#            smtp_tls_security_level = encrypt, default concurrency; N messages put on hold
#            (smtp-source into its smtpd, check_recipient_access static:HOLD), released with
#            postsuper -H ALL + postqueue -f, timed until its queue directories are empty.
#            Twice: stock settings (smtp_tls_connection_reuse = no) and with
#            smtp_tls_connection_reuse = yes (tlsproxy).
#   tlsgate  devstack/run (JVM options: BENCH_JAVA_OPTS, see below), destination control
#            bench.test tls=REQUIRED, SMTP route bench.test -> 127.0.0.1:SINK_PORT, N messages
#            through gRPC Enqueue while a trigger holds them (next_attempt_at = infinity: the
#            scheduler runs but finds nothing due), released by one UPDATE, timed until
#            GET /api/v1/queue has nothing queued. RSS of delivery-service every second, a JFR
#            recording of the drain (BENCH_JFR_SECONDS, default 60) and the mail log timeline.
# Every process and temp directory it starts is stopped/removed at the end, devstack included.
# Needs the devstack ports free (8081-8084, 15432, 19092-19093) and SINK_PORT..SINK_PORT+2.
# Usage: bench/run-delivery.sh [N] [all|sink|postfix|tlsgate]     (default 20000 all)
# Environment: BENCH_JAVA_OPTS  JVM options of the services (default: shipped, i.e. devstack's
#                               --java-opts shipped: each service's deploy/jvm/<service>.options,
#                               the JVM's own defaults for a service without one; -Dx=y for JVM
#                               defaults everywhere: devstack needs a non-empty value)
#              BENCH_WARMUP     messages delivered (unmeasured) before the measured run: JIT
#                               warm-up (default 0: a cold service, as after a restart)
#              MSG_BODY         body bytes per message (default 1024)
#              SINK_KEY         the sink certificate's key: rsa (RSA-2048, default) or ec (ECDSA P-256)
#              BENCH_KEEP_JFR   a path to keep the drain's JFR recording at (it is not kept by default)
#              BENCH_PORT_OFFSET  devstack --port-offset (default 0)
#              BENCH_PER_CONNECTION  bench.test's maxMessagesPerConnection (default 50, the factory value;
#                               1: one message per connection, as Postfix without reuse)
#              BENCH_TLS_MODE, BENCH_ROUTE  tlsgate's TLS mode and route hop for bench.test (REQUIRED,
#                               127.0.0.1:SINK_PORT); 127.0.0.1:$((SINK_PORT+1)) is smtp-sink itself (plaintext)
#              SINK_PORT        sink port (default 30025; +1 smtp-sink, +2 Postfix client's smtpd)
#              BENCH_JFR_SECONDS, BENCH_JFR_DELAY  JFR recording length and start after release (60, 10);
#                               0 s: no recording (starting one costs the drain a few seconds)
set -euo pipefail
N="${1:-20000}"
what="${2:-all}"
part() { [ "$what" = all ] || [ "$what" = "$1" ]; }
bench="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$bench/.." && pwd)"
stamp="$(date -u +%Y-%m-%d-%H%M)"
out="$bench/results/delivery-$stamp-n$N"
work="$(mktemp -d /tmp/tlsgate-delivery-bench-XXXXXX)"
chmod 755 "$work" # the Postfix daemons (user postfix) reach their queues below it
SINK_PORT="${SINK_PORT:-30025}"
SMTPSINK_PORT=$((SINK_PORT + 1))
CLIENT_IN_PORT=$((SINK_PORT + 2))
MSG_BODY="${MSG_BODY:-1024}"
SINK_KEY="${SINK_KEY:-rsa}"
TLS_MODE="${BENCH_TLS_MODE:-REQUIRED}"
PER_CONNECTION="${BENCH_PER_CONNECTION:-50}"
ROUTE="${BENCH_ROUTE:-127.0.0.1:$SINK_PORT}"
JAVA_OPTS_SERVICES="${BENCH_JAVA_OPTS:-shipped}"
WARMUP="${BENCH_WARMUP:-0}"
JFR_SECONDS="${BENCH_JFR_SECONDS:-60}"
JFR_DELAY="${BENCH_JFR_DELAY:-10}"
DOMAIN=bench.test
mkdir -p "$out"

. "$bench/lib.sh"

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r), $(java -version 2>&1 | head -1)"
  echo "postfix: $(postconf -d -h mail_version 2>/dev/null), openssl: $(openssl version)"
  echo "git: $(git -C "$root" rev-parse --short HEAD) ($(git -C "$root" rev-parse --abbrev-ref HEAD))"
  echo "N=$N body=$MSG_BODY bytes, sink certificate key $SINK_KEY; load at start: $(load)"
} | tee "$out/machine.txt"

for p in "$SINK_PORT" "$SMTPSINK_PORT" "$CLIENT_IN_PORT"; do
  port_free "$p" || { echo "port $p is in use (set SINK_PORT)"; exit 1; }
done

# ---------------------------------------------------------------- the sink
sink="$work/sink"
cg_make sink cg_sink
pf_prepare "$sink"
case "$SINK_KEY" in
  rsa) keyopts=(-newkey rsa:2048) ;;
  ec) keyopts=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
  *) echo "SINK_KEY: rsa or ec"; exit 2 ;;
esac
openssl req -x509 "${keyopts[@]}" -nodes -days 2 -subj "/CN=sink.bench.test" \
  -addext "subjectAltName=DNS:sink.bench.test" -keyout "$work/sink.key" -out "$work/sink.crt" 2>/dev/null
chmod 600 "$work/sink.key"
{
  pf_common "$sink" sink
  cat <<EOF
smtpd_tls_security_level = may
smtpd_tls_cert_file = $work/sink.crt
smtpd_tls_key_file = $work/sink.key
smtpd_tls_loglevel = 1
# Every message goes on to smtp-sink as it is received (before-queue proxy): no queue file.
smtpd_proxy_filter = 127.0.0.1:$SMTPSINK_PORT
smtpd_proxy_timeout = 100s
EOF
} > "$sink/etc/main.cf"
{ echo "127.0.0.1:$SINK_PORT inet n - n - - smtpd"; pf_master_common; } > "$sink/etc/master.cf"
# exec: $! is smtp-sink itself, so that cleanup stops it.
if [ -n "$cg_sink" ]; then
  sh -c 'echo $$ > "$0/cgroup.procs"; exec smtp-sink -u postfix "$1" 1024' "$cg_sink" "127.0.0.1:$SMTPSINK_PORT" > "$work/smtp-sink.out" 2>&1 &
else
  smtp-sink -u postfix "127.0.0.1:$SMTPSINK_PORT" 1024 > "$work/smtp-sink.out" 2>&1 &
fi
bg_pids+=($!)
pf_start "$sink" "$cg_sink"
await_banner "$SINK_PORT"
await_banner "$SMTPSINK_PORT"
log "sink up: smtpd with STARTTLS on 127.0.0.1:$SINK_PORT -> smtp-sink on $SMTPSINK_PORT"

sink_lines() { wc -l < "$sink/maillog" 2>/dev/null || echo 0; }
# Sink log lines after offset $1: connections, TLS handshakes, messages, messages per connection.
sink_report() { # offset
  tail -n +"$(($1 + 1))" "$sink/maillog" | awk '
    / connect from /                    { conn++ }
    /TLS connection established from/   { tls++ }
    / disconnect from / { m = 0; if (match($0, / mail=[0-9]+/)) m = substr($0, RSTART + 6, RLENGTH - 6); mails += m; perconn[m]++
                          sub(/.* disconnect from [^ ]* /, ""); if (m > 1 || last == "") last = $0 }
    /proxy-accept: END-OF-MESSAGE/      { acc++ }
    /proxy-reject/                      { rej++ }
    END {
      printf "sink saw: %d connections, %d TLS handshakes, %d messages accepted, %d refused; ", conn, tls, acc, rej
      printf "MAIL commands per connection:"; for (k in perconn) printf " %s:%d", k, perconn[k]; printf "\n"
      printf "sink: commands of one connection: %s\n", last
    }'
}

if part sink; then
  log "swaks check of STARTTLS at the sink"
  swaks --server "127.0.0.1:$SINK_PORT" --tls --from sender@origin.test --to "user@$DOMAIN" --silent 2 \
    > "$out/sink-swaks.txt" 2>&1 && log "STARTTLS delivery to the sink: ok" || { log "swaks failed"; cat "$out/sink-swaks.txt"; exit 1; }
  n_src=$(( N < 20000 ? N : 20000 ))
  for sessions in 20 50; do
    off=$(sink_lines); c0=$(cg_usage "$cg_sink"); t0=$(now); l0=$(load)
    smtp-source -s "$sessions" -m "$n_src" -l "$MSG_BODY" -f sender@origin.test -t "user@$DOMAIN" "127.0.0.1:$SINK_PORT"
    t1=$(now); c1=$(cg_usage "$cg_sink"); sleep 1
    awk -v n="$n_src" -v s="$sessions" -v a="$t0" -v b="$t1" -v c="$(( (c1 - c0) / 1000000 ))" -v l0="$l0" -v l1="$(load)" 'BEGIN {
      printf "sink alone, smtp-source plaintext (no TLS in this smtp-source), %d sessions, one message per connection: %d msgs in %.1f s = %.0f msg/s; sink CPU %.2f ms/msg; load %s -> %s\n", s, n, b - a, n / (b - a), c / n, l0, l1 }' \
      | tee -a "$out/sink.txt"
    sink_report "$off" | tee -a "$out/sink.txt"
  done
fi

# ---------------------------------------------------------------- Postfix as the client
if part postfix; then
  for reuse in no yes; do
    client="$work/client-reuse-$reuse"
    cg_make "postfix-$reuse" cg_client
    pf_prepare "$client"
    {
      pf_common "$client" "client-$reuse"
      cat <<EOF
relayhost = [127.0.0.1]:$SINK_PORT
smtp_tls_security_level = encrypt
smtp_tls_loglevel = 1
smtp_tls_connection_reuse = $reuse
# Debian's default main.cf: TLS sessions are cached and resumed (tlsgate resumes them too).
smtp_tls_session_cache_database = btree:\${data_directory}/smtp_scache
# Held on arrival; released all at once by postsuper -H ALL.
smtpd_recipient_restrictions = check_recipient_access static:HOLD, permit_mynetworks, reject
EOF
    } > "$client/etc/main.cf"
    { echo "127.0.0.1:$CLIENT_IN_PORT inet n - n - - smtpd"; pf_master_common; } > "$client/etc/master.cf"
    pf_start "$client" "$cg_client"
    await_banner "$CLIENT_IN_PORT"
    log "postfix client (smtp_tls_connection_reuse = $reuse): queueing $N on hold"
    smtp-source -s 10 -d -m "$N" -l "$MSG_BODY" -f sender@origin.test -t "user@$DOMAIN" "127.0.0.1:$CLIENT_IN_PORT"
    for _ in $(seq 1 600); do [ "$(find "$client/queue/hold" -type f | wc -l)" -ge "$N" ] && break; sleep 1; done
    held=$(find "$client/queue/hold" -type f | wc -l)
    log "held: $held"
    off=$(sink_lines); cs0=$(cg_usage "$cg_sink"); cc0=$(cg_usage "$cg_client"); l0=$(load)
    ( while :; do echo "$(date +%s) $(cut -d' ' -f1 /proc/loadavg) $(pf_queued "$client")"; sleep 1; done ) > "$out/postfix-reuse-$reuse-queue.txt" &
    sampler=$!; bg_pids+=("$sampler")
    t0=$(now)
    postsuper -c "$client/etc" -H ALL 2>/dev/null
    postqueue -c "$client/etc" -f
    while [ "$(pf_queued "$client")" -gt 0 ]; do sleep 0.2; done
    t1=$(now)
    kill "$sampler"; cs1=$(cg_usage "$cg_sink"); cc1=$(cg_usage "$cg_client"); l1=$(load)
    sleep 2
    sent=$(grep -c 'status=sent' "$client/maillog" || true)
    {
      awk -v n="$held" -v r="$reuse" -v a="$t0" -v b="$t1" -v cs="$(( (cs1 - cs0) / 1000000 ))" -v cc="$(( (cc1 - cc0) / 1000000 ))" \
          -v l0="$l0" -v l1="$l1" -v sent="$sent" 'BEGIN {
        printf "postfix smtp_tls_connection_reuse=%s: %d messages released, %d status=sent, queue empty after %.1f s = %.1f msg/s; CPU: postfix client %.2f ms/msg, sink %.2f ms/msg; load %s -> %s\n", r, n, sent, b - a, n / (b - a), cc / n, cs / n, l0, l1 }'
      sink_report "$off"
      echo "client's TLS connections: $(grep -c 'TLS connection established to' "$client/maillog" || true); smtp processes' reuse (conn_use=N on status=sent lines):" \
        "$(grep 'status=sent' "$client/maillog" | grep -o 'conn_use=[0-9]*' | sort | uniq -c | sort -rn | head -5 | tr '\n' ' ')"
      echo "first and last status=sent lines:"
      grep 'status=sent' "$client/maillog" | sed -n '1p;$p'
      echo "deliveries per second (time: count, from its mail log):"
      grep 'status=sent' "$client/maillog" | awk '{split($3, t, "."); print t[1]}' | uniq -c | awk '{printf "  %s: %s\n", $2, $1}'
    } > "$out/postfix-reuse-$reuse.txt"
    head -3 "$out/postfix-reuse-$reuse.txt"
    cp "$client/etc/main.cf" "$out/postfix-reuse-$reuse-main.cf"
    postfix -c "$client/etc" stop >/dev/null 2>&1 || true
  done
fi

# ---------------------------------------------------------------- tlsgate as the client
if part tlsgate; then
  cd "$root"
  [ -f delivery-service/target/quarkus-app/quarkus-run.jar ] || ./mvnw -B -q install -DskipTests
  (cd "$bench" && ../mvnw -B -q package)
  cp_="$bench/target/tlsgate-bench-0.1.0-SNAPSHOT.jar:$(cat "$bench/target/classpath.txt")"
  data="$work/devstack"
  off="${BENCH_PORT_OFFSET:-0}"
  P=$((8081 + off)); D=$((8083 + off)); PG=$((15432 + off))
  cg_make tlsgate cg_tlsgate
  log "devstack/run --java-opts '$JAVA_OPTS_SERVICES' (port offset $off); bench.test: tls $TLS_MODE, route $ROUTE"
  devstack_start "$data" "$off" "$JAVA_OPTS_SERVICES" "$cg_tlsgate"
  dpid=$(service_pid delivery-service)
  log "devstack up; delivery-service pid $dpid: $(ps -o args= -p "$dpid" | cut -c1-200)"
  H=(-sf -H "Authorization: Bearer $admin" -H 'Content-Type: application/json')
  curl "${H[@]}" -d "{\"key\":\"$DOMAIN\",\"tls\":\"$TLS_MODE\",\"maxMessagesPerConnection\":$PER_CONNECTION}" \
    "https://localhost:$P/api/v1/destinations" -o /dev/null
  curl "${H[@]}" -d "{\"domain\":\"$DOMAIN\",\"hops\":[\"$ROUTE\"]}" "https://localhost:$P/api/v1/smtp-routes" -o /dev/null
  {
    echo "destination control: $(curl "${H[@]}" "https://localhost:$P/api/v1/destinations/resolve?domain=$DOMAIN")"
    echo "SMTP route: $(curl "${H[@]}" "https://localhost:$P/api/v1/smtp-routes/resolve?domain=$DOMAIN")"
  } | tee "$out/tlsgate-policy.txt"
  psqlq() { PGPASSWORD="$dbpw" psql -h 127.0.0.1 -p "$PG" -U tlsgate -d tlsgate -qtAX -v ON_ERROR_STOP=1 -c "$1"; }
  queued() { # recipients still QUEUED (GET /api/v1/queue leaves a state with none out), "?" when it does not answer
    local j; j=$(curl -sf -H "Authorization: Bearer $admin" "https://localhost:$D/api/v1/queue") || { echo "?"; return; }
    j=$(echo "$j" | grep -o '"recipientsByState":{[^}]*}' | grep -o '"QUEUED":[0-9]*' | cut -d: -f2); echo "${j:-0}"; }
  if [ "$WARMUP" -gt 0 ]; then
    # JIT warm-up: the same path once, unmeasured, so the run below shows a warmed-up service.
    log "warm-up: $WARMUP messages enqueued and delivered first (not measured)"
    java -Xmx512m -Dtlsgate.cert-grpc=localhost:$((8092 + off)) -cp "$cp_" io.tlsgate.bench.EnqueueLoad localhost "$((D + 10))" "$data/secrets.properties" "$WARMUP" 16 "$DOMAIN" "$MSG_BODY" \
      > "$out/tlsgate-warmup.txt"
    for _ in $(seq 1 600); do [ "$(queued)" = 0 ] && break; sleep 1; done
    log "warm-up delivered (queued now: $(queued))"
    sleep 3 # idle connections close (tlsgate.delivery.connection-idle 2 s)
  fi
  # Hold: every recipient inserted from now on is due only in 2100 (the scheduler runs, finds nothing due).
  psqlq "create function delivery.bench_hold() returns trigger language plpgsql as \$\$ begin new.next_attempt_at := '2100-01-01'; return new; end \$\$;
         create trigger bench_hold before insert on delivery.recipient for each row execute function delivery.bench_hold();"
  ( while kill -0 "$dpid" 2>/dev/null; do echo "$(date +%s) $(cut -d' ' -f1 /proc/loadavg) $(ps -o rss= -p "$dpid")"; sleep 1; done ) \
    > "$out/tlsgate-rss.txt" &
  bg_pids+=($!)
  log "enqueueing $N (gRPC Enqueue, 16 in flight) while held"
  java -Xmx512m -Dtlsgate.cert-grpc=localhost:$((8092 + off)) -cp "$cp_" io.tlsgate.bench.EnqueueLoad localhost "$((D + 10))" "$data/secrets.properties" "$N" 16 "$DOMAIN" "$MSG_BODY" | tee "$out/tlsgate-enqueue.txt"
  held=$(psqlq "select count(*) from delivery.recipient where state = 'QUEUED' and next_attempt_at = '2100-01-01'")
  log "held: $held"
  # delivery-service's established TCP connections to a port: how many, and the data segments it sent on them
  # (ss -i data_segs_out): about one per request, so the deltas count round trips to PostgreSQL, policy- and cert-service.
  segs() { ss -tinpH state established "( dport = :$1 )" | awk -v p="pid=$dpid," '
    index($0, p) { f = 1; n++; next }
    f { if (match($0, /data_segs_out:[0-9]+/)) s += substr($0, RSTART + 14, RLENGTH - 14); f = 0 }
    END { print n + 0, s + 0 }'; }
  # CPU time (clock ticks) of each delivery-service thread: tid, then its name with digits folded (names as the kernel keeps them, 15 chars).
  threadcpu() { local t st f; for t in /proc/"$dpid"/task/*; do
      st=$(cat "$t/stat" 2>/dev/null) || continue
      read -r -a f <<< "${st##*) }" # fields from the 3rd on: a name may hold spaces
      echo "${t##*/} $((f[11] + f[12])) $(tr ' ' '_' < "$t/comm" 2>/dev/null | tr -d '0-9')"; done; }
  roundtrips() { echo "$(segs "$PG") $(segs "$P") $(segs $((8082 + off)))"; }
  dbstats() { psqlq "select xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted
                      from pg_stat_database where datname = 'tlsgate'" | tr '|' ' '; }
  # JFR: the profile settings, plus every sleep/park/socket read/monitor wait (threshold 0) to account worker time.
  python3 - "$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")/lib/jfr/profile.jfc" "$work/bench.jfc" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
for ev in ["jdk.ThreadSleep", "jdk.ThreadPark", "jdk.SocketRead", "jdk.SocketWrite", "jdk.JavaMonitorEnter", "jdk.JavaMonitorWait"]:
    s = re.sub(r'(<event name="%s">.*?<setting name="threshold"[^>]*>)[^<]*(</setting>)' % re.escape(ev), r'\g<1>0 ms\g<2>', s, flags=re.S)
open(sys.argv[2], "w").write(s)
PY
  maillog="$data/logs/delivery-service.log"
  mo=$(wc -l < "$maillog")
  ct0=$(cg_usage "$cg_tlsgate"); cs0=$(cg_usage "$cg_sink"); soff=$(sink_lines)
  dcpu0=$(awk '{print $14 + $15}' "/proc/$dpid/stat"); db0=$(dbstats); rt0=$(roundtrips); l0=$(load)
  threadcpu > "$work/threads0"
  ( while :; do echo "$(date +%s) $(cut -d' ' -f1 /proc/loadavg) $(queued)"; sleep 1; done ) > "$out/tlsgate-queue.txt" &
  qsampler=$!; bg_pids+=("$qsampler")
  t0=$(now)
  psqlq "drop trigger bench_hold on delivery.recipient; drop function delivery.bench_hold();
         update delivery.recipient set next_attempt_at = now() where state = 'QUEUED' and next_attempt_at = '2100-01-01';"
  log "released"
  (
    sleep "$JFR_DELAY"
    [ "$JFR_SECONDS" = 0 ] || jcmd "$dpid" JFR.start name=bench settings="$work/bench.jfc" duration="${JFR_SECONDS}s" filename="$work/drain.jfr" > /dev/null
  ) &
  jfr_starter=$!; bg_pids+=("$jfr_starter")
  while :; do
    q=$(tail -1 "$out/tlsgate-queue.txt" | awk '{print $3}')
    [ "$q" = 0 ] && break
    kill -0 "$dpid" 2>/dev/null || { log "delivery-service is gone"; exit 1; }
    sleep 0.5
  done
  t1=$(now)
  kill "$qsampler" 2>/dev/null || true
  ct1=$(cg_usage "$cg_tlsgate"); cs1=$(cg_usage "$cg_sink"); dcpu1=$(awk '{print $14 + $15}' "/proc/$dpid/stat"); db1=$(dbstats); rt1=$(roundtrips); l1=$(load)
  threadcpu > "$work/threads1"
  wait "$jfr_starter" 2>/dev/null || true
  [ "$JFR_SECONDS" = 0 ] || for _ in $(seq 1 $((JFR_SECONDS + JFR_DELAY + 5))); do [ -s "$work/drain.jfr" ] && break; sleep 1; done
  sleep 2
  tick=$(getconf CLK_TCK)
  {
    awk -v n="$held" -v a="$t0" -v b="$t1" -v ct="$(( (ct1 - ct0) / 1000000 ))" -v cs="$(( (cs1 - cs0) / 1000000 ))" \
        -v dc="$(( (dcpu1 - dcpu0) * 1000 / tick ))" -v l0="$l0" -v l1="$l1" -v opts="$JAVA_OPTS_SERVICES" 'BEGIN {
      printf "tlsgate (JVM options: %s): %d messages released, queue empty after %.1f s = %.1f msg/s; CPU: delivery-service %.2f ms/msg, whole devstack (4 services, PostgreSQL, Kafka) %.2f ms/msg, sink %.2f ms/msg; load %s -> %s\n", opts, n, b - a, n / (b - a), dc / n, ct / n, cs / n, l0, l1 }'
    awk -v t="${t0%.*}" '$3 > peak { peak = $3 } $3 > dpeak && $1 >= t { dpeak = $3 } $1 >= t && !r { r = $3 }
      END { printf "delivery-service RSS (ps, every second, from before Enqueue to the end): peak %.0f MB; at release %.0f MB, peak during the drain %.0f MB\n", peak / 1024, r / 1024, dpeak / 1024 }' "$out/tlsgate-rss.txt"
    sink_report "$soff"
    echo "$db0 $db1" | awk -v n="$held" '{
      split("xact_commit xact_rollback tup_returned tup_fetched tup_inserted tup_updated tup_deleted", k, " ")
      printf "PostgreSQL (database tlsgate, pg_stat_database) during the drain, per message:"
      for (i = 1; i <= 7; i++) printf " %s %.2f", k[i], ($(i + 7) - $i) / n; printf "\n" }'
    echo "$rt0 $rt1" | awk -v n="$held" '{
      printf "requests sent by delivery-service during the drain (TCP data segments out, ss -i), per message: PostgreSQL %.2f (%d connections), policy-service gRPC %.2f, cert-service gRPC %.2f\n", ($8 - $2) / n, $7, ($10 - $4) / n, ($12 - $6) / n }'
    echo "delivery-service CPU by thread during the drain (ms per message; /proc/PID/task, names folded):"
    awk -v n="$held" -v hz="$tick" 'NR == FNR { before[$1] = $2; next } { d = $2 - before[$1]; if (d > 0) cpu[$3] += d; all += d }
      END { for (k in cpu) printf "  %7.2f  %s\n", cpu[k] * 1000 / hz / n, k; printf "  %7.2f  all threads\n", all * 1000 / hz / n }' \
      "$work/threads0" "$work/threads1" | sort -rn | head -12
    tail -n +"$((mo + 1))" "$maillog" | grep -c 'Message done' | sed 's/^/mail log "Message done" lines: /'
    tail -n +"$((mo + 1))" "$maillog" | grep -c 'New SMTP DCID' | sed 's/^/mail log "New SMTP DCID" lines (connections): /'
    # grep -m, not | head: head leaving early would kill grep with SIGPIPE and, under pipefail, the script.
    echo "mail log lines with Delayed, Bounced, WARN or ERROR: $(tail -n +"$((mo + 1))" "$maillog" | grep -c -E 'Delayed|Bounced|WARN|ERROR' || true)"
    tail -n +"$((mo + 1))" "$maillog" | grep -m 5 -E 'Delayed|Bounced|WARN|ERROR' || true
    echo "deliveries per second (time: count, \"Message done\" lines in delivery-service's log):"
    tail -n +"$((mo + 1))" "$maillog" | grep 'Message done' | cut -c1-19 | uniq -c | awk '{printf "  %s: %s\n", $3, $1}'
  } > "$out/tlsgate.txt"
  head -6 "$out/tlsgate.txt"
  tail -n +"$((mo + 1))" "$maillog" | grep -m 12 -E 'maillog|DCID' > "$out/tlsgate-maillog-sample.txt" || true
  tail -n +"$((mo + 1))" "$maillog" | grep -m 300 -E 'Delayed|Bounced|WARN|ERROR|Exception' > "$out/tlsgate-warnings.txt" || true
  if [ -s "$work/drain.jfr" ]; then
    java -cp "$cp_" io.tlsgate.bench.JfrSummary "$work/drain.jfr" 30 \
      'SmtpDeliveryAttempt,SSLHandshake.consume,ECDSASignature.engineVerify,RSASignature.engineVerify,XDH,TrustCheck.checkServerTrusted,TrustCheck.<init>,createNetClient,Scheduler.deliver,TlsEvents,io.tlsgate.delivery.queue' \
      > "$out/tlsgate-jfr.txt" 2>&1 || true
    [ -z "${BENCH_KEEP_JFR:-}" ] || cp "$work/drain.jfr" "$BENCH_KEEP_JFR"
    jfr summary "$work/drain.jfr" > "$out/tlsgate-jfr-summary.txt" 2>&1 || true
    head -3 "$out/tlsgate-jfr.txt"
  fi
  log "stopping devstack"
  kill -TERM "$devstack_pid"; wait "$devstack_pid" || true; devstack_pid=""
fi
# Side by side: msg/s and the ratios (from the files above).
rate() { [ -f "$1" ] && grep -o '= [0-9.]* msg/s' "$1" | head -1 | awk '{print $2}' || true; }
pf_no=$(rate "$out/postfix-reuse-no.txt"); pf_yes=$(rate "$out/postfix-reuse-yes.txt"); tg=$(rate "$out/tlsgate.txt")
if [ -n "$tg" ] && [ -n "$pf_no" ] && [ -n "$pf_yes" ]; then
  awk -v t="$tg" -v a="$pf_no" -v b="$pf_yes" -v n="$N" -v m="$PER_CONNECTION" -v w="$WARMUP" 'BEGIN {
    printf "N=%d: tlsgate %.1f msg/s (up to %d messages per connection, after %d unmeasured); Postfix %.1f msg/s (one message per TLS connection), %.1f msg/s (smtp_tls_connection_reuse = yes)\n", n, t, m, w, a, b
    printf "ratio tlsgate/Postfix: %.2fx vs Postfix one message per connection, %.2fx vs Postfix with reuse (bench/README.md: targets and how to read them)\n", t / a, t / b }' \
    | tee "$out/summary.txt"
fi
log "load at the end: $(load); results in $out"
