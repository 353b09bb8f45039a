#!/usr/bin/env bash
# Times the port lifecycle commands against the tools people use today, and
# writes bench/results/lifecycle.md (medians side by side, from one run):
#
#   1. wait notices a listener that appears: a waiter polls a dead port; the
#      driver opens a listener and times until the waiter has exited.
#      homeport wait vs wait-on (npm) vs wait-for-it (Debian).
#   2. wait exits when the port is already open (hyperfine).
#   3. kill frees a port: a listener that exits on SIGTERM; time from the
#      start of the command until the port refuses connections.
#      homeport kill --yes vs fuser -k -TERM PORT/tcp.
#
# Run as root (it may install packages): bash bench/lifecycle.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}

need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v fuser >/dev/null || need+=(psmisc)
command -v wait-for-it >/dev/null || need+=(wait-for-it)
command -v python3 >/dev/null || need+=(python3)
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

tmp=bench/tmp/lifecycle
rm -rf "$tmp" && mkdir -p "$tmp"
# A release build: static, without cgo, as bench/ports.sh builds it.
CGO_ENABLED=0 go build -trimpath -o "$tmp/homeport" ./cmd/homeport
hp=$(realpath "$tmp/homeport")

# wait-on into a private prefix; the comparison goes on without it if npm
# cannot reach its registry.
waiton=""
if npm install --silent --no-audit --no-fund --prefix "$tmp/npm" wait-on@9 >/dev/null 2>&1; then
  waiton=$(realpath "$tmp/npm/node_modules/.bin/wait-on")
fi
waitforit=$(command -v wait-for-it)

export HP="$hp" WAITON="$waiton" WAITFORIT="$waitforit" RUNS="$runs" TMPDIR_BENCH="$tmp"

# 1 and 3: a Python driver, since the clock must start at the moment the
# listener appears (or the kill starts) and stop when the waiter exits (or
# the port refuses connections), which no command timer sees.
python3 - >"$tmp/driver.json" <<'PY'
import json, os, random, signal, socket, statistics, subprocess, time

HP, WAITON, WAITFORIT = os.environ["HP"], os.environ["WAITON"], os.environ["WAITFORIT"]
RUNS = int(os.environ["RUNS"])

def free_port():
    return int(subprocess.check_output([HP, "free", "--hold", "0"]).strip())

def refused(port):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
        return False
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:
        # The listener was closing while we connected: not free yet.
        return False
    finally:
        s.close()

def notice(argv_for_port):
    """Median ms from listen() to the waiter's exit."""
    out = []
    for _ in range(RUNS):
        port = free_port()
        p = subprocess.Popen(argv_for_port(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Let it start and poll a while; a random delay so that the listener
        # appears at a random point of each tool's polling interval.
        time.sleep(random.uniform(0.3, 1.3))
        ln = socket.socket()
        ln.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ln.bind(("127.0.0.1", port))
        t0 = time.perf_counter()
        ln.listen(128)
        rc = p.wait(timeout=30)
        t1 = time.perf_counter()
        ln.close()
        if rc != 0:
            raise SystemExit(f"{argv_for_port(port)} exited {rc}")
        out.append((t1 - t0) * 1000)
    return statistics.median(out), min(out), max(out)

LISTENER = r"""
import signal, socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(128)
print("ready", flush=True)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
time.sleep(600)
"""

def free_time(argv_for_port):
    """Median ms from starting the command until the port refuses."""
    out = []
    for _ in range(RUNS):
        port = free_port()
        srv = subprocess.Popen(["python3", "-c", LISTENER, str(port)], stdout=subprocess.PIPE)
        assert srv.stdout.readline().strip() == b"ready"
        t0 = time.perf_counter()
        subprocess.run(argv_for_port(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not refused(port):
            time.sleep(0.0002)
        t1 = time.perf_counter()
        srv.wait(timeout=30)
        out.append((t1 - t0) * 1000)
    return statistics.median(out), min(out), max(out)

res = {}
res["notice_homeport"] = notice(lambda p: [HP, "wait", str(p), "--timeout", "30s"])
if WAITON:
    res["notice_waiton"] = notice(lambda p: [WAITON, "-t", "30000", f"tcp:127.0.0.1:{p}"])
res["notice_waitforit"] = notice(lambda p: [WAITFORIT, "-q", "-t", "30", f"127.0.0.1:{p}"])
res["kill_homeport"] = free_time(lambda p: [HP, "kill", str(p), "--yes"])
res["kill_fuser"] = free_time(lambda p: ["fuser", "-s", "-k", "-TERM", f"{p}/tcp"])
json.dump(res, __import__("sys").stdout)
PY

# 2: exit time on a port that is already open, by hyperfine.
port=$("$hp" free --hold 0)
python3 -c "
import socket, time
s = socket.socket(); s.bind(('127.0.0.1', $port)); s.listen(4096)
while True:
    c, _ = s.accept(); c.close()
" &
lpid=$!
trap 'kill $lpid 2>/dev/null || true' EXIT
until "$hp" wait "127.0.0.1:$port" --timeout 100ms 2>/dev/null; do sleep 0.05; done
cmds=("$hp wait $port" "$waitforit -q -t 5 127.0.0.1:$port")
names=("homeport wait" "wait-for-it")
if [ -n "$waiton" ]; then cmds+=("$waiton tcp:127.0.0.1:$port"); names+=("wait-on"); fi
# Baseline: what starting the homeport binary costs, doing nothing.
cmds+=("$hp version"); names+=("homeport version (start-up alone)")
hyperfine -N --warmup 5 --runs "$((runs * 3))" --export-json "$tmp/open.json" "${cmds[@]}" >/dev/null

python3 - "$tmp/driver.json" "$tmp/open.json" "$runs" "${names[@]}" >bench/results/lifecycle.md <<'PY'
import json, statistics, subprocess, sys, platform, os
drv = json.load(open(sys.argv[1]))
open_ = json.load(open(sys.argv[2]))["results"]
runs = sys.argv[3]
names = sys.argv[4:]

def fmt(x):
    return f"{x:.1f} ms" if x >= 10 else f"{x:.2f} ms"

def row(name, t):
    return f"| {name} | {fmt(t[0])} | {fmt(t[1])} | {fmt(t[2])} |"

cpu = "unknown"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip(); break
print("# Port lifecycle: wait and kill against wait-on, wait-for-it and fuser\n")
print(f"Written by `bash bench/lifecycle.sh {runs}` on {platform.node()}: {os.cpu_count()} cores, {cpu}, "
      f"Linux {platform.release()}. One run, all tools side by side; {runs} runs per row for the driver "
      f"measurements, {int(runs)*3} for hyperfine.\n")
print("## `wait` notices a listener that appears\n")
print("The waiter starts on a dead port; 0.3 to 1.3 s later (at random, so that the listener appears at a "
      "random point of each tool's polling interval) the driver calls listen() and times until the waiter "
      "has exited (process exit and reaping included). wait-on polls every 250 ms, wait-for-it every second.\n")
print("| tool | median | min | max |\n|---|---|---|---|")
print(row("homeport wait PORT", drv["notice_homeport"]))
if "notice_waiton" in drv:
    print(row("wait-on tcp:127.0.0.1:PORT", drv["notice_waiton"]))
print(row("wait-for-it -t 30 127.0.0.1:PORT", drv["notice_waitforit"]))
h = drv["notice_homeport"][0]
ratios = []
if "notice_waiton" in drv:
    ratios.append(f"wait-on takes {drv['notice_waiton'][0] / h:.0f}x as long")
ratios.append(f"wait-for-it {drv['notice_waitforit'][0] / h:.0f}x")
print(f"\nhomeport notices the listener in {fmt(h)} (target: 15 ms or less); " + ", ".join(ratios) + ".\n")

print("## `wait` exits when the port is already open\n")
print("hyperfine -N, a listener that accepts and closes.\n")
print("| tool | median | mean ± σ |\n|---|---|---|")
for name, r in zip(names, open_):
    med = statistics.median(r["times"]) * 1000
    print(f"| {name} | {fmt(med)} | {r['mean']*1000:.2f} ± {r['stddev']*1000:.2f} ms |")
hmed = statistics.median(open_[0]["times"]) * 1000
others = [f"{n} {statistics.median(r['times'])*1000 / hmed:.1f}x" for n, r in zip(names[1:], open_[1:])]
print(f"\nhomeport exits in {fmt(hmed)} (target: 5 ms or less); " + ", ".join(others) + " as long.\n")

print("## `kill` frees a port\n")
print("A Python listener that exits on SIGTERM. Timed from the start of the command until the port refuses "
      "connections (homeport kill returns only once it has checked that; after fuser the driver polls).\n")
print("| tool | median | min | max |\n|---|---|---|---|")
print(row("homeport kill PORT --yes", drv["kill_homeport"]))
print(row("fuser -k -TERM PORT/tcp", drv["kill_fuser"]))
k, f = drv["kill_homeport"][0], drv["kill_fuser"][0]
print(f"\nhomeport kill / fuser = {k / f:.2f} (at most about 1 is the target: as fast as fuser).")
PY
cat bench/results/lifecycle.md
