// Hosts' power as their BMCs last reported it (GET /v1/compute/hosts "power"): observed, not
// owned, so kept in memory. A poller thread refreshes every BMC host every power.poll_s; the
// power cycle step writes what it sees too.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/time.hpp"
#include "infra/ipmi.hpp"

namespace noderepair::infra {

class PowerBoard {
public:
    explicit PowerBoard(const Clock& clock) : clock_(clock) {}
    ~PowerBoard();

    void Set(const std::string& host, PowerState state);
    // nullopt: the host has no BMC.
    std::optional<PowerState> Get(const std::string& host) const;
    // When its BMC last reported the chassis off (evidence that a host restarted since some
    // moment, docs/http-api.md 8); nullopt: not seen off by this process.
    std::optional<Timestamp> LastSeenOff(const std::string& host) const;

    // Polls each BMC every `interval`, one at a time, each within `timeout`; with `leads`,
    // only while it says this replica leads (docs/design.md 12). `on_read` is told each
    // reading on the poller thread (to record it for the other replicas).
    void Start(std::map<std::string, Bmc> bmcs, std::chrono::seconds interval,
               std::chrono::milliseconds timeout, std::function<bool()> leads = nullptr,
               std::function<void(const std::string& host, PowerState state)> on_read = nullptr);
    void Stop();

private:
    const Clock& clock_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::map<std::string, PowerState> states_;
    std::map<std::string, Timestamp> seen_off_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace noderepair::infra
