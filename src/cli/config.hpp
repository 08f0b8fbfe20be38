// The server's configuration: the YAML file of docs/http-api.md 7, then command-line flags on top.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "model/remediation.hpp"

namespace noderepair::cli {

struct Config {
    // server.worker_threads, or by backend when it is -1: SQLite answers a read in
    // microseconds from the page cache, PostgreSQL in round trips over the network, so it needs
    // more handlers in flight for the same rate.
    int WorkerThreads() const {
        if (server.worker_threads >= 0) return server.worker_threads;
        return db.starts_with("sqlite:") ? 2 : 16;
    }

    std::string listen = "127.0.0.1:8080";
    std::string db = "sqlite:./noderepair.db";
    // "simulated" (the fleet file's hosts, simulated) or "libvirt" (each fleet host's
    // libvirt_uri).
    std::string provider = "simulated";

    struct Engine {
        bool paused = false;
        int capacity_wait_s = 600;
        int step_timeout_s = 900;
        // How long a replica's hold on a remediation lasts without renewal (docs/design.md 12).
        int lease_s = 15;
        std::vector<std::string> verify_tests;
        int max_parallel = 1000;      // remediations worked on at once
        int max_calls_per_host = 16;  // provider calls at once on one host
    } engine;

    struct Automation {
        int auto_resolve_ttl_s = 300;
        int cooldown_s = 1800;
        double max_active_fraction = 0.10;
        int max_active = 0;
        // alert name -> mode (REMEDIATION_MODE_… or VM_ONLY, …) or "none"; overrides the
        // default policy table.
        std::map<std::string, std::string> rules;
        // active test name -> mode its failure asks for (default HOST_AWARE)
        std::map<std::string, std::string> test_modes;
        // docs/http-api.md 11: the escalation ladder, lightest first (modes as in rules).
        std::vector<std::string> ladder = {"REMEDIATION_MODE_REBOOT_VM", "REMEDIATION_MODE_VM_ONLY",
                                           "REMEDIATION_MODE_HOST_AWARE"};
        int ladder_window_s = 86400;
        int suspect_host_instances = 0;  // 0: off
        int suspect_host_faults = 0;     // 0: off
        int suspect_host_window_s = 604800;
        bool cordon_suspect_hosts = true;
        int max_active_per_rack = 0;  // 0: off
        int incident_threshold = 0;   // 0: off
        int incident_window_s = 120;
    } automation;

    struct Server {
        double rate_limit_per_token_rps = 0;
        int io_threads = 2;
        // Request handlers block on database reads: a few threads serve SQLite's microsecond
        // reads, PostgreSQL's network round trips need more in flight. -1: by backend.
        int worker_threads = -1;
        // docs/http-api.md 10, overload: past these bounds a request gets 503 with Retry-After.
        int max_connections = 4096;      // served at once; as many again get a 503 each
        int max_queued_requests = 1024;  // waiting for a worker thread
        int request_deadline_s = 30;     // a handler not done by then: 504, its answer dropped
        struct Tls {                     // both set: HTTPS only (docs/http-api.md 10)
            std::string cert_file;       // PEM certificate chain; reloaded on SIGHUP
            std::string key_file;        // PEM private key, unencrypted
        } tls;
    } server;

    struct Storage {
        int max_batch = 1024;          // 1 turns group commit off (to measure what it buys)
        int max_queued_writes = 1024;  // request writes waiting for a commit; then 503
        int writers = 1;               // PostgreSQL writer connections (SQLite has one)
    } storage;

    struct Log {
        std::string format = "text";  // text (key=value) or json (one object per line)
        bool requests = true;         // a line per HTTP request; transitions are always logged
    } log;

    struct Hooks {
        std::string drain;
        std::string rejoin;
        std::string health_check;
        int timeout_s = 600;  // a hook still running after this fails its step
    } hooks;

    // Real infrastructure (docs/http-api.md 8).
    struct Power {
        std::string driver = "simulated";  // or ipmi: each fleet host's bmc
        int timeout_s = 10;                // one BMC exchange
        int boot_timeout_s = 900;          // power on -> node back
        int poll_s = 60;                   // refresh of hosts' power state
    } power;

    struct Workload {
        std::string manager = "none";  // or slurm, for clusters whose fleet entry names none
        std::string slurm_conf;        // empty: $SLURM_CONF, else the system's
        int drain_timeout_s = 3600;
        int poll_s = 5;  // the Slurm node watcher
        std::vector<std::string> signal_reasons = {"^NHC", "(?i)xid", "(?i)gpu", "(?i)ecc"};
    } workload;

    // noderepair's own alerts, pushed to Alertmanager (docs/http-api.md 11, "Notifications").
    struct Notify {
        std::string alertmanager_url;  // empty: off; e.g. http://alertmanager:9093
        int approval_after_s = 600;    // NoderepairApprovalWaiting past this age
        int interval_s = 60;           // conditions checked and firing alerts re-sent
        int timeout_s = 10;            // one push to Alertmanager
    } notify;

    // Two-person approval (docs/http-api.md 11): modes (REMEDIATION_MODE_… or VM_ONLY, …) whose
    // remediations wait for a second person's approval, whoever asked for them.
    struct Approval {
        std::vector<std::string> two_person_modes;
    } approval;
};

// A mode as the configuration spells it: its wire name or the name without REMEDIATION_MODE_.
std::optional<model::Mode> ConfigMode(const std::string& name);

// Reads a YAML (or JSON) config; unknown keys and wrong types are errors.
Result<Config> LoadConfigFile(const std::string& path);
Result<Config> ParseConfig(const std::string& yaml_text);

}  // namespace noderepair::cli
