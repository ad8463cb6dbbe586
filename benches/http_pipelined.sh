#!/usr/bin/env bash
# 1000 pipelined HTTP/1.1 requests with Nagle's algorithm on (TCP_NODELAY off): hyper on heist
# (examples/http.rs) against hyper on tokio (examples/http_tokio.rs), both started with
# HTTP_NAGLE=1. A response that left as two writes (head, then body) would wait for the
# client's delayed ACK (40 ms on Linux) behind Nagle's algorithm; one `writev` does not.
#
#   benches/http_pipelined.sh            # ROUNDS=15 rounds of 1000 requests on a new connection
#
# Prints the median and the fastest round of each server and the ratio heist/tokio (lower is
# better), and each server's count of write system calls per response (strace, when present).
# A connection's first rounds can still meet one delayed ACK on either runtime: Linux starts a
# connection in quick-ACK mode and may leave it; the median says which runtime waits routinely.
# The client is a Python script (python3). Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKERS=${WORKERS:-2}
ROUNDS=${ROUNDS:-15}
REQUESTS=${REQUESTS:-1000}
HEIST_PORT=${HEIST_PORT:-18092}
TOKIO_PORT=${TOKIO_PORT:-18093}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
command -v python3 >/dev/null || { echo "needs python3 for the client" >&2; exit 1; }

cargo build --release --features hyper --example http --example http_tokio
declare -A PID
trap 'for p in "${PID[@]}"; do kill -KILL "$p" 2>/dev/null || true; done' EXIT
HTTP_NAGLE=1 HEIST_WORKER_THREADS=$WORKERS "$TARGET_DIR/release/examples/http" "127.0.0.1:$HEIST_PORT" >/dev/null 2>&1 &
PID[heist]=$!
HTTP_NAGLE=1 TOKIO_WORKER_THREADS=$WORKERS "$TARGET_DIR/release/examples/http_tokio" "127.0.0.1:$TOKIO_PORT" >/dev/null 2>&1 &
PID[tokio]=$!

client() { # port -> one line per round: milliseconds
  python3 - "$1" "$ROUNDS" "$REQUESTS" <<'PY'
import socket, sys, time
port, rounds, n = (int(a) for a in sys.argv[1:4])
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", port)).close()
        break
    except OSError:
        time.sleep(0.05)
requests = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n" * n
for _ in range(rounds):
    s = socket.create_connection(("127.0.0.1", port))
    start = time.perf_counter()
    s.sendall(requests)
    got = b""
    while got.count(b"Hello, World!") < n:
        chunk = s.recv(1 << 20)
        if not chunk:
            sys.exit("the server closed the connection")
        got += chunk
    print((time.perf_counter() - start) * 1000)
    s.close()
PY
}

stats() { sort -g | awk '{ v[NR] = $1 } END { printf "%.2f %.2f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[1] }'; }
declare -A MEDIAN FASTEST WRITES
for rt in heist tokio; do
  if [ "$rt" = heist ]; then port=$HEIST_PORT; else port=$TOKIO_PORT; fi
  read -r MEDIAN[$rt] FASTEST[$rt] < <(client "$port" | stats)
  WRITES[$rt]="n/a"
  if command -v strace >/dev/null; then
    log=$(mktemp)
    strace -f -c -e trace=write,writev,sendmsg,sendto -p "${PID[$rt]}" -o "$log" 2>/dev/null &
    tracer=$!
    sleep 0.5
    ROUNDS=1 client "$port" >/dev/null
    kill -INT "$tracer"; wait "$tracer" 2>/dev/null || true
    # eventfd notifications are `write`s too: count the socket writes only.
    WRITES[$rt]=$(awk -v n="$REQUESTS" '$NF == "writev" || $NF == "sendmsg" || $NF == "sendto" { s += $4 } END { printf "%.2f", s / n }' "$log")
    rm -f "$log"
  fi
done

echo
echo "$REQUESTS pipelined requests per connection, Nagle on, $WORKERS workers each, $ROUNDS rounds"
echo
echo "| | heist | tokio | heist/tokio |"
echo "| --- | ---: | ---: | ---: |"
awk -v h="${MEDIAN[heist]}" -v t="${MEDIAN[tokio]}" 'BEGIN { printf "| median ms | %.2f | %.2f | %.2f |\n", h, t, h / t }'
awk -v h="${FASTEST[heist]}" -v t="${FASTEST[tokio]}" 'BEGIN { printf "| fastest ms | %.2f | %.2f | %.2f |\n", h, t, h / t }'
echo "| socket writes per response | ${WRITES[heist]} | ${WRITES[tokio]} | |"
