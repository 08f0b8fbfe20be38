#include "replicas/host_power.hpp"

#include <utility>

namespace noderepair::replicas {

HostPowerView::HostPowerView(storage::Store& store, std::set<std::string> bmc_hosts,
                             std::chrono::milliseconds refresh)
    : store_(store), bmc_hosts_(std::move(bmc_hosts)), refresh_(refresh) {}

std::string HostPowerView::Get(const std::string& host) {
    if (!bmc_hosts_.count(host)) return {};
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (!read_once_ || now - read_ >= refresh_) {
        // One read of every host's row serves the whole host list, and the next second's.
        std::vector<storage::HostPowerReading> readings;
        Status status = store_.Read([&](storage::Reader& reader) -> Status {
            NR_ASSIGN_OR_RETURN(readings, reader.Replicas().ListHostPower());
            return OkStatus();
        });
        if (status) {
            power_.clear();
            for (auto& r : readings) power_[r.host_name] = std::move(r.power);
        }
        read_ = now;
        read_once_ = true;
    }
    auto it = power_.find(host);
    return it != power_.end() ? it->second : "unknown";
}

}  // namespace noderepair::replicas
