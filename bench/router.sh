#!/usr/bin/env bash
# Compares homeport's router with Caddy's reverse_proxy and nginx's
# proxy_pass (upstream keepalive) in front of one small Go backend, and writes
# bench/results/router.md. Each proxy and the backend are pinned to CPU 0
# (taskset), wrk (-t1 -c50 --latency) to CPU 1; the proxies take turns, RUNS
# rounds (default 3) of DURATION (default 10s) each, and the table holds the
# medians. Run as root on an otherwise quiet machine with 2 cores or more:
#
#   bash bench/router.sh          # the comparison
#   bash bench/router.sh soak     # 10 minutes through the router alone (SOAK, default 600s)
#
# homeport's side is the daemon as a user runs it (`homeport up --port P` and
# `homeport route add`); with ROUTER=package it is bench/routerbench, the
# internal/router package alone on a loopback port (its metrics on).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nginx >/dev/null || need+=(nginx)
command -v caddy >/dev/null || need+=(caddy)
command -v wrk >/dev/null || need+=(wrk)
command -v taskset >/dev/null || need+=(util-linux)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

mode=${1:-compare}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
SOAK=${SOAK:-600s}
SOAK_CONNS=${SOAK_CONNS:-10}
ROUTER=${ROUTER:-daemon}
srv_cpu=0
cli_cpu=1
# The soak measures errors and memory, not speed: it yields the CPU to
# other work on the machine.
nice=""
[ "$mode" = soak ] && nice="nice -n 10"
# PRIO=-5 runs the comparison's processes at a higher priority than other
# work on a shared machine (each side gets the same); the results say so.
PRIO=${PRIO:-}
[ "$mode" != soak ] && [ -n "$PRIO" ] && nice="nice -n $PRIO"
if [ "$(nproc)" -lt 2 ]; then
  echo "router.sh: only one CPU; proxies and wrk share it, figures will be low" >&2
  cli_cpu=0
fi

tmp=$(pwd)/bench/tmp/router-$mode
rm -rf "$tmp" && mkdir -p "$tmp/state"
go build -o "$tmp/backend" ./bench/backend
go build -o "$tmp/routerbench" ./bench/routerbench
[ "$ROUTER" = daemon ] && go build -o "$tmp/homeport" ./cmd/homeport

be_port=18190 hp_port=18191 cd_port=18192 ng_port=18193
route=bench
# Every proxy gets the Host a browser sends to homeport's router.
host="$route.localhost:$hp_port"

cat >"$tmp/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream backend {
    server 127.0.0.1:$be_port;
    keepalive 64;
  }
  server {
    listen 127.0.0.1:$ng_port;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_set_header X-Forwarded-Host \$http_host;
      proxy_set_header X-Forwarded-Proto \$scheme;
    }
  }
}
CONF
cat >"$tmp/Caddyfile" <<CONF
{
	admin off
	auto_https off
}
http://:$cd_port {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:$be_port
}
CONF

pids=()
declare -A srvpid
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

start() { # name port command...: start a server pinned to srv_cpu, wait for a 200 through it
  local name=$1 port=$2
  shift 2
  HOME=$tmp XDG_DATA_HOME=$tmp XDG_CONFIG_HOME=$tmp XDG_STATE_HOME=$tmp/state $nice taskset -c $srv_cpu "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pids+=($!)
  srvpid[$name]=$!
  for _ in $(seq 200); do
    curl -fso /dev/null -H "Host: $host" "http://127.0.0.1:$port/" && return 0
    sleep 0.05
  done
  echo "router.sh: $name did not start; see $tmp/$name.err" >&2
  exit 1
}

start backend $be_port "$tmp/backend" -addr 127.0.0.1:$be_port -size 128
if [ "$ROUTER" = daemon ]; then
  # The daemon as a user runs it; the route added through its API.
  HOME=$tmp XDG_STATE_HOME=$tmp/state taskset -c $srv_cpu "$tmp/homeport" up --port $hp_port --no-open >"$tmp/homeport.out" 2>"$tmp/homeport.err" &
  pids+=($!)
  srvpid[homeport]=$!
  for _ in $(seq 200); do
    HOME=$tmp XDG_STATE_HOME=$tmp/state "$tmp/homeport" route add $route $be_port >/dev/null 2>&1 && break
    sleep 0.05
  done
  start homeport-check $hp_port true
else
  start homeport $hp_port "$tmp/routerbench" -addr 127.0.0.1:$hp_port -route $route=$be_port
fi

# cputicks pid -> CPU time (user+system, clock ticks) of pid and its
# children (nginx's worker).
cputicks() {
  local t=0 p
  for p in "$1" $(pgrep -P "$1" || true); do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$t"
}
hz=$(getconf CLK_TCK)
ms() { # wrk latency ("812.00us", "1.20ms", "2.01s") -> milliseconds
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.2f\n", n }'
}

if [ "$mode" = soak ]; then
  pid=${srvpid[homeport]}
  soak_load=$(cut -d' ' -f1-3 /proc/loadavg)
  echo "soak: wrk -t1 -c$SOAK_CONNS -d$SOAK through the router; RSS every 30 s" >&2
  $nice taskset -c $cli_cpu wrk -t1 -c"$SOAK_CONNS" -d"$SOAK" --timeout 10s --latency -H "Host: $host" "http://127.0.0.1:$hp_port/" >"$tmp/soak.wrk" &
  wrkpid=$!
  : >"$tmp/soak.rss"
  t0=$SECONDS
  while kill -0 $wrkpid 2>/dev/null; do
    echo "$((SECONDS - t0)) $(awk '/^VmRSS/ {print $2}' /proc/$pid/status)" >>"$tmp/soak.rss"
    for _ in $(seq 30); do kill -0 $wrkpid 2>/dev/null && sleep 1; done
  done
  wait $wrkpid
  echo "$((SECONDS - t0)) $(awk '/^VmRSS/ {print $2}' /proc/$pid/status)" >>"$tmp/soak.rss"
  out=$(cat "$tmp/soak.wrk")
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  sockerr=$(grep -o 'Socket errors:.*' <<<"$out" || echo "Socket errors: none")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  p99=$(ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  first=$(awk 'NR == 2 {print $2}' "$tmp/soak.rss") # after 30 s: warmed up
  last=$(tail -1 "$tmp/soak.rss" | awk '{print $2}')
  maxr=$(awk 'NR > 1 {if ($2 > m) m = $2} END {print m}' "$tmp/soak.rss")
  {
    echo "## Soak"
    echo
    echo "\`ROUTER=$ROUTER bash bench/router.sh soak\` on $(date -u +%Y-%m-%d): \`wrk -t1 -c$SOAK_CONNS -d$SOAK --timeout 10s\` through the router"
    echo "to the backend (loopback only; all three at nice 10, so the rate is whatever the machine had to"
    echo "spare), the router's RSS sampled every 30 s. Load average at the start: $soak_load."
    echo
    echo "- requests: $reqs ($rps req/s), p99 $p99 ms"
    echo "- errors: ${sockerr#Socket errors: }; non-2xx: ${non2xx:-0}"
    echo "- RSS after 30 s $((first / 1024)) MiB, at the end $((last / 1024)) MiB, highest $((maxr / 1024)) MiB"
    echo "- RSS samples (s: KiB): $(awk '{printf "%s%s: %s", (NR > 1 ? ", " : ""), $1, $2}' "$tmp/soak.rss")"
  } >"$tmp/soak.md"
  cat "$tmp/soak.md"
  # Replace the Soak section of router.md (or add one).
  res=bench/results/router.md
  if [ -f "$res" ]; then
    awk '/^## Soak/ {skip = 1} !skip' "$res" >"$tmp/router.md"
  else
    : >"$tmp/router.md"
  fi
  cat "$tmp/router.md" "$tmp/soak.md" >"$res"
  exit 0
fi

start caddy $cd_port caddy run --config "$tmp/Caddyfile" --adapter caddyfile
start nginx $ng_port nginx -c "$tmp/nginx.conf"

# Same bytes from each.
for port in $hp_port $cd_port $ng_port; do
  curl -fs -H "Host: $host" "http://127.0.0.1:$port/" | cmp -s - <(curl -fs "http://127.0.0.1:$be_port/") ||
    { echo "router.sh: port $port answers differently from the backend" >&2; exit 1; }
done

# run name port -> appends req/s, p99 (ms) and CPU µs per request (proxy +
# backend) to $tmp/name.{rps,p99,cpu}
run() {
  local out before after n p99
  before=$(( $(cputicks "${srvpid[$1]}") + $(cputicks "${srvpid[backend]}") ))
  out=$($nice taskset -c $cli_cpu wrk -t1 -c50 -d"$DURATION" --latency -H "Host: $host" "http://127.0.0.1:$2/")
  after=$(( $(cputicks "${srvpid[$1]}") + $(cputicks "${srvpid[backend]}") ))
  if grep -qE "Non-2xx|Socket errors" <<<"$out"; then
    echo "router.sh: $1 had errors:" >&2
    echo "$out" >&2
    exit 1
  fi
  awk '/^Requests\/sec:/ {print $2}' <<<"$out" >>"$tmp/$1.rps"
  ms "$(awk '$1 == "99%" {print $2}' <<<"$out")" >>"$tmp/$1.p99"
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  awk -v t=$((after - before)) -v n="$n" -v hz="$hz" 'BEGIN {printf "%.1f\n", t * 1e6 / hz / n}' >>"$tmp/$1.cpu"
  echo "$1: $(tail -1 "$tmp/$1.rps") req/s, p99 $(tail -1 "$tmp/$1.p99") ms, $(tail -1 "$tmp/$1.cpu") µs CPU/request" >&2
}

# Warm up each (connection pools, JIT-free but page cache and TCP state).
for p in "homeport $hp_port" "caddy $cd_port" "nginx $ng_port"; do
  set -- $p
  taskset -c $cli_cpu wrk -t1 -c50 -d2s -H "Host: $host" "http://127.0.0.1:$2/" >/dev/null
done

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$RUNS"); do
  echo "round $round of $RUNS" >&2
  run homeport $hp_port
  run caddy $cd_port
  run nginx $ng_port
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
cleanup
pids=()

median() { sort -g "$1" | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
# Ratios are the median of each round's ratio: the proxies of one round ran
# back to back, so other load on the machine touches both sides alike.
rratio() { # a b file-suffix
  paste "$tmp/$1.$3" "$tmp/$2.$3" | awk '{printf "%.4f\n", $1/$2}' >"$tmp/ratio-$1-$2.$3"
  printf "%.2f" "$(median "$tmp/ratio-$1-$2.$3")"
}
declare -A rps p99 cpu
for name in homeport caddy nginx; do
  rps[$name]=$(median "$tmp/$name.rps")
  p99[$name]=$(median "$tmp/$name.p99")
  cpu[$name]=$(median "$tmp/$name.cpu")
done
r_caddy=$(rratio homeport caddy rps)
r_nginx=$(rratio homeport nginx rps)
p_caddy=$(rratio homeport caddy p99)
p_nginx=$(rratio homeport nginx p99)

side="the internal/router package alone, served by bench/routerbench (one route, metrics on; \`ROUTER=package\`)"
[ "$ROUTER" = daemon ] && side="the daemon, \`homeport up\` with \`homeport route add $route $be_port\` (its watcher polling the sockets every second)"
res=bench/results/router.md
soak=""
[ -f "$res" ] && soak=$(awk '/^## Soak/ {p = 1} p' "$res")
{
  echo "# homeport's router against Caddy and nginx"
  echo
  echo "One run of \`bash bench/router.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), kernel $(uname -r)."
  echo "$(nginx -v 2>&1 | sed 's/^nginx version: //'), Caddy $(caddy version | cut -d' ' -f1), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $(go version | cut -d' ' -f3)."
  echo
  echo "homeport: $side."
  echo "Caddy: \`reverse_proxy\` (its keep-alive pool to the backend is on by default), no access log."
  echo "nginx: 1 worker, \`proxy_pass\` to an upstream with \`keepalive 64\`, HTTP/1.1 to the backend,"
  echo "X-Forwarded-For/-Host/-Proto set as homeport sets them, \`access_log off\`."
  echo "The backend: bench/backend, Go net/http answering 128 bytes, the same process behind all three."
  echo
  echo "Each proxy and the backend pinned to CPU $srv_cpu (\`taskset\`; they share it), \`wrk -t1 -c50 -d$DURATION --latency\`"
  echo "pinned to CPU $cli_cpu with \`Host: $host\`. The proxies take turns; $RUNS rounds after a 2 s warm-up each."
  echo "Figures are the medians of the rounds; each ratio is the median of the rounds' own ratios."
  echo "Load average before and after the rounds: $load_before / $load_after (other work on the machine"
  echo "shows up as spread between rounds)."
  [ -n "$PRIO" ] && echo "Proxies, backend and wrk ran at nice $PRIO (\`PRIO=$PRIO\`), ahead of the other work on the machine."
  echo
  echo "| | homeport | Caddy | nginx | homeport / Caddy | homeport / nginx |"
  echo "|---|---:|---:|---:|---:|---:|"
  echo "| req/s | ${rps[homeport]} | ${rps[caddy]} | ${rps[nginx]} | $r_caddy | $r_nginx |"
  echo "| p99 latency (ms) | ${p99[homeport]} | ${p99[caddy]} | ${p99[nginx]} | $p_caddy | $p_nginx |"
  echo "| CPU per request, proxy + backend (µs) | ${cpu[homeport]} | ${cpu[caddy]} | ${cpu[nginx]} | $(awk -v a="${cpu[homeport]}" -v b="${cpu[caddy]}" 'BEGIN {printf "%.2f", a/b}') | $(awk -v a="${cpu[homeport]}" -v b="${cpu[nginx]}" 'BEGIN {printf "%.2f", a/b}') |"
  echo
  echo "| target (issue 12) | measured | |"
  echo "|---|---:|---|"
  echo "| req/s ≥ 1.25× Caddy | $r_caddy | $(awk -v r="$r_caddy" 'BEGIN {print (r+0 >= 1.25) ? "met" : "**missed**"}') |"
  echo "| p99 no worse than Caddy's | $p_caddy× Caddy's | $(awk -v r="$p_caddy" 'BEGIN {print (r+0 <= 1) ? "met" : "**missed**"}') |"
  echo "| goal beyond: nginx with keepalive | $r_nginx× its req/s | $(awk -v r="$r_nginx" 'BEGIN {print (r+0 >= 1) ? "reached" : "not reached"}') |"
  echo
  echo "Every round's figures, in round order:"
  echo
  for name in homeport caddy nginx; do
    echo "- $name: req/s $(paste -sd' ' "$tmp/$name.rps"); p99 ms $(paste -sd' ' "$tmp/$name.p99"); CPU µs/request $(paste -sd' ' "$tmp/$name.cpu")"
  done
  if [ -n "$soak" ]; then
    echo
    echo "$soak"
  fi
} >"$res"
cat "$res"
