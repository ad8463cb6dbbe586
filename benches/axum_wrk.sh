#!/usr/bin/env bash
# The axum application of examples/axum.rs under wrk: on heist (`heist::hyper::serve`) against
# the same router on tokio (`axum::serve`, benches/axum_tokio), the same worker count.
#
#   benches/axum_wrk.sh
#   WORKERS=2 CONNECTIONS="50" PATHS="/ /api/stats" DURATION=5s ROUNDS=2 benches/axum_wrk.sh
#
# Installs wrk (Debian's package) if it is missing, builds both servers in release, warms each
# up, then for each path and connection count runs `wrk -t1 -cN -dDURATION`, alternating
# heist, tokio, heist, tokio... (ROUNDS runs each). Prints requests per second and the server's
# CPU time per request (user + system, all threads), each the median over the rounds, and the
# ratios heist/tokio. Finally stops both servers with SIGINT (graceful shutdown, status 0).
# Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKERS=${WORKERS:-2}
CONNECTIONS=${CONNECTIONS:-"50 500"}
PATHS=${PATHS:-"/ /hello/wrk /api/stats /static/hello.txt"}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-2}
WARMUP=${WARMUP:-2s}
HEIST_PORT=${HEIST_PORT:-18090}
TOKIO_PORT=${TOKIO_PORT:-18091}
OUT=${OUT:-$(mktemp -d -t axum_wrk.XXXXXX)}
TARGET_DIR=${CARGO_TARGET_DIR:-target}

if ! command -v wrk >/dev/null; then
  echo "installing wrk (apt-get install -y wrk)" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >/dev/null
fi

cargo build --release --features hyper --example axum
# Its own workspace (axum's tokio feature stays out of heist's build); the same target dir.
cargo build --release --manifest-path benches/axum_tokio/Cargo.toml --target-dir "$TARGET_DIR"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

declare -A PID PORT
PORT[heist]=$HEIST_PORT
PORT[tokio]=$TOKIO_PORT
stop_servers() {
  local rt
  for rt in "${!PID[@]}"; do kill -KILL "${PID[$rt]}" 2>/dev/null || true; done
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

HEIST_WORKER_THREADS=$WORKERS "$TARGET_DIR/release/examples/axum" "127.0.0.1:$HEIST_PORT" \
  >"$OUT/heist.server.log" 2>&1 &
PID[heist]=$!
TOKIO_WORKER_THREADS=$WORKERS "$TARGET_DIR/release/axum-tokio" "127.0.0.1:$TOKIO_PORT" \
  >"$OUT/tokio.server.log" 2>&1 &
PID[tokio]=$!
wait_for_port "$HEIST_PORT"
wait_for_port "$TOKIO_PORT"
head -n1 "$OUT/heist.server.log" "$OUT/tokio.server.log" | grep -v '^$' >&2

for rt in heist tokio; do
  wrk -t1 -c50 -d"$WARMUP" "http://127.0.0.1:${PORT[$rt]}/" >/dev/null
done

cpu_ticks() {
  cat /proc/"$1"/task/*/stat 2>/dev/null | awk '{ s += $14 + $15 } END { print s + 0 }'
}
TICK_US=$((1000000 / $(getconf CLK_TCK)))

declare -A RPS CPU
for path in $PATHS; do
  for c in $CONNECTIONS; do
    for round in $(seq 1 "$ROUNDS"); do
      for rt in heist tokio; do
        file="$OUT/$rt.$(echo "$path" | tr '/' '_').c$c.r$round.txt"
        before=$(cpu_ticks "${PID[$rt]}")
        wrk -t1 -c"$c" -d"$DURATION" "http://127.0.0.1:${PORT[$rt]}$path" >"$file"
        after=$(cpu_ticks "${PID[$rt]}")
        requests=$(awk '$2 == "requests" && $3 == "in" { print $1 }' "$file")
        rps=$(awk '/^Requests\/sec:/ { print $2 }' "$file")
        cpu=$(awk -v t=$((after - before)) -v us="$TICK_US" -v n="$requests" \
          'BEGIN { printf "%.2f", t * us / n }')
        errors=$(grep -E 'Socket errors|Non-2xx' "$file" | tr -s ' ' || true)
        printf '%-5s %-18s c=%-4s round %s: %10.0f req/s  CPU %5.2f us/req  %s\n' "$rt" "$path" "$c" \
          "$round" "$rps" "$cpu" "$errors" >&2
        RPS[$rt.$path.$c]="${RPS[$rt.$path.$c]:-} $rps"
        CPU[$rt.$path.$c]="${CPU[$rt.$path.$c]:-} $cpu"
      done
    done
  done
done

median() {
  tr ' ' '\n' | awk 'NF' | sort -g | awk -v fmt="${1:-%.0f}" '{ v[NR] = $1 }
    END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf fmt, m }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo
echo "axum app, HTTP/1.1 keep-alive, $WORKERS workers each, wrk -t1 -d$DURATION, median of $ROUNDS runs"
echo
echo "| path | connections | heist req/s | tokio req/s | heist/tokio | heist CPU/req | tokio CPU/req | heist/tokio CPU |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for path in $PATHS; do
  for c in $CONNECTIONS; do
    hr=$(echo "${RPS[heist.$path.$c]}" | median)
    tr_=$(echo "${RPS[tokio.$path.$c]}" | median)
    hc=$(echo "${CPU[heist.$path.$c]}" | median %.2f)
    tc=$(echo "${CPU[tokio.$path.$c]}" | median %.2f)
    printf '| %s | %s | %s | %s | %s | %s us | %s us | %s |\n' "$path" "$c" "$hr" "$tr_" \
      "$(ratio "$hr" "$tr_")" "$hc" "$tc" "$(ratio "$hc" "$tc")"
  done
done
echo
echo "(req/s: higher is better; CPU per request: lower is better.)"
echo "wrk outputs and server logs: $OUT"

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
