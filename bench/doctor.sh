#!/usr/bin/env bash
# Median time of `homeport doctor PORT` on a healthy target (issue 5: <= 50 ms).
# Starts a real HTTP server on 127.0.0.1, measures with hyperfine (installed
# from Debian when missing), and writes bench/results/doctor.md.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v hyperfine >/dev/null; then
	apt-get install -y -qq hyperfine >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq hyperfine; }
fi

work=$(mktemp -d)
server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/homeport" ./cmd/homeport

# A healthy target: a real HTTP server on a free loopback port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work" >/dev/null 2>&1 &
server_pid=$!
for _ in $(seq 1 200); do
	if "$work/homeport" doctor "$port" --timeout 1s >/dev/null 2>&1; then break; fi
	sleep 0.05
done
"$work/homeport" doctor "$port" >/dev/null  # fails the script unless healthy

runs=100
hyperfine --style basic --warmup 10 --runs "$runs" -N \
	--export-json "$work/port.json" "$work/homeport doctor $port" >"$work/port.txt"
hyperfine --style basic --warmup 10 --runs "$runs" -N \
	--export-json "$work/url.json" "$work/homeport doctor http://localhost:$port/" >"$work/url.txt"

median_ms() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.1f %.1f %.1f %.1f" % (r["median"]*1e3, r["min"]*1e3, r["max"]*1e3, r["stddev"]*1e3))' "$1"; }
read -r pmed pmin pmax psd < <(median_ms "$work/port.json")
read -r umed umin umax usd < <(median_ms "$work/url.json")
verdict=$(python3 -c "print('meets' if $pmed <= 50 else 'MISSES')")

cat >bench/results/doctor.md <<MD
# homeport doctor on a healthy target

Measured by \`bench/doctor.sh\` on $(date -u +%Y-%m-%d) ($(nproc) cores, $(uname -sr)),
hyperfine ${runs} runs after 10 warm-ups, no shell (-N). The target is a
python3 http.server on 127.0.0.1:$port. Each run is the whole process: start,
socket inventory with owners, process state, accept queue, connect.

| command | median | min | max | stddev |
|---|---|---|---|---|
| \`homeport doctor PORT\` | ${pmed} ms | ${pmin} ms | ${pmax} ms | ${psd} ms |
| \`homeport doctor http://localhost:PORT/\` (adds resolve + GET) | ${umed} ms | ${umin} ms | ${umax} ms | ${usd} ms |

Target: median <= 50 ms for \`homeport doctor PORT\`: **${verdict}** it (${pmed} ms).
MD
cat bench/results/doctor.md
