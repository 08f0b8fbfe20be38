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
