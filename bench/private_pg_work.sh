# Sourced by the PostgreSQL benchmarks (needs ROOT): a scratch directory WORK, removed on exit
# with the private PostgreSQL server started in "$WORK/pg" and the server SERVER_PID, if any.
WORK=$(mktemp -d)
chmod 755 "$WORK"
SERVER_PID=""
cleanup() {
    [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    "$ROOT/tools/private-postgres.sh" stop "$WORK/pg" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
# Waits (≤ 5 min: a fleet import into a busy database can take minutes) for the server writing
# to $WORK/server.out to listen; sets URL to its address.
wait_listening() {
    for _ in $(seq 1 3000); do
        grep -q 'listening on' "$WORK/server.out" && break
        sleep 0.1
    done
    URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/server.out" | head -1)
}
