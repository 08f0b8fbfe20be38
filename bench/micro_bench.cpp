// Micro-benchmarks of the helpers every request touches: ids, timestamps, JSON in and out.
// Run: build/bench/noderepair_micro_bench (Google Benchmark flags apply).
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>

#include "common/ids.hpp"
#include "common/json.hpp"
#include "common/time.hpp"
#include "model/remediation.hpp"

namespace {

using noderepair::FromMicros;
using noderepair::Timestamp;

constexpr int64_t kSomeTimeUs = 1795000000123456;  // late 2026

void BM_NewUuidV7(benchmark::State& state) {
    Timestamp now = FromMicros(kSomeTimeUs);
    for (auto _ : state) {
        benchmark::DoNotOptimize(noderepair::NewUuidV7(now));
    }
}
BENCHMARK(BM_NewUuidV7);

// Every authenticated request hashes its bearer token; every audit record hashes its chain.
void BM_Sha256HexOfAToken(benchmark::State& state) {
    const std::string token = "nr_0123456789abcdef0123456789abcdef0123456789abcdef";
    for (auto _ : state) {
        benchmark::DoNotOptimize(noderepair::Sha256Hex(token));
    }
}
BENCHMARK(BM_Sha256HexOfAToken);

void BM_FormatRfc3339(benchmark::State& state) {
    Timestamp t = FromMicros(kSomeTimeUs);
    for (auto _ : state) {
        benchmark::DoNotOptimize(noderepair::FormatRfc3339(t));
    }
}
BENCHMARK(BM_FormatRfc3339);

void BM_ParseRfc3339(benchmark::State& state) {
    const std::string text = noderepair::FormatRfc3339(FromMicros(kSomeTimeUs));
    for (auto _ : state) {
        benchmark::DoNotOptimize(noderepair::ParseRfc3339(text));
    }
}
BENCHMARK(BM_ParseRfc3339);

void BM_ParseCreateBody(benchmark::State& state) {
    const std::string body = R"({"mode":"REMEDIATION_MODE_VM_ONLY","reason":"bench"})";
    for (auto _ : state) {
        auto parsed = noderepair::ParseStrictJson(body);
        benchmark::DoNotOptimize(parsed.has_value());
    }
}
BENCHMARK(BM_ParseCreateBody);

// A remediation-shaped object, written the way handlers write one (about 600 bytes).
void WriteRemediationLike(std::string& out, Timestamp t) {
    using noderepair::model::WireName;
    const std::string time = noderepair::FormatRfc3339(t);
    noderepair::JsonWriter w(out);
    w.BeginObject()
        .Key("id")
        .String("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
        .Key("cluster_id")
        .String("bench-cluster")
        .Key("instance_id")
        .String("i-0000123")
        .Key("instance_name")
        .String("gpu-0000123")
        .Key("mode")
        .String(WireName(noderepair::model::Mode::kVmOnly))
        .Key("trigger")
        .String(WireName(noderepair::model::Trigger::kManual))
        .Key("state")
        .String(WireName(noderepair::model::State::kSucceeded))
        .Key("reason")
        .String("seeded by bench/seed_remediations")
        .Key("requested_by")
        .String("bench")
        .Key("create_time")
        .String(time)
        .Key("update_time")
        .String(time)
        .Key("start_time")
        .String(time)
        .Key("end_time")
        .String(time)
        .Key("linked_alerts")
        .BeginArray()
        .EndArray()
        .EndObject();
}

void BM_WriteRemediationJson(benchmark::State& state) {
    Timestamp t = FromMicros(kSomeTimeUs);
    std::string out;
    for (auto _ : state) {
        out.clear();
        WriteRemediationLike(out, t);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                            static_cast<int64_t>(out.size()));
}
BENCHMARK(BM_WriteRemediationJson);

// One list page of 50 (docs/http-api.md 4.3), the unit of the list benchmark in bench/run.sh.
void BM_WritePageOf50(benchmark::State& state) {
    Timestamp t = FromMicros(kSomeTimeUs);
    std::string out;
    for (auto _ : state) {
        out.clear();
        out += R"({"remediations":[)";
        for (int i = 0; i < 50; ++i) {
            if (i > 0) out += ',';
            WriteRemediationLike(out, t + std::chrono::microseconds(i));
        }
        out += R"(],"has_next":true,"next_page_token":"x"})";
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                            static_cast<int64_t>(out.size()));
}
BENCHMARK(BM_WritePageOf50);

}  // namespace

BENCHMARK_MAIN();
