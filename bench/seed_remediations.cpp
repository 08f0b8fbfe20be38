// Seeds a database for the benchmarks: imports a fleet file and stores many remediations
// straight through the storage interface (one WriteAndWait per batch), far faster than the
// API could. Remediations go to one cluster, spread round-robin over its instances, with
// strictly increasing create_time; all are SUCCEEDED except the newest of a few instances,
// which stays PENDING (at most one active per instance, as the store requires). The overview's
// daily aggregates (docs/http-api.md 11) are written too, as the one writer would have kept
// them: created on the creation day, succeeded and the stage durations on the end day.
//
//   seed_remediations --db sqlite:PATH --fleet FLEET.json [--remediations 1000000]
//                     [--cluster ID] [--batch 10000] [--active-per-mille 10]
//                     [--events 0] [--span-days 30]
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/ids.hpp"
#include "common/status.hpp"
#include "common/time.hpp"
#include "model/inventory.hpp"
#include "model/remediation.hpp"
#include "model/stats.hpp"
#include "providers/simulated/fleet.hpp"
#include "storage/open.hpp"
#include "storage/store.hpp"

namespace {

using noderepair::Status;
using noderepair::Timestamp;
using noderepair::model::Mode;
using noderepair::model::Remediation;
using noderepair::model::RemediationEvent;
using noderepair::model::State;
using noderepair::model::Trigger;
using noderepair::storage::FleetImport;
using noderepair::storage::Store;
using noderepair::storage::Txn;

using Clock = std::chrono::steady_clock;

struct Options {
    std::string db;
    std::string fleet;
    std::string cluster;  // empty: the fleet's first cluster
    int64_t remediations = 1000000;
    int64_t batch = 10000;
    int64_t active_per_mille = 10;  // instances (per 1000) whose newest remediation is PENDING
    int64_t events = 0;             // events per remediation (0, 1 or 2)
    int64_t span_days = 30;         // create times spread over this many days before now
};

void Usage() {
    std::fprintf(stderr,
                 "usage: seed_remediations --db sqlite:PATH --fleet FLEET.json\n"
                 "         [--remediations N=1000000] [--cluster ID=first] [--batch N=10000]\n"
                 "         [--active-per-mille N=10] [--events 0|1|2] [--span-days N=30]\n");
}

bool ParseInt(const char* text, int64_t& out) {
    char* end = nullptr;
    long long v = std::strtoll(text, &end, 10);
    if (end == text || *end != '\0' || v < 0) return false;
    out = v;
    return true;
}

bool ParseArgs(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        std::string_view flag = argv[i];
        if (i + 1 >= argc) return false;
        const char* value = argv[++i];
        bool ok = true;
        if (flag == "--db") {
            o.db = value;
        } else if (flag == "--fleet") {
            o.fleet = value;
        } else if (flag == "--cluster") {
            o.cluster = value;
        } else if (flag == "--remediations") {
            ok = ParseInt(value, o.remediations);
        } else if (flag == "--batch") {
            ok = ParseInt(value, o.batch) && o.batch > 0;
        } else if (flag == "--active-per-mille") {
            ok = ParseInt(value, o.active_per_mille) && o.active_per_mille <= 1000;
        } else if (flag == "--events") {
            ok = ParseInt(value, o.events) && o.events <= 2;
        } else if (flag == "--span-days") {
            ok = ParseInt(value, o.span_days) && o.span_days > 0;
        } else {
            ok = false;
        }
        if (!ok) return false;
    }
    return !o.db.empty() && !o.fleet.empty();
}

struct Target {
    std::string instance_id;
    std::string instance_name;
};

// Remediation number `i` of the run; see the file comment for the shape.
Remediation MakeRemediation(int64_t i, const Options& o, const std::string& cluster_id,
                            const std::vector<Target>& targets, Timestamp base,
                            std::chrono::microseconds step) {
    using std::chrono::microseconds;
    using std::chrono::seconds;
    const auto n = static_cast<int64_t>(targets.size());
    const int64_t instance = i % n;
    const bool newest = i + n >= o.remediations;
    const bool active = newest && (instance % 1000) < o.active_per_mille;
    const Target& t = targets[static_cast<size_t>(instance)];

    static constexpr Mode kModes[] = {Mode::kVmOnly, Mode::kRebootVm, Mode::kHostAware,
                                      Mode::kVmOnly, Mode::kRebootVm};
    Remediation r;
    r.create_time = base + step * i;
    r.id = noderepair::NewUuidV7(r.create_time);
    r.cluster_id = cluster_id;
    r.instance_id = t.instance_id;
    r.instance_name = t.instance_name;
    r.mode = kModes[i % 5];
    r.requested_mode = r.mode;
    if (i % 4 == 3) {
        r.trigger = Trigger::kAutomated;
        r.requested_by = "system:health-checks";
        r.reason = "DmesgXidError: Xid 48 on GPU 3 (seeded)";
        r.reviewed_by = "auto-approved";
        r.review_time = r.create_time;
    } else {
        r.trigger = Trigger::kManual;
        r.requested_by = "bench-seed";
        r.reason = "seeded by bench/seed_remediations #" + std::to_string(i);
    }
    if (active) {
        r.state = State::kPending;
        r.update_time = r.create_time;
    } else {
        r.state = State::kSucceeded;
        r.start_time = r.create_time + seconds(2);
        r.end_time = r.create_time + seconds(300 + (i * 7919) % 600);
        r.update_time = *r.end_time;
    }
    return r;
}

// The overview's aggregates of the seeded remediations, summed in memory and written once.
struct SeededStats {
    std::map<std::pair<int64_t, Mode>, std::array<int64_t, 3>> daily;  // created, succeeded, failed
    std::map<int64_t, std::vector<noderepair::model::StageSample>> stages;  // by end day

    void Count(const Remediation& r) {
        ++daily[{noderepair::model::UtcDay(r.create_time), r.mode}][0];
        if (!r.end_time) return;
        const int64_t end_day = noderepair::model::UtcDay(*r.end_time);
        ++daily[{end_day, r.mode}][1];
        // Queued until picked up, then half acting, half recovering.
        const auto running = *r.end_time - *r.start_time;
        auto& samples = stages[end_day];
        samples.push_back({noderepair::model::Stage::kQueued, *r.start_time - r.create_time});
        samples.push_back({noderepair::model::Stage::kAction, running / 2});
        samples.push_back({noderepair::model::Stage::kRecovery, running - running / 2});
    }

    Status Write(Store& store, const std::string& cluster_id) const {
        return store.WriteAndWait([&](Txn& txn) -> Status {
            for (const auto& [key, n] : daily) {
                NR_RETURN_IF_ERROR(
                    txn.Stats().AddDaily(cluster_id, key.first, key.second, n[0], n[1], n[2]));
            }
            for (const auto& [day, samples] : stages) {
                NR_RETURN_IF_ERROR(txn.Stats().AddStages(cluster_id, day, samples));
            }
            return noderepair::OkStatus();
        });
    }
};

int Run(const Options& o) {
    const auto started = Clock::now();
    // The server's own fleet-file parser, so the seeded rows are what `serve --fleet` stores.
    auto loaded = noderepair::providers::simulated::LoadFleetFile(o.fleet);
    if (!loaded) {
        std::fprintf(stderr, "seed: %s\n", loaded.error().message.c_str());
        return 1;
    }
    FleetImport* fleet = &loaded->inventory;
    const noderepair::model::Cluster* cluster = nullptr;
    size_t instance_count = 0;
    for (const auto& c : fleet->clusters) {
        instance_count += c.gpu_worker_nodes.size();
        if (cluster == nullptr && (o.cluster.empty() || c.cluster_id == o.cluster)) cluster = &c;
    }
    if (cluster == nullptr || cluster->gpu_worker_nodes.empty()) {
        std::fprintf(stderr, "seed: cluster %s not in the fleet or without instances\n",
                     o.cluster.c_str());
        return 1;
    }
    const std::string cluster_id = cluster->cluster_id;
    std::vector<Target> targets;
    targets.reserve(cluster->gpu_worker_nodes.size());
    for (const auto& inst : cluster->gpu_worker_nodes) {
        targets.push_back({inst.instance_id, inst.instance_name});
    }

    auto opened = noderepair::storage::OpenStore(o.db);
    if (!opened) {
        std::fprintf(stderr, "seed: open %s: %s\n", o.db.c_str(), opened.error().message.c_str());
        return 1;
    }
    std::unique_ptr<Store> store = std::move(opened).value();

    Status imported =
        store->WriteAndWait([&](Txn& txn) { return txn.Inventory().ImportFleet(*fleet); });
    if (!imported) {
        std::fprintf(stderr, "seed: import fleet: %s\n", imported.error().message.c_str());
        return 1;
    }
    const double import_s = std::chrono::duration<double>(Clock::now() - started).count();
    std::fprintf(stderr, "seed: imported %zu clusters, %zu instances, %zu hosts in %.2f s\n",
                 fleet->clusters.size(), instance_count, fleet->hosts.size(), import_s);
    *fleet = FleetImport{};  // the fleet is stored; free it

    noderepair::SystemClock clock;
    const std::chrono::microseconds span = std::chrono::hours(24) * o.span_days;
    const std::chrono::microseconds step =
        std::max(std::chrono::microseconds(1), span / std::max<int64_t>(o.remediations, 1));
    // The newest one is an hour old, so the server's own creates sort after every seeded row.
    const Timestamp base = clock.Now() - std::chrono::hours(1) - step * o.remediations;

    SeededStats seeded_stats;
    const auto insert_start = Clock::now();
    auto last_report = insert_start;
    for (int64_t first = 0; first < o.remediations; first += o.batch) {
        const int64_t end = std::min(o.remediations, first + o.batch);
        std::vector<Remediation> batch;
        batch.reserve(static_cast<size_t>(end - first));
        for (int64_t i = first; i < end; ++i) {
            batch.push_back(MakeRemediation(i, o, cluster_id, targets, base, step));
            seeded_stats.Count(batch.back());
        }
        // Changes of 100 rows, as the server's writes are small: one savepoint per change keeps
        // SQLite's statement journals (the counting triggers need them) short.
        constexpr size_t kRowsPerChange = 100;
        std::vector<std::future<Status>> changes;
        for (size_t from = 0; from < batch.size(); from += kRowsPerChange) {
            const size_t to = std::min(batch.size(), from + kRowsPerChange);
            auto done = std::make_shared<std::promise<Status>>();
            changes.push_back(done->get_future());
            store->Write(
                [&batch, &o, from, to](Txn& txn) -> Status {
                    for (size_t k = from; k < to; ++k) {
                        const Remediation& r = batch[k];
                        NR_RETURN_IF_ERROR(txn.Remediations().Insert(
                            noderepair::storage::UncheckedRemediationWriteKey(), r));
                        if (o.events >= 1) {
                            RemediationEvent created{r.create_time,   "state_change",
                                                     State::kPending, "",
                                                     r.requested_by,  "created"};
                            NR_RETURN_IF_ERROR(txn.Remediations().AppendEvent(r.id, created));
                        }
                        if (o.events >= 2 && r.end_time) {
                            RemediationEvent finished{*r.end_time, "state_change", r.state,
                                                      "",          "engine",       "seeded"};
                            NR_RETURN_IF_ERROR(txn.Remediations().AppendEvent(r.id, finished));
                        }
                    }
                    return noderepair::OkStatus();
                },
                [done](Status committed) { done->set_value(std::move(committed)); });
        }
        Status s = noderepair::OkStatus();
        for (auto& change : changes) {
            Status one = change.get();
            if (s && !one) s = one;
        }
        if (!s) {
            std::fprintf(stderr, "seed: batch at %lld: %s\n", static_cast<long long>(first),
                         s.error().message.c_str());
            return 1;
        }
        const auto now = Clock::now();
        if (now - last_report > std::chrono::seconds(2) || end == o.remediations) {
            last_report = now;
            const double secs = std::chrono::duration<double>(now - insert_start).count();
            std::fprintf(stderr, "seed: %lld/%lld remediations, %.1f s, %.0f/s\n",
                         static_cast<long long>(end), static_cast<long long>(o.remediations), secs,
                         static_cast<double>(end) / std::max(secs, 1e-9));
        }
    }
    if (Status s = seeded_stats.Write(*store, cluster_id); !s) {
        std::fprintf(stderr, "seed: daily aggregates: %s\n", s.error().message.c_str());
        return 1;
    }
    store->Close();
    const double total_s = std::chrono::duration<double>(Clock::now() - started).count();
    // One machine-readable line for bench/run.sh.
    std::printf("seeded cluster=%s instances=%zu remediations=%lld seconds=%.2f\n",
                cluster_id.c_str(), instance_count, static_cast<long long>(o.remediations),
                total_s);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    if (!ParseArgs(argc, argv, options)) {
        Usage();
        return 2;
    }
    return Run(options);
}
