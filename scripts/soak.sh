#!/usr/bin/env bash
# Soak: the echo server (examples/echo.rs) under 5_000 connections from echo_client for about
# a minute, its resident memory sampled every 5 s.
#
#   scripts/soak.sh                  # 5_000 connections, ~60 s
#   SOAK_SECS=600 SOAK_CONNECTIONS=10000 SOAK_ROUND_TRIPS=50 scripts/soak.sh
#
# echo_client runs again and again (each run opens SOAK_CONNECTIONS connections, does
# SOAK_ROUND_TRIPS round trips of SOAK_SIZE bytes on each, and closes them) until SOAK_SECS
# have passed, so the server sees connection churn as well as traffic.
#
# Prints the client's errors, the round trips per second, and the server's VmRSS series.
# Exits non-zero if a client run failed, the server printed an error or died, or the server's
# RSS after the warm-up (the first SOAK_WARMUP_SECS) grew by more than 20% over its warm-up
# peak: a leak check on a server whose working set should be flat once every connection's
# buffers exist.
set -euo pipefail

SECS=${SOAK_SECS:-60}
CONNECTIONS=${SOAK_CONNECTIONS:-5000}
ROUND_TRIPS=${SOAK_ROUND_TRIPS:-20}
SIZE=${SOAK_SIZE:-64}
WARMUP=${SOAK_WARMUP_SECS:-15}
INTERVAL=5

cd "$(dirname "$0")/.."

# 5_000 connections are 10_000 descriptors (each side one, client and server in two processes,
# each well over the usual 1_024 soft limit): raise it to 65_536, or the hard limit if lower.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge 65536 ]; then
    ulimit -n 65536
else
    ulimit -n "$hard"
fi
echo "soak: ulimit -n $(ulimit -n); $CONNECTIONS connections x $ROUND_TRIPS round trips x $SIZE B per run, ${SECS} s"

cargo build --release -j2 --example echo --example echo_client
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
echo_bin="$target_dir/release/examples/echo"
client_bin="$target_dir/release/examples/echo_client"

work=$(mktemp -d)
server_pid=
sampler_pid=
cleanup() {
    [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null || true
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Port 0: the kernel picks a free port; the server prints the address it got.
"$echo_bin" 127.0.0.1:0 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
addr=
for _ in $(seq 1 100); do
    addr=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$work/server.out")
    [ -n "$addr" ] && break
    kill -0 "$server_pid" 2>/dev/null || { echo "soak: the server died:"; cat "$work/server.err"; exit 1; }
    sleep 0.1
done
[ -n "$addr" ] || { echo "soak: the server never said where it listens"; exit 1; }
echo "soak: server pid $server_pid on $addr"

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

start=$(date +%s)
(
    while kill -0 "$server_pid" 2>/dev/null; do
        echo "$(($(date +%s) - start)) $(rss_kib "$server_pid")" >>"$work/rss"
        sleep "$INTERVAL"
    done
) &
sampler_pid=$!

runs=0
failed_runs=0
total_trips=0
client_secs=0
while [ $(($(date +%s) - start)) -lt "$SECS" ]; do
    runs=$((runs + 1))
    if "$client_bin" "$addr" --connections "$CONNECTIONS" --round-trips "$ROUND_TRIPS" --size "$SIZE" \
        >"$work/client.out" 2>"$work/client.err"; then
        # "... N round trips in S s = R round trips/s ..."
        line=$(grep 'round trips/s' "$work/client.out")
        trips=$(sed -n 's/.*: \([0-9]*\) round trips in.*/\1/p' <<<"$line")
        secs=$(sed -n 's/.* in \([0-9.]*\) s = .*/\1/p' <<<"$line")
        total_trips=$((total_trips + trips))
        client_secs=$(awk -v a="$client_secs" -v b="$secs" 'BEGIN { print a + b }')
        printf 'run %3d: %s\n' "$runs" "$line"
    else
        failed_runs=$((failed_runs + 1))
        echo "run $runs FAILED:"
        sed 's/^/    /' "$work/client.err" | head -20
    fi
    kill -0 "$server_pid" 2>/dev/null || { echo "soak: the server died"; break; }
done
elapsed=$(($(date +%s) - start))
# One last sample, then stop sampling.
echo "$elapsed $(rss_kib "$server_pid")" >>"$work/rss"
kill "$sampler_pid" 2>/dev/null || true
wait "$sampler_pid" 2>/dev/null || true
sampler_pid=

server_alive=yes
kill -0 "$server_pid" 2>/dev/null || server_alive=no
server_errors=$(wc -l <"$work/server.err")

echo
echo "soak: $runs client runs in ${elapsed} s, $failed_runs failed"
awk -v t="$total_trips" -v s="$client_secs" 'BEGIN {
    printf "soak: %d round trips, %.0f round trips/s (over the clients'"'"' timed phases, %.1f s)\n", t, (s > 0 ? t / s : 0), s }'
echo "soak: server errors printed: $server_errors"
[ "$server_errors" -gt 0 ] && head -20 "$work/server.err"
echo "soak: server VmRSS (s KiB):"
sed 's/^/    /' "$work/rss"

verdict=$(awk -v warm="$WARMUP" '
    $1 <= warm { if ($2 > w) w = $2; next }
    { if ($2 > l) l = $2; n++ }
    END {
        if (n == 0 || w == 0) { print "skip no samples after the warm-up"; exit }
        g = (l - w) / w * 100
        printf "%s warm-up peak %d KiB, later peak %d KiB, growth %.1f%%\n", (g > 20 ? "fail" : "ok"), w, l, g
    }' "$work/rss")
echo "soak: RSS $verdict"

status=0
[ "$failed_runs" -eq 0 ] || { echo "soak: FAIL: $failed_runs client runs reported errors"; status=1; }
[ "$server_errors" -eq 0 ] || { echo "soak: FAIL: the server printed errors"; status=1; }
[ "$server_alive" = yes ] || { echo "soak: FAIL: the server died"; status=1; }
case "$verdict" in fail*) echo "soak: FAIL: the server's RSS grew by more than 20% after the warm-up"; status=1 ;; esac
case "$verdict" in skip*) echo "soak: FAIL: too short to judge memory (SOAK_SECS > SOAK_WARMUP_SECS)"; status=1 ;; esac
[ "$status" -eq 0 ] && echo "soak: OK"
exit "$status"
