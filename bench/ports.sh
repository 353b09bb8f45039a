#!/usr/bin/env bash
# Compares `homeport ports` and `homeport who` with ss and lsof, with every
# owner's project, unit and container named (attribution on), in three
# scenarios, and writes bench/results/ports.md:
#   bare    a small container or CI box: 5 listeners over 5 processes, 70 idle;
#   laptop  40 TCP listeners over 20 processes, plus 400 idle processes;
#   10k     10,000 TCP listeners over 100 processes, plus 1,000 idle processes.
# Each scenario runs in new PID and network namespaces (unshare), so that
# the processes and sockets measured are the scenario's own, whatever else
# the machine runs. It also times `homeport version` against a Go
# hello-world. Run as root on an otherwise quiet machine:
#   bash bench/ports.sh
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$self")/.."

tmp=bench/tmp/ports
hp=$tmp/homeport
runs=${RUNS:-30}
# Commands compared take turns, one run each per round (benchtool alt): a
# burst of load from elsewhere then slows both sides, not one.
hf() { "$tmp/benchtool" alt -warmup 3 -runs "$runs" -export-json "$@"; }
count_procs() { local a=(/proc/[0-9]*); echo "${#a[@]}"; }

if [ "${1:-}" = --inside ]; then
  # In the scenario's namespaces (this shell is PID 1): start the fixture,
  # measure, and leave; the fixture's processes end with PID 1.
  name=$2
  ip link set lo up
  rm -f "$tmp/in-$name" "$tmp/ready-$name"
  mkfifo "$tmp/in-$name"
  "$tmp/benchtool" fixture -listeners "$3" -procs "$4" -idle "$5" <"$tmp/in-$name" >"$tmp/ready-$name" &
  exec 3>"$tmp/in-$name"
  for _ in $(seq 600); do grep -q ready "$tmp/ready-$name" 2>/dev/null && break; sleep 0.1; done
  port=$(awk '/ready/ {print $2}' "$tmp/ready-$name")
  [ -n "$port" ] || { echo "fixture did not start" >&2; exit 1; }
  echo "procs=$(count_procs) listeners=$(ss -tuln | tail -n +2 | wc -l) port=$port" >"$tmp/$name.env"
  echo "$name: $(cat "$tmp/$name.env")" >&2
  "$hp" who "$port" >&2
  if [ "$name" = 10k ]; then
    hf "$tmp/10k-ports.json"   "$hp ports --tcp"            "ss -ltnp"
    hf "$tmp/10k-who.json"     "$hp who $port"              "ss -ltnp 'sport = :$port'"
    hf "$tmp/10k-noown.json"   "$hp ports --tcp --no-owner" "ss -ltnp"
    hf "$tmp/10k-lsof.json"    "$hp ports --tcp"            "lsof -nP -iTCP -sTCP:LISTEN"
    hf "$tmp/10k-lsofwho.json" "$hp who $port"              "lsof -nP -iTCP:$port -sTCP:LISTEN"
    # Peak resident set (GNU time's %M, KB), median of 5 runs. GNU time
    # forks from a small C program, so the figure is the command's own.
    rss() {
      for _ in 1 2 3 4 5; do /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; done | sort -n | sed -n 3p
    }
    echo "rss_ports=$(rss "$hp" ports --tcp) rss_noown=$(rss "$hp" ports --tcp --no-owner) rss_who=$(rss "$hp" who "$port") rss_ss=$(rss ss -ltnp)" >>"$tmp/$name.env"
  else
    hf "$tmp/$name-ports.json" "$hp ports" "ss -tulnp"
    hf "$tmp/$name-who.json"   "$hp who $port" "ss -tlnp 'sport = :$port'"
  fi
  exec 3>&-
  exit 0
fi

need=()
command -v ss >/dev/null || need+=(iproute2)
command -v lsof >/dev/null || need+=(lsof)
command -v unshare >/dev/null || need+=(util-linux)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

rm -rf "$tmp" && mkdir -p "$tmp"
# A release build: static, without cgo (pure-Go resolver and user lookup).
CGO_ENABLED=0 go build -trimpath -o "$tmp/homeport" ./cmd/homeport
go build -o "$tmp/benchtool" ./bench/benchtool
mkdir -p "$tmp/hello"
cat >"$tmp/hello/main.go" <<'GO'
package main

import "os"

func main() { os.Stdout.WriteString("hello\n") }
GO
(cd "$tmp/hello" && printf 'module hello\ngo 1.24\n' >go.mod && CGO_ENABLED=0 go build -trimpath -o hello .)

load0=$(cut -d' ' -f1-3 /proc/loadavg)
scenario() { unshare --pid --net --fork --mount-proc bash "$self" --inside "$@"; }
scenario bare 5 5 70
scenario laptop 40 20 400
scenario 10k 10000 100 1000
# Start-up alone, many more rounds: it is a few milliseconds.
runs=$((runs * 5)) hf "$tmp/version.json" "$hp version" "$tmp/hello/hello"

env_of() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" "$tmp/$1.env"; }
out=bench/results/ports.md
{
  echo "# homeport ports / who against ss and lsof"
  echo
  echo "One run of \`bash bench/ports.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores, kernel $(uname -r),"
  echo "static build (CGO_ENABLED=0, -trimpath). Attribution is on: each owner's working"
  echo "directory, project, parents, cgroup (unit, container) and, where a container engine"
  echo "answers, its container. Each scenario runs in its own PID and network namespaces."
  echo "Medians of wall time over $runs runs after 3 warm-ups, the commands compared taking"
  echo "turns run by run; the ratio is homeport's median over the other's. Load average"
  echo "(1, 5, 15 min) at the start: $load0; at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "## Start-up"
  echo
} >"$out"
"$tmp/benchtool" report -out "$out" "homeport version vs Go hello-world|$tmp/version.json|—"
v=$(python3 -c "import json;print(json.load(open('$tmp/version.json'))['results'][0]['median']*1000)")
printf 'homeport version: %.2f ms (target ≤ 2.5 ms).\n\n' "$v" >>"$out"

{
  echo "## Bare machine: 5 listeners over 5 processes, 70 idle ($(env_of bare procs) processes, $(env_of bare listeners) listeners)"
  echo
} >>"$out"
"$tmp/benchtool" report -out "$out" \
  "ports vs ss -tulnp|$tmp/bare-ports.json|1.0" \
  "who N vs ss -tlnp 'sport = :N'|$tmp/bare-who.json|1.0"
{
  echo "## Laptop: 40 listeners over 20 processes, 400 idle ($(env_of laptop procs) processes)"
  echo
} >>"$out"
"$tmp/benchtool" report -out "$out" \
  "ports vs ss -tulnp|$tmp/laptop-ports.json|0.75" \
  "who N vs ss -tlnp 'sport = :N'|$tmp/laptop-who.json|0.45"
{
  echo "## 10,000 listeners: $(env_of 10k listeners) TCP listeners over 100 processes, plus 1,000 idle processes"
  echo
} >>"$out"
"$tmp/benchtool" report -out "$out" \
  "ports vs ss -ltnp|$tmp/10k-ports.json|0.5" \
  "who N vs ss -ltnp 'sport = :N'|$tmp/10k-who.json|0.35" \
  "ports --no-owner vs ss -ltnp|$tmp/10k-noown.json|0.15" \
  "ports vs lsof|$tmp/10k-lsof.json|0.5" \
  "who N vs lsof -iTCP:N|$tmp/10k-lsofwho.json|0.5"
{
  echo "Peak resident memory (GNU time %M, median of 5 runs): \`homeport ports\` $(env_of 10k rss_ports) KB, \`homeport ports --no-owner\` $(env_of 10k rss_noown) KB, \`homeport who\` $(env_of 10k rss_who) KB, \`ss -ltnp\` $(env_of 10k rss_ss) KB (target ≤ 10240 KB)."
  echo
} >>"$out"
# The start-up investigation, written by hand, follows the figures.
cat bench/results/ports-startup.md >>"$out"
cat "$out"
