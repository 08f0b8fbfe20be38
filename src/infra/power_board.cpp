#include "infra/power_board.hpp"

#include "common/thread_name.hpp"

namespace noderepair::infra {

PowerBoard::~PowerBoard() { Stop(); }

void PowerBoard::Set(const std::string& host, PowerState state) {
    std::lock_guard lock(mu_);
    states_[host] = state;
    if (state == PowerState::kOff) seen_off_[host] = clock_.Now();
}

std::optional<Timestamp> PowerBoard::LastSeenOff(const std::string& host) const {
    std::lock_guard lock(mu_);
    auto it = seen_off_.find(host);
    if (it == seen_off_.end()) return std::nullopt;
    return it->second;
}

std::optional<PowerState> PowerBoard::Get(const std::string& host) const {
    std::lock_guard lock(mu_);
    auto it = states_.find(host);
    if (it == states_.end()) return std::nullopt;
    return it->second;
}

void PowerBoard::Start(std::map<std::string, Bmc> bmcs, std::chrono::seconds interval,
                       std::chrono::milliseconds timeout, std::function<bool()> leads,
                       std::function<void(const std::string& host, PowerState state)> on_read) {
    {
        std::lock_guard lock(mu_);
        for (const auto& [host, bmc] : bmcs) states_.emplace(host, PowerState::kUnknown);
    }
    if (bmcs.empty()) return;
    thread_ = std::thread([this, bmcs = std::move(bmcs), interval, timeout,
                           leads = std::move(leads), on_read = std::move(on_read)] {
        NameThisThread("nr-power");
        std::unique_lock lock(mu_);
        while (!stopping_) {
            for (const auto& [host, bmc] : bmcs) {
                if (leads && !leads()) break;
                lock.unlock();
                auto state = GetPower(bmc, timeout);
                Set(host, state ? *state : PowerState::kUnknown);
                if (on_read) on_read(host, state ? *state : PowerState::kUnknown);
                lock.lock();
                if (stopping_) return;
            }
            cv_.wait_for(lock, interval, [this] { return stopping_; });
        }
    });
}

void PowerBoard::Stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

}  // namespace noderepair::infra
