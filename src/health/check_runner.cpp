#include "health/check_runner.hpp"

#include <memory>

#include "common/ids.hpp"

namespace noderepair::health {

Status CheckRunner::RecordOccurrence(storage::Txn& txn, const model::HealthCheckRun& run,
                                     Timestamp now) {
    // The first failed test names the signal, as it does for the router (docs/http-api.md 11).
    for (const auto& test : run.tests) {
        if (test.state != model::CheckState::kFailed) continue;
        const auto& modes = router_.options().test_modes;
        auto mode = modes.find(test.name);
        return txn.Alerts().AppendOccurrence(
            {0, now, run.cluster_id, run.instance_id, "health_check:" + test.name,
             mode == modes.end() ? model::Mode::kHostAware : mode->second, "", run.id});
    }
    return OkStatus();
}

void CheckRunner::Start(const std::string& cluster_id, const std::string& instance_id,
                        std::vector<std::string> tests,
                        std::function<void(Result<model::HealthCheckRun>)> done) {
    if (tests.empty()) return done(InvalidArgument("tests must name at least one test"));
    for (const auto& t : tests) {
        if (!model::IsKnownTest(t)) return done(InvalidArgument("unknown test '" + t + "'"));
    }
    auto run = std::make_shared<model::HealthCheckRun>();
    run->cluster_id = cluster_id;
    run->instance_id = instance_id;
    for (auto& t : tests) run->tests.push_back({std::move(t), model::CheckState::kRunning, ""});
    store_.Write(
        [this, run](storage::Txn& txn) -> Status {
            NR_ASSIGN_OR_RETURN(auto instance, txn.Inventory().GetInstance(run->instance_id));
            if (!instance || instance->cluster_id != run->cluster_id) {
                return NotFound("instance " + run->instance_id + " not found in cluster " +
                                run->cluster_id);
            }
            run->create_time = lifecycle_.NextTimestamp();
            run->id = NewUuidV7(run->create_time);
            return txn.HealthChecks().Put(*run);
        },
        [run, done = std::move(done)](Status committed) {
            if (!committed) return done(committed.error());
            done(*run);
        });
}

Result<model::HealthCheckRun> CheckRunner::Get(const std::string& cluster_id,
                                               const std::string& instance_id,
                                               const std::string& run_id) {
    std::optional<model::HealthCheckRun> run;
    NR_RETURN_IF_ERROR(store_.Read([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(run, reader.HealthChecks().Get(run_id));
        return OkStatus();
    }));
    if (!run || run->cluster_id != cluster_id || run->instance_id != instance_id) {
        return NotFound("health check " + run_id + " not found for instance " + instance_id +
                        " in cluster " + cluster_id);
    }
    return *std::move(run);
}

Result<std::vector<model::HealthCheckRun>> CheckRunner::List(const std::string& cluster_id,
                                                             const std::string& instance_id) {
    std::vector<model::HealthCheckRun> runs;
    NR_RETURN_IF_ERROR(store_.Read([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(auto instance, reader.Inventory().GetInstance(instance_id));
        if (!instance || instance->cluster_id != cluster_id) {
            return NotFound("instance " + instance_id + " not found in cluster " + cluster_id);
        }
        NR_ASSIGN_OR_RETURN(runs, reader.HealthChecks().ListForInstance(instance_id, 100));
        return OkStatus();
    }));
    return runs;
}

bool CheckRunner::AdvanceRun(model::HealthCheckRun& run,
                             const std::optional<model::Instance>& instance, bool host_degraded,
                             Timestamp now) {
    bool changed = false;
    for (auto& test : run.tests) {
        if (test.state != model::CheckState::kRunning) continue;
        if (!instance || instance->host_name.empty()) {
            test.state = model::CheckState::kSkipped;
            test.detail = "the instance has no VM";
            changed = true;
            continue;
        }
        if (!options_.command.empty()) {
            // One command at a time per run; a restart loses the process and runs it again.
            const std::string key = run.id + "/" + test.name;
            auto it = running_tests_.find(key);
            if (it == running_tests_.end()) {
                auto process = Subprocess::Spawn(
                    options_.command, {{"NODEREPAIR_TEST", test.name},
                                       {"NODEREPAIR_CLUSTER_ID", run.cluster_id},
                                       {"NODEREPAIR_INSTANCE_ID", run.instance_id},
                                       {"NODEREPAIR_INSTANCE_NAME", instance->instance_name},
                                       {"NODEREPAIR_NODE", instance->instance_name},
                                       {"NODEREPAIR_HOST", instance->host_name},
                                       {"NODEREPAIR_HEALTH_CHECK_ID", run.id}});
                if (!process) {
                    test.state = model::CheckState::kFailed;
                    test.detail = "could not run hooks.health_check: " + process.error().message;
                    changed = true;
                    continue;
                }
                running_tests_.emplace(key,
                                       RunningTest{std::move(*process), now + options_.timeout});
                break;
            }
            auto exit = it->second.process.Poll();
            if (!exit && now < it->second.deadline) break;
            test.state =
                exit && exit->success ? model::CheckState::kPassed : model::CheckState::kFailed;
            test.detail =
                exit ? (exit->output.empty() ? exit->how : exit->output)
                     : "timed out after " + std::to_string(options_.timeout.count()) + " s";
            running_tests_.erase(it);
            changed = true;
            continue;
        }
        if (!options_.simulated) {
            test.state = model::CheckState::kSkipped;
            test.detail = "no hooks.health_check is configured to run it";
        } else {
            const bool fails = host_degraded && model::IsGpuTest(test.name);
            test.state = fails ? model::CheckState::kFailed : model::CheckState::kPassed;
            test.detail = fails ? "simulated: host " + instance->host_name + " is degraded"
                                : "simulated: passed";
        }
        changed = true;
    }
    bool done = true;
    bool failed = false;
    for (const auto& t : run.tests) {
        done = done && t.state != model::CheckState::kRunning;
        failed = failed || t.state == model::CheckState::kFailed;
    }
    if (done) {
        run.state = failed ? model::CheckState::kFailed : model::CheckState::kPassed;
        run.end_time = now;
        changed = true;
    }
    return changed;
}

Status CheckRunner::Advance() {
    struct Found {
        model::HealthCheckRun run;
        std::optional<model::Instance> instance;
        bool degraded = false;
    };
    std::vector<Found> found;
    NR_RETURN_IF_ERROR(store_.Read([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(auto runs, reader.HealthChecks().ListRunning(1000));
        for (auto& run : runs) {
            Found f{std::move(run), std::nullopt, false};
            NR_ASSIGN_OR_RETURN(f.instance, reader.Inventory().GetInstance(f.run.instance_id));
            if (options_.simulated && f.instance && !f.instance->host_name.empty()) {
                NR_ASSIGN_OR_RETURN(f.degraded,
                                    reader.Simulated().IsHostDegraded(f.instance->host_name));
            }
            found.push_back(std::move(f));
        }
        return OkStatus();
    }));
    // The tests run here, outside every transaction; only their results are written.
    const Timestamp now = clock_.Now();
    std::vector<model::HealthCheckRun> changed;
    for (auto& f : found) {
        if (AdvanceRun(f.run, f.instance, f.degraded, now)) changed.push_back(std::move(f.run));
    }
    if (changed.empty()) return OkStatus();
    NR_RETURN_IF_ERROR(store_.WriteAndWait([&](storage::Txn& txn) -> Status {
        // Exact limits across replicas (docs/design.md 12): one automation transaction at a time.
        NR_RETURN_IF_ERROR(txn.SerializeAutomation());
        router_.BeginTransaction();
        for (auto& run : changed) {
            if (run.state == model::CheckState::kFailed) {
                NR_RETURN_IF_ERROR(RecordOccurrence(txn, run, now));
                NR_RETURN_IF_ERROR(router_.RouteFailedRun(txn, run, now));
            }
            NR_RETURN_IF_ERROR(txn.HealthChecks().Put(run));
        }
        return OkStatus();
    }));
    if (metrics_ != nullptr) {
        for (const auto& run : changed) {
            if (run.state != model::CheckState::kRunning) metrics_->HealthCheckFinished(run);
        }
    }
    return OkStatus();
}

}  // namespace noderepair::health
