#!/usr/bin/env bash
# Runs the libFuzzer targets one after another (the machine is shared: one at a time, one
# process each). For every target: replays its regression seeds, then fuzzes for SECONDS from
# its committed seeds plus what earlier runs found (build-fuzz/corpus), and at the end prints
# executions per second and coverage per target.
#   fuzz/run.sh SECONDS [TARGET...]     (make fuzz, make fuzz-smoke)
# Exits non-zero when a target crashes, leaks, times out or breaks a promise; the input is in
# build-fuzz/artifacts/TARGET/.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
build=${FUZZ_BUILD_DIR:-build-fuzz}
all_targets=(alert_query alertmanager authorization cli_reply config fleet http_request list_query
    page_token request_body route_bodies sse)
targets=("${@:-${all_targets[@]}}")

dictionary() {
    case $1 in
        alertmanager | cli_reply | fleet | request_body | route_bodies) echo fuzz/dict/json.dict ;;
        alert_query | authorization | http_request | list_query) echo fuzz/dict/http.dict ;;
        config) echo fuzz/dict/yaml.dict ;;
        sse) echo fuzz/dict/sse.dict ;;
    esac
}

# The parser's own source files: the coverage of their edges is the figure that says how much
# of the parser a run reached (the binaries also hold Boost and the standard library).
sources() {
    case $1 in
        alert_query) echo api/request_params.cpp api/request_target.cpp ;;
        alertmanager) echo health/alertmanager.cpp health/policy.cpp model/alert.cpp common/time.cpp ;;
        authorization) echo auth/bearer_token.cpp ;;
        cli_reply) echo cli/reply.cpp cli/views.cpp cli/table.cpp cli/enums.cpp ;;
        config) echo cli/config.cpp ;;
        fleet) echo providers/simulated/fleet.cpp ;;
        http_request) echo api/request_target.cpp api/router.cpp ;;
        list_query) echo api/request_params.cpp api/request_target.cpp ;;
        page_token) echo remediation/page_token.cpp ;;
        request_body) echo common/json.cpp ;;
        route_bodies) echo api/request_bodies.cpp ;;
        sse) echo cli/sse.cpp ;;
    esac
}

# Sums "edges: A/B" of -print_coverage's functions that are defined in the given src/ files.
source_edges() {
    awk -v files="$1" '
        BEGIN { n = split(files, list, " "); for (i = 1; i <= n; i++) wanted["/src/" list[i]] = 1 }
        /^(COVERED|UNCOVERED)_FUNC:/ {
            path = $NF; sub(/:[0-9]+$/, "", path)
            for (f in wanted) if (substr(path, length(path) - length(f) + 1) == f) {
                for (i = 1; i < NF; i++) if ($i == "edges:") { split($(i + 1), ab, "/"); a += ab[1]; b += ab[2] }
            }
        }
        END { if (b > 0) printf "%d/%d (%.0f%%)", a, b, 100 * a / b; else printf "-" }' "$2"
}

failed=()
summary=()
for target in "${targets[@]}"; do
    binary=$build/fuzz/${target}_fuzzer
    if [ ! -x "$binary" ]; then
        echo "fuzz: no $binary; build it with: cmake --preset fuzz && cmake --build --preset fuzz"
        exit 2
    fi
    artifacts=$build/artifacts/$target
    found=$build/corpus/$target
    log=$build/logs/$target.log
    mkdir -p "$artifacts" "$found" "$(dirname "$log")"

    regressions=(fuzz/regressions/"$target"/*)
    if [ -e "${regressions[0]}" ]; then
        if ! "$binary" -artifact_prefix="$artifacts/" "${regressions[@]}" >"$log" 2>&1; then
            tail -40 "$log"
            echo "fuzz: $target fails a regression seed (log: $log)"
            failed+=("$target")
            continue
        fi
        echo "fuzz: $target: ${#regressions[@]} regression seeds pass"
    fi

    dict=$(dictionary "$target")
    seeds=()
    for dir in fuzz/corpus/"$target" fuzz/regressions/"$target"; do
        [ -d "$dir" ] && seeds+=("$dir")
    done
    echo "fuzz: $target for ${seconds}s"
    # -timeout: an input that takes 10 s is a hang. -rss_limit_mb: inputs are a few KiB, so a
    # parser that needs 1 GiB grows without bound.
    "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
        -print_coverage=1 -artifact_prefix="$artifacts/" ${dict:+-dict="$dict"} \
        "$found" "${seeds[@]}" >"$log" 2>&1
    status=$?
    edges=$(sed -n 's/.*Loaded 1 modules *(\([0-9]*\) inline 8-bit counters).*/\1/p' "$log" | head -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    parser=$(source_edges "$(sources "$target")" "$log")
    summary+=("$(printf '%-13s %10s %9s %7s %7s %7s %6s  %s' "$target" "${runs:--}" "${rate:--}" \
        "${cov:--}" "${edges:--}" "${ft:--}" "${corp:--}" "$parser")")
    if [ $status -ne 0 ]; then
        grep -E -A30 'ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|runtime error|broken promise' \
            "$log" | head -60
        echo "fuzz: $target failed (log: $log; input in $artifacts/)"
        failed+=("$target")
    fi
done

echo
echo "libFuzzer, ${seconds}s per target ($build, $(clang++ --version | head -1)):"
printf '%-13s %10s %9s %7s %7s %7s %6s  %s\n' target runs exec/s cov edges ft corpus \
    "parser edges"
printf '%s\n' "${summary[@]}"
echo "(cov: edges reached of the 'edges' in the binary, Boost and the standard library included;"
echo " ft: libFuzzer's features; corpus: inputs kept; parser edges: reached of those in the"
echo " parser's own files, see sources() in fuzz/run.sh)"
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "fuzz: $((${#targets[@]} - ${#failed[@]})) passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
