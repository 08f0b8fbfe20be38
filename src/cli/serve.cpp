#include "cli/serve.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <thread>

#include "api/api.hpp"
#include "api/server.hpp"
#include "auth/rate_limiter.hpp"
#include "auth/tokens.hpp"
#include "cli/http_client.hpp"
#include "common/log.hpp"
#include "common/time.hpp"
#include "engine/control.hpp"
#include "engine/executor.hpp"
#include "engine/hooks.hpp"
#include "health/service.hpp"
#include "infra/fleet_infra.hpp"
#include "infra/infra_provider.hpp"
#include "infra/power_board.hpp"
#include "infra/slurm_watcher.hpp"
#include "inventory/service.hpp"
#include "notify/notifier.hpp"
#include "providers/libvirt/libvirt_provider.hpp"
#include "providers/simulated/faults.hpp"
#include "providers/simulated/fleet.hpp"
#include "providers/simulated/simulated_provider.hpp"
#include "remediation/service.hpp"
#include "replicas/host_power.hpp"
#include "replicas/power_recorder.hpp"
#include "replicas/registry.hpp"
#include "storage/open.hpp"
#include "telemetry/metrics.hpp"
#include "telemetry/transition_log.hpp"

// tcmalloc, the server's allocator (docs/design.md 6), keeps what is freed for later requests.
// Start-up frees most of what the fleet's import took, so that is handed back to the system
// once, before the server listens. Weak: a build without tcmalloc (the sanitizers') lacks it.
extern "C" void MallocExtension_ReleaseFreeMemory() __attribute__((weak));

namespace noderepair::cli {
namespace {

int Fail(const std::string& message) {
    std::fprintf(stderr, "noderepair: %s\n", message.c_str());
    return 2;
}

constexpr const char* kTimingKey = "simulated.timing_ms";

std::string EncodeTiming(const providers::simulated::Timing& t) {
    std::string out;
    for (auto ms :
         {t.cordon, t.drain, t.delete_vm, t.provision_vm, t.boot, t.reboot, t.power_cycle}) {
        if (!out.empty()) out += ',';
        out += std::to_string(ms.count());
    }
    return out + (t.blocking ? ",blocking" : "");
}

providers::simulated::Timing DecodeTiming(const std::string& text) {
    providers::simulated::Timing t;
    std::chrono::milliseconds* fields[] = {&t.cordon, &t.drain,  &t.delete_vm,  &t.provision_vm,
                                           &t.boot,   &t.reboot, &t.power_cycle};
    size_t start = 0;
    for (auto* field : fields) {
        if (start > text.size()) break;
        size_t comma = text.find(',', start);
        if (comma == std::string::npos) comma = text.size();
        *field = std::chrono::milliseconds(std::atoll(text.substr(start, comma - start).c_str()));
        start = comma + 1;
    }
    t.blocking = text.ends_with(",blocking");
    return t;
}

struct ImportedFleet {
    providers::simulated::Timing timing;
    infra::FleetInfra infra;  // hosts' BMCs and clusters' workload managers
};

// Imports the fleet into the store: the file, the demo, or (with neither, on an empty
// database) the demo, so a bare `serve` has something to show. The simulated world adopts the
// instances it has never seen. Returns the simulated timings and the real infrastructure: the
// fleet's, or those stored by the last start that had a fleet.
Result<ImportedFleet> ImportFleet(storage::Store& store, const ServeFlags& flags) {
    std::optional<providers::simulated::Fleet> fleet;
    if (!flags.fleet_file.empty()) {
        NR_ASSIGN_OR_RETURN(fleet, providers::simulated::LoadFleetFile(flags.fleet_file));
    } else if (flags.demo) {
        fleet = providers::simulated::DemoFleet();
    } else {
        bool empty = true;
        NR_RETURN_IF_ERROR(store.Read([&](storage::Reader& reader) -> Status {
            NR_ASSIGN_OR_RETURN(auto clusters, reader.Inventory().ListClusters());
            empty = clusters.empty();
            return OkStatus();
        }));
        if (empty) fleet = providers::simulated::DemoFleet();
    }
    const std::string infra_key(infra::kFleetInfraSetting);
    ImportedFleet imported;
    if (!fleet) {
        NR_RETURN_IF_ERROR(store.Read([&](storage::Reader& reader) -> Status {
            NR_ASSIGN_OR_RETURN(auto stored, reader.Settings().Get(kTimingKey));
            if (stored) imported.timing = DecodeTiming(*stored);
            NR_ASSIGN_OR_RETURN(auto infra, reader.Settings().Get(infra_key));
            if (infra) {
                auto parsed = infra::ParseFleetInfra(*infra);
                if (!parsed) return Internal("stored " + infra_key + ": " + parsed.error().message);
                imported.infra = std::move(*parsed);
            }
            return OkStatus();
        }));
        return imported;
    }
    imported.timing = fleet->timing;
    if (!fleet->text.empty()) {
        auto parsed = infra::ParseFleetInfra(fleet->text);
        if (!parsed) {
            return InvalidArgument("fleet file " + flags.fleet_file + ": " +
                                   parsed.error().message);
        }
        imported.infra = std::move(*parsed);
        std::string().swap(fleet->text);  // read whole: no need to hold it through the import
    }
    NR_RETURN_IF_ERROR(store.WriteAndWait([&](storage::Txn& txn) -> Status {
        NR_RETURN_IF_ERROR(txn.Inventory().ImportFleet(fleet->inventory));
        NR_RETURN_IF_ERROR(txn.Settings().Put(infra_key, infra::EncodeFleetInfra(imported.infra)));
        return txn.Settings().Put(kTimingKey, EncodeTiming(fleet->timing));
    }));
    providers::simulated::SimulatedProvider world(store, fleet->timing);
    NR_RETURN_IF_ERROR(world.Adopt(fleet->inventory));
    return imported;
}

// Prints an admin token when the database has none, so a first start can be used at once. The
// check and the insert are one transaction, and the backend makes HasAny in a write exclusive,
// so servers starting together on an empty database print one token between them.
// noderepair's own alerts (docs/http-api.md 11, "Notifications"); null when
// notify.alertmanager_url is not set. Each push is a connection of its own, bounded by
// notify.timeout_s, on the notifier's thread.
Result<std::unique_ptr<notify::Notifier>> StartNotifier(const Config& config, storage::Store& store,
                                                        const Clock& clock,
                                                        telemetry::Metrics& metrics,
                                                        std::function<bool()> leads) {
    if (config.notify.alertmanager_url.empty()) return std::unique_ptr<notify::Notifier>();
    NR_ASSIGN_OR_RETURN(ServerUrl url, ParseServerUrl(config.notify.alertmanager_url));
    const std::chrono::milliseconds timeout = std::chrono::seconds(config.notify.timeout_s);
    notify::Sender send = [url, timeout](const std::string& alerts) -> Status {
        HttpClient client(url, "", {timeout, timeout});
        NR_ASSIGN_OR_RETURN(HttpReply reply, client.Send("POST", "/api/v2/alerts", alerts));
        if (reply.status / 100 != 2) {
            return Unavailable("Alertmanager answered " + std::to_string(reply.status) + ": " +
                               reply.body.substr(0, 200));
        }
        return OkStatus();
    };
    notify::ConditionOptions conditions;
    conditions.approval_after = std::chrono::seconds(config.notify.approval_after_s);
    notify::NotifierOptions options;
    options.interval = std::chrono::seconds(config.notify.interval_s);
    // With several replicas only the leader sends (docs/http-api.md 9), so a site gets each
    // alert once.
    options.is_leader = std::move(leads);
    auto notifier = std::make_unique<notify::Notifier>(store, clock, notify::Conditions(conditions),
                                                       std::move(send), options, &metrics);
    notifier->Start();
    return notifier;
}

Status BootstrapAdminToken(storage::Store& store, const Clock& clock) {
    const std::string token = auth::NewToken();
    bool created = false;
    NR_RETURN_IF_ERROR(store.WriteAndWait([&](storage::Txn& txn) -> Status {
        NR_ASSIGN_OR_RETURN(bool any, txn.Tokens().HasAny());
        if (any) return OkStatus();
        storage::TokenRecord admin{"admin", storage::Role::kAdmin, {}};
        admin.created_at = clock.Now();
        NR_RETURN_IF_ERROR(txn.Tokens().Insert(auth::HashToken(token), admin));
        created = true;
        return OkStatus();
    }));
    if (!created) return OkStatus();
    std::printf("noderepair: admin token: %s\n", token.c_str());
    std::fflush(stdout);
    return OkStatus();
}

// The provider the config names. libvirt needs every fleet host's libvirt_uri.
Result<std::unique_ptr<providers::Provider>> MakeProvider(
    const Config& config, storage::Store& store, const providers::simulated::Timing& timing) {
    if (config.provider == "simulated") {
        return std::unique_ptr<providers::Provider>(
            std::make_unique<providers::simulated::SimulatedProvider>(store, timing));
    }
    std::vector<model::Host> hosts;
    NR_RETURN_IF_ERROR(store.Read([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(hosts, reader.Inventory().ListHosts());
        return OkStatus();
    }));
    std::vector<providers::libvirt::HostUri> uris;
    for (const auto& host : hosts) {
        if (host.libvirt_uri.empty()) {
            return InvalidArgument("provider libvirt: host " + host.host_name +
                                   " has no libvirt_uri in the fleet file");
        }
        uris.push_back({host.host_name, host.libvirt_uri});
    }
    NR_ASSIGN_OR_RETURN(auto libvirt, providers::libvirt::LibvirtProvider::Connect(uris));
    return std::unique_ptr<providers::Provider>(std::move(libvirt));
}

// docs/http-api.md 10: each connection is a file descriptor, and a soft limit of 1024 would end
// the server's ability to accept (and to answer with 503) long before its own bounds do.
void RaiseOpenFilesLimit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
    const rlim_t was = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
        std::fprintf(stderr, "noderepair: cannot raise the open-files limit from %llu\n",
                     static_cast<unsigned long long>(was));
    }
}

// Waits for SIGTERM or SIGINT (then drains the server and returns) and SIGHUP (reloads the TLS
// certificate; a bad one is logged and the old one stays). On the thread that owns the signals.
void HandleSignals(api::HttpServer& server, const sigset_t& signals) {
    for (;;) {
        int received = 0;
        if (sigwait(&signals, &received) != 0) continue;
        if (received != SIGHUP) {
            std::fprintf(stderr, "noderepair: signal %d, finishing in-flight requests\n", received);
            server.Shutdown(std::chrono::seconds(10));
            return;
        }
        if (!server.UsesTls()) {
            std::fprintf(stderr, "noderepair: SIGHUP: no TLS configured, nothing to reload\n");
            continue;
        }
        Status reloaded = server.ReloadTls();
        if (reloaded) {
            std::fprintf(stderr, "noderepair: SIGHUP: reloaded the TLS certificate\n");
        } else {
            std::fprintf(stderr,
                         "noderepair: SIGHUP: TLS certificate refused, the old one stays: %s\n",
                         reloaded.error().message.c_str());
        }
    }
}

health::CheckOptions CheckOptionsOf(const Config& config) {
    health::CheckOptions checks;
    checks.command = config.hooks.health_check;
    checks.simulated = config.provider == "simulated";
    checks.timeout = std::chrono::seconds(config.hooks.timeout_s);
    return checks;
}

// docs/http-api.md 11: the escalation ladder, suspect hosts, the rack's blast radius, incidents.
void AddFleetPolicyOptions(const Config& config, health::AutomationOptions& options) {
    const auto& a = config.automation;
    options.ladder.clear();
    for (const auto& rung : a.ladder) {
        if (auto parsed = ConfigMode(rung))
            options.ladder.push_back(*parsed);  // checked when the config was read
    }
    options.ladder_window = std::chrono::seconds(a.ladder_window_s);
    options.suspect_host_instances = a.suspect_host_instances;
    options.suspect_host_faults = a.suspect_host_faults;
    options.suspect_host_window = std::chrono::seconds(a.suspect_host_window_s);
    options.cordon_suspect_hosts = a.cordon_suspect_hosts;
    options.max_active_per_rack = a.max_active_per_rack;
    options.incident_threshold = a.incident_threshold;
    options.incident_window = std::chrono::seconds(a.incident_window_s);
}

}  // namespace

health::AutomationOptions AutomationOptionsOf(const Config& config) {
    health::AutomationOptions options{std::chrono::seconds(config.automation.auto_resolve_ttl_s),
                                      std::chrono::seconds(config.automation.cooldown_s),
                                      config.automation.max_active_fraction,
                                      config.automation.max_active,
                                      {}};
    for (const auto& [test, mode] : config.automation.test_modes) {
        if (auto parsed = ConfigMode(mode))
            options.test_modes[test] = *parsed;  // checked when the config was read
    }
    AddFleetPolicyOptions(config, options);
    return options;
}

int Serve(const ServeFlags& flags) {
    Config config;
    if (!flags.config_file.empty()) {
        auto loaded = LoadConfigFile(flags.config_file);
        if (!loaded) return Fail(loaded.error().message);
        config = std::move(*loaded);
    }
    if (flags.listen) config.listen = *flags.listen;
    if (flags.db) config.db = *flags.db;
    if (flags.engine_paused) config.engine.paused = true;
    if (flags.log_format) config.log.format = *flags.log_format;
    SetLogFormat(config.log.format == "json" ? LogFormat::kJson : LogFormat::kText);

    // Signals are taken by one thread with sigwait; every other thread blocks them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);  // reloads the TLS certificate; never ends the process
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);
    RaiseOpenFilesLimit();

    SystemClock clock;
    // docs/http-api.md 9: cut off from PostgreSQL, writes answer 503 within 5 s (2 s to connect,
    // 2.5 s for an answer).
    storage::SetDatabaseAnswerTimeout(std::chrono::milliseconds(2500));
    auto store = storage::OpenStore(
        config.db, {config.storage.max_batch, size_t(config.storage.max_queued_writes), &clock,
                    config.storage.writers});
    if (!store) return Fail(store.error().message);
    auto imported = ImportFleet(**store, flags);
    if (!imported) return Fail(imported.error().message);
    if (config.engine.paused) {
        Status paused = (*store)->WriteAndWait(
            [](storage::Txn& txn) { return txn.Settings().Put("engine.paused", "true"); });
        if (!paused) return Fail(paused.error().message);
    }
    if (Status s = BootstrapAdminToken(**store, clock); !s) return Fail(s.error().message);

    // Several replicas on one database (docs/design.md 12): this one's id, and the leader
    // lease that decides where the background duties run.
    const std::string replica_id =
        flags.replica_id.empty() ? replicas::DefaultReplicaId(config.listen) : flags.replica_id;
    const std::chrono::milliseconds lease = std::chrono::seconds(config.engine.lease_s);
    replicas::Registry registry(**store, replica_id, lease);
    if (Status s = registry.Start(); !s) return Fail(s.error().message);
    auto leads = [&registry] { return registry.IsLeader(); };

    // Observers of every commit: metrics, the transition log and live updates.
    telemetry::Metrics metrics;
    telemetry::TransitionLog transitions;
    (*store)->AddObserver(&metrics);
    (*store)->AddObserver(&transitions);

    auth::Authenticator authenticator(**store, clock);
    std::vector<model::Mode> two_person_modes;
    for (const auto& mode : config.approval.two_person_modes) {
        if (auto parsed = ConfigMode(mode)) two_person_modes.push_back(*parsed);
    }
    remediation::Lifecycle lifecycle(clock, std::move(two_person_modes));
    remediation::RemediationService remediations(**store, lifecycle);
    inventory::InventoryService inventory(**store);
    engine::EngineControl engine(**store);
    auth::RateLimiter rate_limiter(config.server.rate_limit_per_token_rps, clock);
    auto base = MakeProvider(config, **store, imported->timing);
    if (!base) return Fail(base.error().message);
    engine::HookedProvider hooked(
        **base, {config.hooks.drain, config.hooks.rejoin, config.hooks.health_check,
                 config.engine.verify_tests, std::chrono::seconds(config.hooks.timeout_s)});
    // Real infrastructure on top (docs/http-api.md 8): a Slurm cluster's drain and rejoin go
    // to its controller rather than the hooks, a power cycle to the host's BMC.
    const infra::FleetInfra& fleet_infra = imported->infra;
    auto signal_reasons = infra::SlurmWatcher::CompilePatterns(config.workload.signal_reasons);
    if (!signal_reasons) return Fail(signal_reasons.error().message);
    // The leader polls; what it reads goes to the database, where every replica reads it
    // (docs/design.md 12): only what changed, and whatever a failed write left unrecorded.
    replicas::PowerRecorder power_recorder([&store](const std::string& host,
                                                    const std::string& state,
                                                    std::function<void(Status)> done) {
        (*store)->Write(
            [host, state](storage::Txn& txn) { return txn.Replicas().PutHostPower(host, state); },
            std::move(done));
    });
    infra::PowerBoard power(clock);
    if (config.power.driver == "ipmi") {
        power.Start(fleet_infra.bmcs, std::chrono::seconds(config.power.poll_s),
                    std::chrono::seconds(config.power.timeout_s), leads,
                    [&registry, &power_recorder](const std::string& host, infra::PowerState state) {
                        power_recorder.Record(registry.LeaderTerm(), host,
                                              std::string(infra::PowerName(state)));
                    });
    }
    std::set<std::string> bmc_hosts;
    for (const auto& [host, bmc] : fleet_infra.bmcs) bmc_hosts.insert(host);
    replicas::HostPowerView power_view(**store, std::move(bmc_hosts));
    infra::InfraProvider provider(
        hooked, fleet_infra,
        {.ipmi = config.power.driver == "ipmi",
         .power_timeout = std::chrono::seconds(config.power.timeout_s),
         .boot_timeout = std::chrono::seconds(config.power.boot_timeout_s),
         .default_manager = config.workload.manager,
         .default_slurm_conf = config.workload.slurm_conf,
         .drain_timeout = std::chrono::seconds(config.workload.drain_timeout_s)},
        power, clock);
    engine::Executor executor(
        **store, provider, engine, clock, lifecycle,
        {.max_parallel = config.engine.max_parallel,
         .step_timeout = std::chrono::seconds(config.engine.step_timeout_s),
         .capacity_wait = std::chrono::seconds(config.engine.capacity_wait_s),
         .verify_tests = config.engine.verify_tests,
         .max_calls_per_host = config.engine.max_calls_per_host,
         .on_step_done = [&metrics](std::string_view step,
                                    std::chrono::microseconds d) { metrics.StepFinished(step, d); },
         .replica_id = replica_id,
         .lease = lease,
         .resume_everyone = config.db.starts_with("sqlite:"),
         .on_fence_refused = [&metrics] { metrics.FenceRefused(); },
         .on_claim_scan = [&metrics] { metrics.EngineScanned(); }});
    if (Status started = executor.Start(); !started) return Fail(started.error().message);
    auto policy = health::Policy::WithOverrides(config.automation.rules);
    if (!policy) return Fail(policy.error().message);
    health::HealthService health(**store, clock, std::move(*policy), AutomationOptionsOf(config),
                                 CheckOptionsOf(config), lifecycle, &metrics);
    // Often enough that a simulated check answers within a fraction of a second.
    health.Start(std::chrono::milliseconds(200), leads);
    std::vector<std::unique_ptr<infra::SlurmWatcher>> watchers;
    for (const infra::SlurmClient* slurm : provider.Controllers()) {
        watchers.push_back(std::make_unique<infra::SlurmWatcher>(
            *slurm, *signal_reasons, clock,
            [&health](std::vector<model::IncomingAlert> alerts) {
                health.Ingest(std::move(alerts), nullptr, [](Result<health::IngestResult>) {});
            },
            [&provider, slurm](const std::string& node) {
                return provider.ResumedAt(slurm->slurm_conf(), node);
            }));
        watchers.back()->Start(std::chrono::seconds(config.workload.poll_s), leads,
                               [&metrics] { metrics.WorkloadPolled(); });
    }
    auto started_notifier = StartNotifier(config, **store, clock, metrics, leads);
    if (!started_notifier) return Fail("notify: " + started_notifier.error().message);
    std::unique_ptr<notify::Notifier> notifier = std::move(started_notifier).value();
    std::unique_ptr<providers::simulated::SimulatedFaults> simulated_faults;
    if (config.provider == "simulated") {
        simulated_faults = std::make_unique<providers::simulated::SimulatedFaults>(**store, clock);
    }
    api::WatchHub watch(**store);
    (*store)->AddObserver(&watch);
    {
        api::Api api(
            {**store, authenticator, remediations, inventory, engine, rate_limiter, health, watch,
             metrics, [&executor] { return executor.InFlight(); }, config.log.requests,
             simulated_faults.get(),
             config.power.driver == "ipmi"
                 ? std::function<std::string(const std::string&)>(
                       [&power_view](const std::string& host) { return power_view.Get(host); })
                 : nullptr},
            config.WorkerThreads(), size_t(config.server.max_queued_requests));
        api::HttpServer server(
            {.listen = config.listen,
             .io_threads = config.server.io_threads,
             .tls_cert_file = config.server.tls.cert_file,
             .tls_key_file = config.server.tls.key_file,
             .max_connections = size_t(config.server.max_connections),
             .handler_deadline = std::chrono::seconds(config.server.request_deadline_s),
             .on_refused =
                 [&api](std::string_view method, int status, std::string_view request_id) {
                     api.Refused(method, status, request_id);
                 }},
            [&api](api::HttpRequest&& request, api::Responder respond) {
                api.Handle(std::move(request), std::move(respond));
            });
        auto port = server.Listen();
        if (!port) return Fail(port.error().message);
        if (MallocExtension_ReleaseFreeMemory != nullptr) MallocExtension_ReleaseFreeMemory();
        std::string host = config.listen.substr(0, config.listen.rfind(':'));
        const char* scheme = server.UsesTls() ? "https" : "http";
        std::printf("noderepair: listening on %s://%s:%u\n", scheme, host.c_str(), unsigned(*port));
        std::printf("noderepair: web console at %s://%s:%u/ (sign in with a token)\n", scheme,
                    host.c_str(), unsigned(*port));
        std::fflush(stdout);

        std::thread signal_waiter([&server, &signals] { HandleSignals(server, signals); });
        server.Run();
        // Run() returns only after Shutdown(), so the waiter has finished or is finishing.
        signal_waiter.join();
        // Answers still on their way (a commit, a read for several GETs) go through the server.
        if (!api.WaitForAnswers(std::chrono::steady_clock::now() + std::chrono::seconds(10))) {
            std::fprintf(stderr, "noderepair: stopped with requests unanswered\n");
        }
        // Event streams post to the server's connections: end them while those still exist.
        watch.Stop();
    }
    // Last uses are kept in memory between flushes (docs/http-api.md 10): write what is left.
    if (Status flushed = authenticator.FlushLastUsed(); !flushed) {
        std::fprintf(stderr, "noderepair: recording tokens' last use: %s\n",
                     flushed.error().message.c_str());
    }
    // Every step is committed as it happens; stopping only waits for those in the queue.
    watchers.clear();
    notifier.reset();
    power.Stop();
    executor.Stop();
    health.Stop();
    registry.Stop();
    (*store)->Close();
    std::fprintf(stderr, "noderepair: stopped\n");
    return 0;
}

}  // namespace noderepair::cli
