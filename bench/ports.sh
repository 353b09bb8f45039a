#!/usr/bin/env bash
# Compares `homeport ports` and `homeport who` with ss and lsof, with every
# owner's project, unit and container named (attribution on), in three
# scenarios, and writes bench/results/ports.md:
#   bare    the machine as it is (a small container, a CI box), one listener added;
#   laptop  40 TCP listeners over 20 processes, plus 400 idle processes;
#   10k     10,000 TCP listeners over 100 processes, plus 1,000 idle processes.
# It also times `homeport version` against a Go hello-world. Run as root on an
# otherwise quiet machine:
#   bash bench/ports.sh
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ss >/dev/null || need+=(iproute2)
command -v lsof >/dev/null || need+=(lsof)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

tmp=bench/tmp/ports
rm -rf "$tmp" && mkdir -p "$tmp"
# A release build: static, without cgo (pure-Go resolver and user lookup).
CGO_ENABLED=0 go build -trimpath -o "$tmp/homeport" ./cmd/homeport
go build -o "$tmp/benchtool" ./bench/benchtool
hp=$tmp/homeport
mkdir -p "$tmp/hello"
cat >"$tmp/hello/main.go" <<'GO'
package main

import "os"

func main() { os.Stdout.WriteString("hello\n") }
GO
(cd "$tmp/hello" && printf 'module hello\ngo 1.24\n' >go.mod && CGO_ENABLED=0 go build -trimpath -o hello .)

runs=${RUNS:-30}
# Commands compared take turns, one run each per round (benchtool alt): a
# burst of load from elsewhere then slows both sides, not one.
hf() { "$tmp/benchtool" alt -warmup 3 -runs "$runs" -export-json "$@"; }

count_procs() { local a=(/proc/[0-9]*); echo "${#a[@]}"; }

fixture=
start_fixture() { # start_fixture LISTENERS PROCS IDLE: sets $port
  rm -f "$tmp/in" "$tmp/ready"
  mkfifo "$tmp/in"
  "$tmp/benchtool" fixture -listeners "$1" -procs "$2" -idle "$3" <"$tmp/in" >"$tmp/ready" &
  fixture=$!
  exec 3>"$tmp/in"
  for _ in $(seq 600); do grep -q ready "$tmp/ready" 2>/dev/null && break; sleep 0.1; done
  port=$(awk '/ready/ {print $2}' "$tmp/ready")
  [ -n "$port" ] || { echo "fixture did not start" >&2; exit 1; }
}
stop_fixture() {
  [ -n "$fixture" ] || return 0
  exec 3>&-
  wait "$fixture" 2>/dev/null || true
  fixture=
}
trap stop_fixture EXIT

out=bench/results/ports.md
{
  echo "# homeport ports / who against ss and lsof"
  echo
  echo "One run of \`bash bench/ports.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores, kernel $(uname -r),"
  echo "static build (CGO_ENABLED=0, -trimpath). Attribution is on: each owner's working"
  echo "directory, project, cgroup (unit, container) and, where a container engine answers,"
  echo "its container. Medians of wall time over $runs runs after 3 warm-ups, the commands"
  echo "compared taking turns run by run; the ratio is homeport's median over the other's."
  echo
} >"$out"

# --- start-up
runs=$((runs * 5)) hf "$tmp/version.json" "$hp version" "$tmp/hello/hello"
"$tmp/benchtool" report -out "$out" "homeport version vs Go hello-world|$tmp/version.json|—"
v=$(python3 -c "import json;print(json.load(open('$tmp/version.json'))['results'][0]['median']*1000)")
printf 'homeport version: %.2f ms (target ≤ 2.5 ms).\n\n' "$v" >>"$out"

# --- bare machine: what runs here, plus one listener to ask about
start_fixture 1 1 0
procs=$(count_procs)
echo "bare machine: $procs processes, asking about port $port" >&2
"$hp" who "$port" >&2
hf "$tmp/bare-ports.json" "$hp ports" "ss -tulnp"
hf "$tmp/bare-who.json" "$hp who $port" "ss -tlnp 'sport = :$port'"
stop_fixture
echo "## Bare machine ($procs processes, $(ss -tuln | tail -n +2 | wc -l) listeners)" >>"$out"
echo >>"$out"
"$tmp/benchtool" report -out "$out" \
  "ports vs ss -tulnp|$tmp/bare-ports.json|1.0" \
  "who N vs ss -tlnp 'sport = :N'|$tmp/bare-who.json|1.0"

# --- laptop: 40 listeners over 20 processes, 400 idle
start_fixture 40 20 400
procs=$(count_procs)
echo "laptop: $procs processes, asking about port $port" >&2
"$hp" who "$port" >&2
hf "$tmp/laptop-ports.json" "$hp ports" "ss -tulnp"
hf "$tmp/laptop-who.json" "$hp who $port" "ss -tlnp 'sport = :$port'"
stop_fixture
echo "## Laptop: 40 listeners over 20 processes, 400 idle ($procs processes)" >>"$out"
echo >>"$out"
"$tmp/benchtool" report -out "$out" \
  "ports vs ss -tulnp|$tmp/laptop-ports.json|0.75" \
  "who N vs ss -tlnp 'sport = :N'|$tmp/laptop-who.json|0.45"

# --- 10,000 listeners over 100 processes, 1,000 idle
start_fixture 10000 100 1000
listeners=$("$hp" ports --tcp --no-owner | wc -l)
echo "10k: $listeners TCP listeners, asking about port $port" >&2
# Sanity: homeport and ss agree on the owner of the port.
"$hp" who "$port" >&2
hf "$tmp/ports.json"   "$hp ports --tcp"            "ss -ltnp"
hf "$tmp/who.json"     "$hp who $port"              "ss -ltnp 'sport = :$port'"
hf "$tmp/noown.json"   "$hp ports --tcp --no-owner" "ss -ltnp"
hf "$tmp/lsof.json"    "$hp ports --tcp"            "lsof -nP -iTCP -sTCP:LISTEN"
hf "$tmp/lsofwho.json" "$hp who $port"              "lsof -nP -iTCP:$port -sTCP:LISTEN"

# Peak resident set (GNU time's %M, KB), median of 5 runs. GNU time forks
# from a small C program, so the figure is the command's own.
rss() {
  for _ in 1 2 3 4 5; do /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; done | sort -n | sed -n 3p
}
rss_ports=$(rss "$hp" ports --tcp)
rss_noown=$(rss "$hp" ports --tcp --no-owner)
rss_who=$(rss "$hp" who "$port")
rss_ss=$(rss ss -ltnp)
stop_fixture

echo "## 10,000 listeners: $listeners TCP listeners over 100 processes, plus 1,000 idle processes" >>"$out"
echo >>"$out"
"$tmp/benchtool" report -out "$out" \
  "ports vs ss -ltnp|$tmp/ports.json|0.5" \
  "who N vs ss -ltnp 'sport = :N'|$tmp/who.json|0.35" \
  "ports --no-owner vs ss -ltnp|$tmp/noown.json|0.15" \
  "ports vs lsof|$tmp/lsof.json|0.5" \
  "who N vs lsof -iTCP:N|$tmp/lsofwho.json|0.5"
{
  echo "Peak resident memory (GNU time %M, median of 5 runs): \`homeport ports\` ${rss_ports} KB, \`homeport ports --no-owner\` ${rss_noown} KB, \`homeport who\` ${rss_who} KB, \`ss -ltnp\` ${rss_ss} KB (target ≤ 10240 KB)."
  echo
} >>"$out"
# The start-up investigation, written by hand, follows the figures.
cat bench/results/ports-startup.md >>"$out"
cat "$out"
