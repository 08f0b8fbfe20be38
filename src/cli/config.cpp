#include "cli/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "model/health_check.hpp"
#include "model/remediation.hpp"

namespace noderepair::cli {
namespace {

using Setter = std::function<void(const YAML::Node&)>;

// Every key the file may hold, by its dotted path.
std::map<std::string, Setter> Setters(Config& c) {
    auto str = [](std::string& out) {
        return [&out](const YAML::Node& n) { out = n.as<std::string>(); };
    };
    auto num = [](int& out) { return [&out](const YAML::Node& n) { out = n.as<int>(); }; };
    auto real = [](double& out) { return [&out](const YAML::Node& n) { out = n.as<double>(); }; };
    auto flag = [](bool& out) { return [&out](const YAML::Node& n) { out = n.as<bool>(); }; };
    return {
        {"listen", str(c.listen)},
        {"db", str(c.db)},
        {"provider", str(c.provider)},
        {"engine.paused", flag(c.engine.paused)},
        {"engine.capacity_wait_s", num(c.engine.capacity_wait_s)},
        {"engine.step_timeout_s", num(c.engine.step_timeout_s)},
        {"engine.lease_s", num(c.engine.lease_s)},
        {"engine.max_parallel", num(c.engine.max_parallel)},
        {"engine.max_calls_per_host", num(c.engine.max_calls_per_host)},
        {"engine.verify_tests",
         [&c](const YAML::Node& n) { c.engine.verify_tests = n.as<std::vector<std::string>>(); }},
        {"automation.auto_resolve_ttl_s", num(c.automation.auto_resolve_ttl_s)},
        {"automation.cooldown_s", num(c.automation.cooldown_s)},
        {"automation.max_active_fraction", real(c.automation.max_active_fraction)},
        {"automation.max_active", num(c.automation.max_active)},
        {"automation.test_modes",
         [&c](const YAML::Node& n) {
             c.automation.test_modes = n.as<std::map<std::string, std::string>>();
         }},
        {"automation.ladder",
         [&c](const YAML::Node& n) { c.automation.ladder = n.as<std::vector<std::string>>(); }},
        {"automation.ladder_window_s", num(c.automation.ladder_window_s)},
        {"automation.suspect_host_instances", num(c.automation.suspect_host_instances)},
        {"automation.suspect_host_faults", num(c.automation.suspect_host_faults)},
        {"automation.suspect_host_window_s", num(c.automation.suspect_host_window_s)},
        {"automation.cordon_suspect_hosts", flag(c.automation.cordon_suspect_hosts)},
        {"automation.max_active_per_rack", num(c.automation.max_active_per_rack)},
        {"automation.incident_threshold", num(c.automation.incident_threshold)},
        {"automation.incident_window_s", num(c.automation.incident_window_s)},
        {"automation.rules",
         [&c](const YAML::Node& n) {
             c.automation.rules = n.as<std::map<std::string, std::string>>();
         }},
        {"server.rate_limit_per_token_rps", real(c.server.rate_limit_per_token_rps)},
        {"server.io_threads", num(c.server.io_threads)},
        {"server.worker_threads", num(c.server.worker_threads)},
        {"server.max_connections", num(c.server.max_connections)},
        {"server.max_queued_requests", num(c.server.max_queued_requests)},
        {"server.request_deadline_s", num(c.server.request_deadline_s)},
        {"server.tls.cert_file", str(c.server.tls.cert_file)},
        {"server.tls.key_file", str(c.server.tls.key_file)},
        {"storage.max_batch", num(c.storage.max_batch)},
        {"storage.max_queued_writes", num(c.storage.max_queued_writes)},
        {"storage.writers", num(c.storage.writers)},
        {"log.format", str(c.log.format)},
        {"log.requests", flag(c.log.requests)},
        {"hooks.drain", str(c.hooks.drain)},
        {"hooks.rejoin", str(c.hooks.rejoin)},
        {"hooks.health_check", str(c.hooks.health_check)},
        {"hooks.timeout_s", num(c.hooks.timeout_s)},
        {"power.driver", str(c.power.driver)},
        {"power.timeout_s", num(c.power.timeout_s)},
        {"power.boot_timeout_s", num(c.power.boot_timeout_s)},
        {"power.poll_s", num(c.power.poll_s)},
        {"workload.manager", str(c.workload.manager)},
        {"workload.slurm_conf", str(c.workload.slurm_conf)},
        {"workload.drain_timeout_s", num(c.workload.drain_timeout_s)},
        {"workload.poll_s", num(c.workload.poll_s)},
        {"notify.alertmanager_url", str(c.notify.alertmanager_url)},
        {"notify.approval_after_s", num(c.notify.approval_after_s)},
        {"notify.interval_s", num(c.notify.interval_s)},
        {"notify.timeout_s", num(c.notify.timeout_s)},
        {"workload.signal_reasons",
         [&c](const YAML::Node& n) {
             c.workload.signal_reasons = n.as<std::vector<std::string>>();
         }},
        {"approval.two_person_modes",
         [&c](const YAML::Node& n) {
             c.approval.two_person_modes = n.as<std::vector<std::string>>();
         }},
    };
}

// Whether `key` is a section ("engine"), the prefix of some key's dotted path.
bool IsSection(const std::string& key, const std::map<std::string, Setter>& setters) {
    const std::string prefix = key + ".";
    auto next = setters.lower_bound(prefix);
    return next != setters.end() && next->first.starts_with(prefix);
}

Status Apply(const YAML::Node& node, const std::string& prefix,
             std::map<std::string, Setter>& setters) {
    for (const auto& entry : node) {
        const std::string key = prefix + entry.first.as<std::string>();
        auto setter = setters.find(key);
        if (setter != setters.end()) {
            try {
                setter->second(entry.second);
            } catch (const YAML::Exception&) {
                return InvalidArgument("config: '" + key + "' has the wrong type");
            }
            continue;
        }
        // Only a known section is walked into: an unknown one is a typo, and walking any map
        // would let YAML aliases make the walk exponential ("billion laughs").
        if (entry.second.IsMap() && IsSection(key, setters)) {
            NR_RETURN_IF_ERROR(Apply(entry.second, key + ".", setters));
            continue;
        }
        return InvalidArgument("config: unknown key '" + key + "'");
    }
    return OkStatus();
}

// docs/http-api.md 11: the escalation ladder and the fleet-intelligence thresholds.
Status CheckPolicy(const Config::Automation& a) {
    if (a.ladder_window_s < 0 || a.suspect_host_instances < 0 || a.suspect_host_faults < 0 ||
        a.suspect_host_window_s < 0 || a.max_active_per_rack < 0 || a.incident_threshold < 0 ||
        a.incident_window_s < 0) {
        return InvalidArgument(
            "config: automation.ladder_window_s, suspect_host_*, max_active_per_rack and "
            "incident_* must not be negative (0: off)");
    }
    std::vector<model::Mode> seen;
    for (const auto& rung : a.ladder) {
        auto mode = ConfigMode(rung);
        if (!mode) return InvalidArgument("config: automation.ladder: unknown mode '" + rung + "'");
        if (std::find(seen.begin(), seen.end(), *mode) != seen.end()) {
            return InvalidArgument("config: automation.ladder lists '" + rung + "' twice");
        }
        seen.push_back(*mode);
    }
    return OkStatus();
}

Status Check(const Config& c) {
    if (c.engine.capacity_wait_s < 0 || c.engine.step_timeout_s <= 0 ||
        c.automation.auto_resolve_ttl_s < 0 || c.automation.cooldown_s < 0 ||
        c.automation.max_active < 0) {
        return InvalidArgument("config: durations and caps must not be negative");
    }
    if (c.engine.lease_s < 1) return InvalidArgument("config: engine.lease_s must be at least 1");
    if (!(c.automation.max_active_fraction >= 0 && c.automation.max_active_fraction <= 1)) {
        return InvalidArgument("config: automation.max_active_fraction must be within 0..1");
    }
    for (const auto& test : c.engine.verify_tests) {
        if (!model::IsKnownTest(test)) {
            return InvalidArgument("config: engine.verify_tests: unknown test '" + test + "'");
        }
    }
    for (const auto& [test, mode] : c.automation.test_modes) {
        if (!model::IsKnownTest(test)) {
            return InvalidArgument("config: automation.test_modes: unknown test '" + test + "'");
        }
        if (!ConfigMode(mode)) {
            return InvalidArgument("config: automation.test_modes." + test + ": unknown mode '" +
                                   mode + "'");
        }
    }
    NR_RETURN_IF_ERROR(CheckPolicy(c.automation));
    for (const auto& mode : c.approval.two_person_modes) {
        if (!ConfigMode(mode)) {
            return InvalidArgument("config: approval.two_person_modes: unknown mode '" + mode +
                                   "'");
        }
    }
    if (c.provider != "simulated" && c.provider != "libvirt") {
        return InvalidArgument("config: provider must be simulated or libvirt");
    }
    if (c.log.format != "text" && c.log.format != "json") {
        return InvalidArgument("config: log.format must be text or json");
    }
    if (c.hooks.timeout_s < 1) return InvalidArgument("config: hooks.timeout_s must be >= 1");
    if (c.power.driver != "simulated" && c.power.driver != "ipmi") {
        return InvalidArgument("config: power.driver must be simulated or ipmi");
    }
    if (c.power.timeout_s < 1 || c.power.boot_timeout_s < 1 || c.power.poll_s < 1) {
        return InvalidArgument(
            "config: power.timeout_s, power.boot_timeout_s and power.poll_s must be >= 1");
    }
    if (c.workload.manager != "none" && c.workload.manager != "slurm") {
        return InvalidArgument("config: workload.manager must be none or slurm");
    }
    if (c.workload.drain_timeout_s < 1 || c.workload.poll_s < 1) {
        return InvalidArgument("config: workload.drain_timeout_s and workload.poll_s must be >= 1");
    }
    if (c.notify.approval_after_s < 0 || c.notify.interval_s < 1 || c.notify.timeout_s < 1) {
        return InvalidArgument(
            "config: notify.approval_after_s must be >= 0, notify.interval_s and "
            "notify.timeout_s >= 1");
    }
    if (!c.notify.alertmanager_url.empty() && !c.notify.alertmanager_url.starts_with("http://") &&
        !c.notify.alertmanager_url.starts_with("https://")) {
        return InvalidArgument(
            "config: notify.alertmanager_url must be an http:// or https:// URL");
    }
    if (c.engine.max_parallel < 1)
        return InvalidArgument("config: engine.max_parallel must be >= 1");
    if (c.engine.max_calls_per_host < 1)
        return InvalidArgument("config: engine.max_calls_per_host must be >= 1");
    if (c.server.io_threads < 1 || c.server.worker_threads < -1 || c.storage.max_batch < 1 ||
        c.storage.writers < 1) {
        return InvalidArgument(
            "config: server.io_threads, storage.max_batch and storage.writers must be >= 1, "
            "server.worker_threads >= 0 (or -1: by backend)");
    }
    if (c.server.max_connections < 1 || c.server.max_queued_requests < 1 ||
        c.server.request_deadline_s < 1 || c.storage.max_queued_writes < 1) {
        return InvalidArgument(
            "config: server.max_connections, server.max_queued_requests, "
            "server.request_deadline_s and storage.max_queued_writes must be >= 1");
    }
    if (c.server.tls.cert_file.empty() != c.server.tls.key_file.empty()) {
        return InvalidArgument("config: server.tls needs both cert_file and key_file");
    }
    // Written this way round so that NaN (YAML's .nan) fails too; .inf is no rate either.
    if (!(c.server.rate_limit_per_token_rps >= 0) ||
        std::isinf(c.server.rate_limit_per_token_rps)) {
        return InvalidArgument(
            "config: server.rate_limit_per_token_rps must be a number >= 0 (0: no limit)");
    }
    return OkStatus();
}

}  // namespace

std::optional<model::Mode> ConfigMode(const std::string& name) {
    if (auto mode = model::ParseMode(name)) return mode;
    return model::ParseMode("REMEDIATION_MODE_" + name);
}

Result<Config> ParseConfig(const std::string& yaml_text) {
    Config config;
    auto setters = Setters(config);
    try {
        YAML::Node root = YAML::Load(yaml_text);
        if (root.IsNull()) return config;
        if (!root.IsMap()) return InvalidArgument("config: the document must be a mapping");
        NR_RETURN_IF_ERROR(Apply(root, "", setters));
    } catch (const YAML::Exception& e) {
        return InvalidArgument(std::string("config: ") + e.what());
    }
    NR_RETURN_IF_ERROR(Check(config));
    return config;
}

Result<Config> LoadConfigFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return InvalidArgument("cannot read config file " + path);
    std::stringstream text;
    text << in.rdbuf();
    auto config = ParseConfig(text.str());
    if (!config) return InvalidArgument(path + ": " + config.error().message);
    return config;
}

}  // namespace noderepair::cli
