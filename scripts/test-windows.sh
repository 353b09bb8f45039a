#!/usr/bin/env bash
# Runs homeport's Windows code on this Linux machine under Wine (issue 6):
# the Windows tests of internal/sockets and internal/procs
# (GOOS=windows go test -exec wine) and the reserved-range tests of
# internal/ports, then an end-to-end test that runs
# homeport.exe under Wine against listeners opened on Linux.
#
# Setup is idempotent: it installs Debian's wine (Wine 8.0) and the mingw-w64
# compiler when missing, creates a Wine prefix under
# ${XDG_CACHE_HOME:-$HOME/.cache}/homeport-wine once, and builds and installs
# the stand-in bcryptprimitives.dll (scripts/wine/dll/bcryptprimitives.c) that Go
# 1.22+ programs need and Wine 8.0 lacks, whenever its source changed.
#
# Prints "windows: N passed, N failed, N skipped" and exits non-zero when a
# test failed or nothing ran.
#
# Extra arguments go to both `go test` runs (e.g. -run TestWindowsListeners,
# -short to skip the 1500-socket test).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD

log() { printf 'test-windows: %s\n' "$*" >&2; }

# --- packages ---------------------------------------------------------------
need=()
command -v wine >/dev/null 2>&1 && [ -x /usr/lib/wine/wine64 ] || need+=(wine wine64)
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || need+=(gcc-mingw-w64-x86-64-win32)
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	if [ "$(id -u)" != 0 ]; then
		log "not root: install them with: sudo apt-get install -y ${need[*]}"
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- prefix -----------------------------------------------------------------
cache=${XDG_CACHE_HOME:-$HOME/.cache}/homeport-wine
export WINEPREFIX=$cache/prefix
export WINEDEBUG=-all
# No Mono or Gecko installers: homeport needs neither, and they would be
# fetched from the network.
export WINEDLLOVERRIDES="mscoree,mshtml="
export WINEARCH=win64
mkdir -p "$cache"
if [ ! -f "$WINEPREFIX/system.reg" ] || [ ! -d "$WINEPREFIX/drive_c/windows/system32" ]; then
	log "creating the Wine prefix $WINEPREFIX (wineboot -i)"
	rm -rf "$WINEPREFIX"
	# wineboot complains about syswow64 (no 32-bit Wine here); harmless.
	wine wineboot -i >"$cache/wineboot.log" 2>&1 || {
		cat "$cache/wineboot.log" >&2
		exit 1
	}
	wineserver -w
fi

# --- the stand-in bcryptprimitives.dll ----------------------------------------
src=$root/scripts/wine/dll/bcryptprimitives.c
dll=$cache/bcryptprimitives.dll
stamp=$cache/bcryptprimitives.sha256
sum=$(sha256sum "$src" | cut -d' ' -f1)
if [ ! -f "$dll" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
	log "building bcryptprimitives.dll"
	x86_64-w64-mingw32-gcc -shared -O2 -Wall -o "$dll.tmp" "$src" -Wl,--kill-at
	mv "$dll.tmp" "$dll"
	echo "$sum" >"$stamp"
fi
sys32=$WINEPREFIX/drive_c/windows/system32
if ! cmp -s "$dll" "$sys32/bcryptprimitives.dll"; then
	cp "$dll" "$sys32/bcryptprimitives.dll"
fi

# --- tests ------------------------------------------------------------------
wine_bin=$(command -v wine)
export HOMEPORT_WINEPREFIX=$WINEPREFIX HOMEPORT_WINE_REQUIRED=1
# The wineserver and Wine's own services (services.exe, winedevice.exe,
# rpcss.exe ...) that the first Windows program starts inherit its stdout
# and keep it open after it exits; go test then waits for them ("Test I/O
# incomplete"). Start them here, with no stdout, to stay until the end.
wineserver -k 2>/dev/null || true
wineserver -p </dev/null >/dev/null 2>&1
wine cmd /c exit </dev/null >/dev/null 2>&1
trap 'wineserver -k 2>/dev/null || true' EXIT
out=$cache/test-output.txt
: >"$out"
status=0
log "GOOS=windows go test -exec wine ./internal/sockets/ ./internal/procs/"
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go test -exec "$wine_bin" -count=1 -v -timeout 20m "$@" \
	./internal/sockets/ ./internal/procs/ 2>&1 | tee -a "$out" | grep -E '^(--- FAIL|FAIL|ok|panic)' >&2 || true
grep -q '^ok .*internal/sockets' "$out" && grep -q '^ok .*internal/procs' "$out" || status=1
# Only the reserved-range tests of internal/ports: its file-lock and dial
# tests meet Wine's gaps (LockFileEx, connect errors), not Windows'.
log "GOOS=windows go test -exec wine -run <reserved ranges> ./internal/ports/"
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go test -exec "$wine_bin" -count=1 -v -timeout 10m \
	-run 'Netsh|Reserved|Excluded|DynamicPort' "$@" ./internal/ports/ 2>&1 | tee -a "$out" | grep -E '^(--- FAIL|FAIL|ok|panic)' >&2 || true
grep -q '^ok .*internal/ports' "$out" || status=1
log "end to end: homeport.exe under wine"
go test -count=1 -v -timeout 20m "$@" ./scripts/wine/ 2>&1 | tee -a "$out" | grep -E '^(--- FAIL|FAIL|ok|panic)' >&2 || true
grep -q '^ok .*scripts/wine' "$out" || status=1

# Counts of top-level tests, subtests and fuzz seeds included.
passed=$(grep -cE '^\s*--- PASS' "$out" || true)
failed=$(grep -cE '^\s*--- FAIL' "$out" || true)
skipped=$(grep -cE '^\s*--- SKIP' "$out" || true)
if [ "$status" != 0 ] && [ "$failed" = 0 ]; then
	failed=1 # a build failure or a panic: nothing says --- FAIL
	grep -E '^(FAIL|panic|#)|cannot|undefined' "$out" | head -20 >&2 || true
fi
if [ "$failed" != 0 ]; then
	# What the failed tests printed, so that a CI log says why.
	log "output of the failed tests:"
	grep -B15 -A8 -E '^\s*--- FAIL' "$out" | head -120 >&2 || true
fi
if [ "$passed" = 0 ]; then
	log "no test ran"
	status=1
fi
echo "windows: $passed passed, $failed failed, $skipped skipped"
exit "$status"
