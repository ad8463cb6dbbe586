#!/usr/bin/env bash
# HTTP/1.1 hello world under wrk: hyper on heist (examples/http.rs) against hyper on tokio
# (examples/http_tokio.rs), the same server on each runtime, the same worker count.
#
#   benches/http_wrk.sh
#   WORKERS=2 CONNECTIONS="50 500" DURATION=10s ROUNDS=2 benches/http_wrk.sh
#   PERF=heist benches/http_wrk.sh     # also `perf record -g` the heist server (or PERF=tokio)
#
# Installs wrk (Debian's package) if it is missing, builds both examples in release, starts
# each server on its own loopback port, warms each up, then runs `wrk -t1 -cN -dDURATION
# --latency` for each connection count, alternating heist, tokio, heist, tokio... (ROUNDS runs
# each) so that drift in the machine's speed hits both alike. Prints requests per second, p99
# latency and the server's CPU time per request (user + system, all its threads: the figure
# least disturbed by other load on the machine), each the median over the rounds, and the
# ratios heist/tokio; the raw wrk outputs stay in the printed directory. Finally stops both
# servers with SIGINT, which must shut them down gracefully with exit status 0. Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKERS=${WORKERS:-2}
CONNECTIONS=${CONNECTIONS:-"50 500"}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-2}
WARMUP=${WARMUP:-2s}
HEIST_PORT=${HEIST_PORT:-18080}
TOKIO_PORT=${TOKIO_PORT:-18081}
PERF=${PERF:-}
OUT=${OUT:-$(mktemp -d -t http_wrk.XXXXXX)}
TARGET_DIR=${CARGO_TARGET_DIR:-target}

if ! command -v wrk >/dev/null; then
  echo "installing wrk (apt-get install -y wrk)" >&2
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  fi
fi

cargo build --release --features hyper --example http --example http_tokio
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

declare -A PID PORT
PORT[heist]=$HEIST_PORT
PORT[tokio]=$TOKIO_PORT
PERF_PID=

stop_servers() {
  [ -n "$PERF_PID" ] && kill -INT "$PERF_PID" 2>/dev/null && wait "$PERF_PID" 2>/dev/null || true
  PERF_PID=
  local rt
  for rt in "${!PID[@]}"; do
    kill -KILL "${PID[$rt]}" 2>/dev/null || true
  done
}
trap stop_servers EXIT

wait_for_port() {
  local port=$1 tries=0
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    tries=$((tries + 1))
    if [ "$tries" -gt 200 ]; then
      echo "nothing listens on 127.0.0.1:$port after 10 s" >&2
      exit 1
    fi
    sleep 0.05
  done
}

HEIST_WORKER_THREADS=$WORKERS "$TARGET_DIR/release/examples/http" "127.0.0.1:$HEIST_PORT" \
  >"$OUT/heist.server.log" 2>&1 &
PID[heist]=$!
TOKIO_WORKER_THREADS=$WORKERS "$TARGET_DIR/release/examples/http_tokio" "127.0.0.1:$TOKIO_PORT" \
  >"$OUT/tokio.server.log" 2>&1 &
PID[tokio]=$!
wait_for_port "$HEIST_PORT"
wait_for_port "$TOKIO_PORT"

# The first lines of each log: the address and the worker count.
head -n1 "$OUT/heist.server.log" "$OUT/tokio.server.log" | grep -v '^$' >&2

if [ -n "$PERF" ]; then
  perf record -g -o "$OUT/$PERF.perf.data" -p "${PID[$PERF]}" >"$OUT/perf.log" 2>&1 &
  PERF_PID=$!
fi

for rt in heist tokio; do
  wrk -t1 -c50 -d"$WARMUP" "http://127.0.0.1:${PORT[$rt]}/" >/dev/null
done

# wrk's latency as microseconds ("812.00us", "1.23ms", "1.01s").
to_us() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) print n
    else if (v ~ /ms$/) print n * 1000
    else if (v ~ /s$/) print n * 1000000
    else print n
  }'
}

# CPU time of a process, all its threads, in clock ticks.
cpu_ticks() {
  cat /proc/"$1"/task/*/stat 2>/dev/null | awk '{ s += $14 + $15 } END { print s + 0 }'
}
TICK_US=$((1000000 / $(getconf CLK_TCK)))

declare -A RPS P99 CPU
for c in $CONNECTIONS; do
  for round in $(seq 1 "$ROUNDS"); do
    for rt in heist tokio; do
      file="$OUT/$rt.c$c.r$round.txt"
      before=$(cpu_ticks "${PID[$rt]}")
      wrk -t1 -c"$c" -d"$DURATION" --latency "http://127.0.0.1:${PORT[$rt]}/" >"$file"
      after=$(cpu_ticks "${PID[$rt]}")
      requests=$(awk '$2 == "requests" && $3 == "in" { print $1 }' "$file")
      rps=$(awk '/^Requests\/sec:/ { print $2 }' "$file")
      p99=$(to_us "$(awk '$1 == "99%" { print $2 }' "$file")")
      cpu=$(awk -v t=$((after - before)) -v us="$TICK_US" -v n="$requests" \
        'BEGIN { printf "%.2f", t * us / n }')
      errors=$(grep -E 'Socket errors|Non-2xx' "$file" | tr -s ' ' || true)
      printf '%-5s c=%-4s round %s: %10.0f req/s  p99 %8.0f us  CPU %5.2f us/req  %s\n' "$rt" "$c" "$round" \
        "$rps" "$p99" "$cpu" "$errors" >&2
      RPS[$rt.$c]="${RPS[$rt.$c]:-} $rps"
      P99[$rt.$c]="${P99[$rt.$c]:-} $p99"
      CPU[$rt.$c]="${CPU[$rt.$c]:-} $cpu"
    done
  done
done

if [ -n "$PERF" ]; then
  kill -INT "$PERF_PID" && wait "$PERF_PID" || true
  PERF_PID=
  echo "perf data: $OUT/$PERF.perf.data (perf report -i $OUT/$PERF.perf.data --no-children)" >&2
fi

# The median of the numbers on stdin (the mean of the middle two for an even count).
median() {
  tr ' ' '\n' | awk 'NF' | sort -g | awk -v fmt="${1:-%.0f}" '{ v[NR] = $1 }
    END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf fmt, m }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo
echo "hyper hello world, HTTP/1.1 keep-alive, $WORKERS workers each, wrk -t1 -d$DURATION --latency," \
  "median of $ROUNDS runs"
echo
echo "| connections | heist req/s | tokio req/s | heist/tokio | heist p99 | tokio p99 | heist/tokio p99" \
  "| heist CPU/req | tokio CPU/req | heist/tokio CPU |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for c in $CONNECTIONS; do
  hr=$(echo "${RPS[heist.$c]}" | median)
  tr_=$(echo "${RPS[tokio.$c]}" | median)
  hp=$(echo "${P99[heist.$c]}" | median)
  tp=$(echo "${P99[tokio.$c]}" | median)
  hc=$(echo "${CPU[heist.$c]}" | median %.2f)
  tc=$(echo "${CPU[tokio.$c]}" | median %.2f)
  printf '| %s | %s | %s | %s | %s us | %s us | %s | %s us | %s us | %s |\n' "$c" "$hr" "$tr_" \
    "$(ratio "$hr" "$tr_")" "$hp" "$tp" "$(ratio "$hp" "$tp")" "$hc" "$tc" "$(ratio "$hc" "$tc")"
done
echo
echo "(req/s: higher is better; p99 and CPU per request: lower is better.)"
echo "wrk outputs and server logs: $OUT"

# Ctrl-C for each server: a graceful shutdown that must end with status 0.
status=0
for rt in heist tokio; do
  kill -INT "${PID[$rt]}"
  if wait "${PID[$rt]}"; then
    echo "$rt server: stopped by SIGINT, exit status 0" >&2
  else
    code=$?
    echo "$rt server: exit status $code after SIGINT (log: $OUT/$rt.server.log)" >&2
    status=1
  fi
  unset "PID[$rt]"
done
exit $status
