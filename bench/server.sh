# Sourced by the bench scripts: start_server NAME FLEET CONFIG [BINARY] starts `serve` (engine
# paused) on a free port of 127.0.0.1 with a SQLite database $work/NAME.db, waits for it to
# listen, and sets port, token (the first admin token) and pid; the pid joins `pids` for the
# caller's exit trap. Needs $bin (the default binary) and $work (a scratch folder).
start_server() {
    local name=$1 fleet=$2 config=$3 binary=${4:-$bin}
    "$binary" serve --listen 127.0.0.1:0 --db "sqlite:$work/$name.db" --fleet "$fleet" \
        --config "$config" --engine-paused >"$work/$name.out" 2>"$work/$name.err" &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 1 100); do grep -qs "listening on" "$work/$name.out" && break; sleep 0.1; done
    port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/$name.out")
    token=$(sed -n 's/.*admin token: \(.*\)/\1/p' "$work/$name.out")
}
