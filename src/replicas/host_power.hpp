// Hosts' power as the leader's BMC polls last recorded it in the database (docs/http-api.md 8,
// docs/design.md 12), so every replica shows it, not only the one that polls. Owned by
// `serve`; read by the API's worker threads, which re-read the table at most once a refresh.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "storage/store.hpp"

namespace noderepair::replicas {

class HostPowerView {
public:
    // `bmc_hosts`: the hosts with a BMC in this replica's fleet; the others show no power.
    HostPowerView(storage::Store& store, std::set<std::string> bmc_hosts,
                  std::chrono::milliseconds refresh = std::chrono::seconds(1));

    // "on", "off" or "unknown" (a BMC not read yet, or the database unreachable); empty for a
    // host without a BMC.
    std::string Get(const std::string& host);

private:
    storage::Store& store_;
    const std::set<std::string> bmc_hosts_;
    const std::chrono::milliseconds refresh_;
    std::mutex mu_;
    std::map<std::string, std::string> power_;
    std::chrono::steady_clock::time_point read_{};
    bool read_once_ = false;
};

}  // namespace noderepair::replicas
