# Shared by the benchmark scripts (sourced): cleanup on exit, logging, CPU accounting per
# component (cgroups), private Postfix instances. The caller sets out (results directory) and
# work (scratch directory) before sourcing.
# ---------------------------------------------------------------- cleanup
bg_pids=()      # samplers, smtp-sink, devstack
pf_instances=() # Postfix config directories to stop
cgroups=()
devstack_pid=""
devstack_data=""
cleanup() {
  set +e
  if [ -n "$devstack_pid" ] && kill -0 "$devstack_pid" 2>/dev/null; then
    kill -TERM "$devstack_pid"
    for _ in $(seq 1 90); do kill -0 "$devstack_pid" 2>/dev/null || break; sleep 1; done
  fi
  for d in "${pf_instances[@]}"; do
    postfix -c "$d" stop >/dev/null 2>&1 || postfix -c "$d" abort >/dev/null 2>&1
  done
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${bg_pids[@]}"; do wait "$p" 2>/dev/null; done
  # devstack stops its children itself; anything still running from its data dir is a leak.
  if [ -n "$devstack_data" ]; then
    left=$(pgrep -f "$devstack_data")
    if [ -n "$left" ]; then
      echo "still running after devstack stopped (killed): $left" >&2
      for p in $left; do kill -KILL "$p" 2>/dev/null; done
    fi
  fi
  for c in "${cgroups[@]}"; do
    for _ in $(seq 1 20); do rmdir "$c" 2>/dev/null && break; sleep 0.5; done
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$out/run.log"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
now() { date +%s.%N; }
port_free() { ! ss -ltnH "sport = :$1" | grep -q .; }

# CPU accounting per component (cgroup v1 cpuacct when it can be used; else none).
cg_root=/sys/fs/cgroup/cpuacct
cg_make() { # name variable: sets the variable to the new cgroup's path, or empty
  local c="$cg_root/tlsgate-bench-$$-$1"
  printf -v "$2" '%s' ""
  if [ -w "$cg_root" ] && mkdir "$c" 2>/dev/null; then cgroups+=("$c"); printf -v "$2" '%s' "$c"; fi
}
cg_usage() { [ -n "${1:-}" ] && [ -f "$1/cpuacct.usage" ] && cat "$1/cpuacct.usage" || echo 0; }
in_cg() { # cgroup command... : runs the command inside the cgroup
  local c="$1"; shift
  if [ -n "$c" ]; then sh -c 'echo $$ > "$0/cgroup.procs"; exec "$@"' "$c" "$@"; else "$@"; fi
}

# ---------------------------------------------------------------- Postfix instances
# Same layout as testkit's PostfixPeer: own main.cf/master.cf, queue, data and mail log.
pf_common() { # dir name
  cat <<EOF
compatibility_level = 3.6
queue_directory = $1/queue
data_directory = $1/data
meta_directory = $(postconf -d -h meta_directory 2>/dev/null || echo /etc/postfix)
myhostname = $2.bench.test
mydomain = bench.test
myorigin = \$myhostname
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtputf8_enable = no
biff = no
smtpd_banner = \$myhostname ESMTP Postfix
syslog_name = $2
maillog_file = $1/maillog
maillog_file_prefixes = $1
notify_classes =
delay_warning_time = 0
in_flow_delay = 0
smtpd_relay_restrictions = permit_mynetworks, reject
EOF
}
pf_master_common() {
  cat <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
tlsproxy  unix  -       -       n       -       0       tlsproxy
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}
pf_prepare() { # dir
  mkdir -p "$1/etc" "$1/queue" "$1/data"
  chown postfix:postfix "$1/data"
}
pf_start() { # dir cgroup
  pf_instances+=("$1/etc")
  in_cg "${2:-}" postfix -c "$1/etc" start >"$1/start.log" 2>&1 || { cat "$1/start.log" "$1/maillog" 2>/dev/null; exit 1; }
}
await_banner() { # port
  for _ in $(seq 1 100); do
    if exec 3<>"/dev/tcp/127.0.0.1/$1" 2>/dev/null; then
      local banner; read -r -t 5 banner <&3 || true; printf 'QUIT\r\n' >&3; exec 3<&- 3>&-
      case "$banner" in 220*) return 0 ;; esac
    fi
    sleep 0.2
  done
  echo "nothing greets on port $1"; exit 1
}
pf_queued() { # dir: files in every queue a message can wait in
  find "$1/queue/maildrop" "$1/queue/incoming" "$1/queue/active" "$1/queue/deferred" "$1/queue/hold" -type f 2>/dev/null | wc -l
}


# ---------------------------------------------------------------- devstack
# Starts devstack/run in the background inside cgroup $4 (may be empty) and waits until it is
# up: data dir $1, port offset $2, JVM options $3 (empty: devstack's own default). Sets
# devstack_pid, devstack_data, admin (token) and dbpw.
devstack_start() {
  local opts=()
  if [ -n "$3" ]; then opts=(--java-opts "$3"); fi
  devstack_data="$1"
  # $! must be devstack/run itself (each step execs the next), so that cleanup's TERM reaches it.
  if [ -n "${4:-}" ]; then
    sh -c 'echo $$ > "$0/cgroup.procs"; shift; exec "$@"' "$4" x env TLSGATE_DEV_SKIP_BUILD=1 \
      "$root/devstack/run" --data-dir "$1" --port-offset "$2" "${opts[@]}" > "$work/devstack.out" 2>&1 &
  else
    TLSGATE_DEV_SKIP_BUILD=1 "$root/devstack/run" --data-dir "$1" --port-offset "$2" "${opts[@]}" \
      > "$work/devstack.out" 2>&1 &
  fi
  devstack_pid=$!
  for _ in $(seq 1 400); do grep -q 'Press Ctrl-C' "$work/devstack.out" && break
    kill -0 "$devstack_pid" 2>/dev/null || { cat "$work/devstack.out"; exit 1; }; sleep 1; done
  grep -q 'Press Ctrl-C' "$work/devstack.out" || { cat "$work/devstack.out"; exit 1; }
  admin=$(grep 'admin token' "$work/devstack.out" | awk '{print $3}')
  # REST is HTTPS with devstack's own CA: curl trusts it from here on.
  export CURL_CA_BUNDLE="$1/https-ca.pem"
  dbpw=$(grep '^devstack.db-password=' "$1/secrets.properties" | cut -d= -f2)
}
# The pid of one of devstack's services (delivery-service, listener-service, ...).
service_pid() { pgrep -f "^[^ ]*java .*-jar $root/$1/target/quarkus-app/quarkus-run.jar" | head -1; }
# CPU ticks (1/100 s) of every process in a cgroup, summed per devstack component; a process's
# reaped children count to it (PostgreSQL backends that ended count to the postmaster).
cpu_parts() { # cgroup
  [ -n "${1:-}" ] && [ -f "$1/cgroup.procs" ] || return 0
  local p cmd n
  for p in $(cat "$1/cgroup.procs"); do
    cmd=$(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null) || continue
    case "$cmd" in
      *listener-service/target*) n=listener ;; *delivery-service/target*) n=delivery ;;
      *policy-service/target*) n=policy ;; *cert-service/target*) n=cert ;;
      *kafka.Kafka*) n=kafka ;; *postgres*) n=postgres ;; *DevStack*) n=devstack ;; *) n=other ;;
    esac
    echo "$n $(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }')"
  done | awk 'NF == 2 { t[$1] += $2 } END { for (k in t) print k, t[k] }' | sort
}
# Per component, ms of CPU per message between two cpu_parts snapshots.
cpu_parts_per_msg() { # before after messages
  awk -v n="$3" 'NR == FNR { a[$1] = $2; next } { printf "%s=%.2f ", $1, (n > 0 ? ($2 - a[$1]) * 10 / n : 0) }' \
    <(echo "$1") <(echo "$2")
}
