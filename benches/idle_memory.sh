#!/usr/bin/env bash
# Memory per idle keep-alive HTTP/1.1 connection: hyper on heist (examples/http.rs) against
# hyper on tokio (examples/http_tokio.rs), the same server on each runtime.
#
#   benches/idle_memory.sh                 # 10,000 connections (fewer if the fd limit is lower)
#   CONNECTIONS=2000 ROUNDS=3 benches/idle_memory.sh
#
# For each server in turn (a fresh process each round): read its VmRSS, open CONNECTIONS
# connections, send one request on each and read its response (so hyper's buffers and the
# runtime's per-connection state all exist), leave them idle for a second, read VmRSS again,
# close them all, wait two seconds, read it a third time. The growth divided by CONNECTIONS is
# the cost of one idle connection: the task, the runtime's I/O registration, hyper's buffers
# (the pages of them that were touched) and allocator overhead. Prints the medians over ROUNDS
# and the ratio heist/tokio (lower is better). The client is a Python script (python3), so
# that it costs the servers nothing. Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKERS=${WORKERS:-2}
ROUNDS=${ROUNDS:-2}
HEIST_PORT=${HEIST_PORT:-18090}
TOKIO_PORT=${TOKIO_PORT:-18091}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
command -v python3 >/dev/null || { echo "needs python3 for the client" >&2; exit 1; }

cargo build --release --features hyper --example http --example http_tokio
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# Each side of a connection holds one descriptor: leave room for the servers' own.
limit=$(ulimit -n)
CONNECTIONS=${CONNECTIONS:-$(( limit - 100 < 10000 ? limit - 100 : 10000 ))}

PID=
trap '[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null || true' EXIT

measure() { # runtime binary port -> "per_connection_bytes after_close_growth_bytes"
  local binary=$1 port=$2
  HEIST_WORKER_THREADS=$WORKERS TOKIO_WORKER_THREADS=$WORKERS \
    "$TARGET_DIR/release/examples/$binary" "127.0.0.1:$port" >/dev/null 2>&1 &
  PID=$!
  python3 - "$port" "$CONNECTIONS" "$PID" <<'PY'
import resource, socket, sys, time
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
def rss_kib():
    with open(f"/proc/{pid}/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmRSS"))
for _ in range(200):  # until the server listens
    try:
        socket.create_connection(("127.0.0.1", port)).close()
        break
    except OSError:
        time.sleep(0.05)
time.sleep(0.5)
base = rss_kib()
request = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
sockets = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(request)
    sockets.append(s)
for s in sockets:
    got = b""
    while b"Hello, World!" not in got:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("the server closed a connection")
        got += chunk
time.sleep(1)
held = rss_kib()
for s in sockets:
    s.close()
time.sleep(2)
after = rss_kib()
print((held - base) * 1024 / n, (after - base) * 1024 / n)
PY
  kill -KILL "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=
}

declare -A IDLE KEPT
for round in $(seq 1 "$ROUNDS"); do
  for rt in heist tokio; do
    if [ "$rt" = heist ]; then set -- http "$HEIST_PORT"; else set -- http_tokio "$TOKIO_PORT"; fi
    read -r idle kept < <(measure "$@")
    printf '%-5s round %s: %8.0f bytes per idle connection, %8.0f per connection still held after they closed\n' \
      "$rt" "$round" "$idle" "$kept" >&2
    IDLE[$rt]="${IDLE[$rt]:-} $idle"
    KEPT[$rt]="${KEPT[$rt]:-} $kept"
  done
done

median() {
  tr ' ' '\n' | awk 'NF' | sort -g | awk '{ v[NR] = $1 }
    END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.0f", m }'
}
hi=$(echo "${IDLE[heist]}" | median); ti=$(echo "${IDLE[tokio]}" | median)
hk=$(echo "${KEPT[heist]}" | median); tk=$(echo "${KEPT[tokio]}" | median)
echo
echo "idle keep-alive connections: $CONNECTIONS, $WORKERS workers each, VmRSS growth, median of $ROUNDS rounds"
echo
echo "| | heist | tokio | heist/tokio |"
echo "| --- | ---: | ---: | ---: |"
awk -v h="$hi" -v t="$ti" 'BEGIN { printf "| bytes per idle connection | %d | %d | %.2f |\n", h, t, h / t }'
awk -v h="$hk" -v t="$tk" 'BEGIN { printf "| bytes per connection kept after they all closed | %d | %d | %.2f |\n", h, t, (t > 0 ? h / t : 0) }'
