#!/usr/bin/env bash
# Compares `homeport serve` with nginx (1 worker) and Caddy's file-server on
# the same files, and writes bench/results/serve.md. Each server is pinned to
# CPU 0 with taskset, wrk (-t1 -c50) to CPU 1; the servers take turns, RUNS
# rounds (default 3) of DURATION (default 10s) each, and the table holds the
# medians. Run as root on an otherwise quiet machine with 2 cores or more:
#   bash bench/serve.sh
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

RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
srv_cpu=0
cli_cpu=1
if [ "$(nproc)" -lt 2 ]; then
  echo "serve.sh: only one CPU; server and wrk share it, figures will be low" >&2
  cli_cpu=0
fi

tmp=$(pwd)/bench/tmp/serve
rm -rf "$tmp" && mkdir -p "$tmp/www"
go build -o "$tmp/homeport" ./cmd/homeport
go build -o "$tmp/firstok" ./bench/firstok
# Text that does not compress to nothing, and binary data.
head -c 768 /dev/urandom | base64 -w 0 | head -c 1024 >"$tmp/www/1k.txt"
head -c $((10 << 20)) /dev/urandom >"$tmp/www/10m.bin"
echo '<!doctype html><title>bench</title>' >"$tmp/www/index.html"

hp_port=18081 ng_port=18082 cd_port=18083 ngoff_port=18084
nginx_conf() { # $1 port, $2 access_log setting
  cat <<CONF
worker_processes 1;
daemon off;
pid $tmp/nginx-$1.pid;
error_log $tmp/nginx-$1-error.log;
events { worker_connections 4096; }
http {
  include /etc/nginx/mime.types;
  access_log $2;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$1; root $tmp/www; }
}
CONF
}
nginx_conf $ng_port "$tmp/nginx-access.log" >"$tmp/nginx.conf"
nginx_conf $ngoff_port off >"$tmp/nginx-nolog.conf"
cat >"$tmp/Caddyfile" <<CONF
{
	admin off
	auto_https off
}
http://127.0.0.1:$cd_port {
	root * $tmp/www
	file_server
}
CONF

pids=()
declare -A srvpid
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

start() { # name port command...
  local name=$1 port=$2
  shift 2
  HOME=$tmp XDG_DATA_HOME=$tmp XDG_CONFIG_HOME=$tmp taskset -c $srv_cpu "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pids+=($!)
  srvpid[$name]=$!
  for _ in $(seq 200); do
    curl -fso /dev/null "http://127.0.0.1:$port/1k.txt" && return 0
    sleep 0.05
  done
  echo "serve.sh: $name did not start; see $tmp/$name.err" >&2
  exit 1
}

start homeport $hp_port "$tmp/homeport" serve "$tmp/www" --port $hp_port --strict-port
start nginx $ng_port nginx -c "$tmp/nginx.conf"
start nginx-nolog $ngoff_port nginx -c "$tmp/nginx-nolog.conf"
start caddy $cd_port caddy run --config "$tmp/Caddyfile" --adapter caddyfile

# Same bytes from each.
for port in $hp_port $ng_port $cd_port; do
  for f in 1k.txt 10m.bin; do
    curl -fs "http://127.0.0.1:$port/$f" | cmp -s - "$tmp/www/$f" || { echo "serve.sh: port $port serves a different $f" >&2; exit 1; }
  done
done

# rps name port file -> appends one req/s figure to $tmp/name-file.rps
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

# rps name port file -> appends one req/s figure to $tmp/name-file.rps and
# the server's CPU time per request (µs) to $tmp/name-file.cpu.
rps() {
  local out before after n
  before=$(cputicks "${srvpid[$1]}")
  out=$(taskset -c $cli_cpu wrk -t1 -c50 -d"$DURATION" "http://127.0.0.1:$2/$3")
  after=$(cputicks "${srvpid[$1]}")
  if grep -q "Non-2xx" <<<"$out"; then
    echo "serve.sh: $1 answered non-2xx for $3" >&2
    exit 1
  fi
  awk '/^Requests\/sec:/ {print $2}' <<<"$out" >>"$tmp/$1-$3.rps"
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  awk -v t=$((after - before)) -v n="$n" -v hz="$hz" 'BEGIN {printf "%.1f\n", t * 1e6 / hz / n}' >>"$tmp/$1-$3.cpu"
  echo "$1 $3: $(tail -1 "$tmp/$1-$3.rps") req/s, $(tail -1 "$tmp/$1-$3.cpu") µs CPU/request" >&2
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$RUNS"); do
  echo "round $round of $RUNS" >&2
  for f in 1k.txt 10m.bin; do
    rps homeport $hp_port $f
    rps nginx $ng_port $f
    rps nginx-nolog $ngoff_port $f
    rps caddy $cd_port $f
  done
done
cleanup
pids=()
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

median() { sort -g "$1" | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN {print (r+0 >= t+0) ? "met" : "**missed**"}'; }

declare -A med cpu
for name in homeport nginx nginx-nolog caddy; do
  for f in 1k.txt 10m.bin; do
    med[$name-$f]=$(median "$tmp/$name-$f.rps")
    cpu[$name-$f]=$(median "$tmp/$name-$f.cpu")
  done
done

# Start to first 200: exec, then poll until the first 200 (median of 21).
first_hp=$(taskset -c $srv_cpu "$tmp/firstok" -n 21 -url "http://127.0.0.1:$hp_port/1k.txt" -- "$tmp/homeport" serve "$tmp/www" --port $hp_port --strict-port)
first_ng=$(taskset -c $srv_cpu "$tmp/firstok" -n 21 -url "http://127.0.0.1:$ng_port/1k.txt" -- nginx -c "$tmp/nginx.conf")
first_cd=$(HOME=$tmp XDG_DATA_HOME=$tmp XDG_CONFIG_HOME=$tmp taskset -c $srv_cpu "$tmp/firstok" -n 21 -url "http://127.0.0.1:$cd_port/1k.txt" -- caddy run --config "$tmp/Caddyfile" --adapter caddyfile)

# Ratios are the median of each round's ratio: the servers of one round ran
# back to back, so other load on the machine touches both sides alike.
rratio() { # other file
  paste "$tmp/homeport-$2.rps" "$tmp/$1-$2.rps" | awk '{printf "%.4f\n", $1/$2}' >"$tmp/ratio-$1-$2"
  printf "%.2f" "$(median "$tmp/ratio-$1-$2")"
}
r1n=$(rratio nginx 1k.txt)
r1o=$(rratio nginx-nolog 1k.txt)
r1c=$(rratio caddy 1k.txt)
r10n=$(rratio nginx 10m.bin)
r10o=$(rratio nginx-nolog 10m.bin)
r10c=$(rratio caddy 10m.bin)

out=bench/results/serve.md
{
  echo "# homeport serve against nginx and Caddy"
  echo
  echo "One run of \`bash bench/serve.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), kernel $(uname -r)."
  echo "$(nginx -v 2>&1 | sed 's/^nginx version: //'), Caddy $(caddy version | cut -d' ' -f1), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $(go version | cut -d' ' -f3)."
  echo
  echo "Each server pinned to CPU $srv_cpu (\`taskset\`), \`wrk -t1 -c50 -d$DURATION\` pinned to CPU $cli_cpu, keep-alive, no"
  echo "Accept-Encoding. The servers take turns, file by file; $RUNS rounds. Requests per second are the"
  echo "medians of the rounds; each ratio is the median of the rounds' own ratios (the servers of a round"
  echo "ran back to back, so other load on the machine touches both sides of a ratio alike)."
  echo "nginx: 1 worker, sendfile and tcp_nopush on, keepalive_requests raised so that it never closes"
  echo "wrk's connections; once with its default access log (to a file), once with \`access_log off\`."
  echo "homeport: \`homeport serve DIR\` as a user runs it, request log on (stderr to a file; it is"
  echo "buffered and flushed every 50 ms). Caddy: \`file_server\`, no access log (its default)."
  echo "Load average before and after the rounds: $load_before / $load_after (other work on the machine"
  echo "shows up as spread between rounds)."
  echo
  echo "| file | homeport | nginx | nginx, no log | Caddy | homeport / nginx | homeport / nginx no log | homeport / Caddy |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  echo "| 1 KiB text | ${med[homeport-1k.txt]} | ${med[nginx-1k.txt]} | ${med[nginx-nolog-1k.txt]} | ${med[caddy-1k.txt]} | $r1n | $r1o | $r1c |"
  echo "| 10 MiB binary | ${med[homeport-10m.bin]} | ${med[nginx-10m.bin]} | ${med[nginx-nolog-10m.bin]} | ${med[caddy-10m.bin]} | $r10n | $r10o | $r10c |"
  echo
  echo "Server CPU time per request (user + system of the server's processes over each wrk run, divided"
  echo "by the requests; median of the rounds, µs). Other load on the machine moves this much less than"
  echo "req/s, so it is the steadier measure of the servers' own cost; the cost ratio is nginx's or"
  echo "Caddy's over homeport's (above 1: homeport spends less):"
  echo
  echo "| file | homeport | nginx | nginx, no log | Caddy | nginx / homeport | nginx no log / homeport | Caddy / homeport |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for f in 1k.txt 10m.bin; do
    label="1 KiB text"
    [ "$f" = 10m.bin ] && label="10 MiB binary"
    echo "| $label | ${cpu[homeport-$f]} | ${cpu[nginx-$f]} | ${cpu[nginx-nolog-$f]} | ${cpu[caddy-$f]} | $(awk -v a="${cpu[nginx-$f]}" -v b="${cpu[homeport-$f]}" 'BEGIN {printf "%.2f", a/b}') | $(awk -v a="${cpu[nginx-nolog-$f]}" -v b="${cpu[homeport-$f]}" 'BEGIN {printf "%.2f", a/b}') | $(awk -v a="${cpu[caddy-$f]}" -v b="${cpu[homeport-$f]}" 'BEGIN {printf "%.2f", a/b}') |"
  done
  echo
  echo "Start to first 200 (exec until the first 200 for /1k.txt, median of 21, ms):"
  echo "homeport $first_hp, nginx $first_ng, Caddy $first_cd."
  echo
  echo "| target | measured | |"
  echo "|---|---:|---|"
  echo "| 1 KiB ≥ 0.9× nginx | $r1n (no log: $r1o) | $(verdict "$r1n" 0.9) |"
  echo "| 1 KiB ≥ 1.5× Caddy | $r1c | $(verdict "$r1c" 1.5) |"
  echo "| 10 MiB ≥ 0.9× nginx | $r10n (no log: $r10o) | $(verdict "$r10n" 0.9) |"
  echo "| start to first 200 ≤ 10 ms | $first_hp ms | $(awk -v t="$first_hp" 'BEGIN {print (t+0 <= 10) ? "met" : "**missed**"}') |"
  echo
  echo "Every round's figures (req/s), in round order:"
  echo
  for name in homeport nginx nginx-nolog caddy; do
    for f in 1k.txt 10m.bin; do
      echo "- $name $f: $(paste -sd' ' "$tmp/$name-$f.rps")"
    done
  done
  echo
  echo "Each round's ratio, homeport over the other:"
  echo
  for name in nginx nginx-nolog caddy; do
    for f in 1k.txt 10m.bin; do
      echo "- / $name $f: $(paste -sd' ' "$tmp/ratio-$name-$f")"
    done
  done
} >"$out"
cat "$out"
