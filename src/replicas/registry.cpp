#include "replicas/registry.hpp"

#include <unistd.h>

#include <cstdio>

#include "common/thread_name.hpp"

namespace noderepair::replicas {
namespace {

int64_t SteadyNanos(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

std::string DefaultReplicaId(const std::string& listen) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return listen;
    return std::string(host) + "/" + listen;
}

Registry::Registry(storage::Store& store, std::string id, std::chrono::milliseconds lease)
    : store_(store), id_(std::move(id)), lease_(lease) {}

Registry::~Registry() { Stop(); }

Status Registry::Start() {
    NR_RETURN_IF_ERROR(
        store_.WriteAndWait([this](storage::Txn& txn) { return txn.Replicas().Register(id_); }));
    NR_RETURN_IF_ERROR(HeartbeatOnce());
    thread_ = std::thread([this] {
        NameThisThread("nr-replica");
        // Four heartbeats a lease: a leader renews well before its lease ends, and a dead
        // leader's lease is taken within a quarter lease of its end.
        const auto interval =
            std::max<std::chrono::milliseconds>(lease_ / 4, std::chrono::milliseconds(100));
        std::unique_lock lock(mu_);
        while (!stopping_) {
            cv_.wait_for(lock, interval, [this] { return stopping_; });
            if (stopping_) break;
            lock.unlock();
            Status beat = HeartbeatOnce();
            if (!beat) {
                std::fprintf(stderr, "noderepair: replica heartbeat: %s\n",
                             beat.error().message.c_str());
            }
            lock.lock();
        }
    });
    return OkStatus();
}

void Registry::Stop() {
    {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (leader_until_.exchange(0) != 0) {
        (void)store_.WriteAndWait([this](storage::Txn& txn) { return txn.Replicas().Resign(id_); });
    }
}

bool Registry::IsLeader() const {
    return SteadyNanos(std::chrono::steady_clock::now()) < leader_until_.load();
}

Status Registry::HeartbeatOnce() {
    // Judged locally from when the heartbeat was sent: the database's lease ends no earlier
    // than a full lease after that, so stopping at three quarters never overlaps a successor.
    const auto sent = std::chrono::steady_clock::now();
    bool leads = false;
    Status beat = store_.WriteAndWait([&](storage::Txn& txn) -> Status {
        NR_ASSIGN_OR_RETURN(leads, txn.Replicas().Heartbeat(id_, true, lease_));
        return OkStatus();
    });
    if (!beat) return beat;
    const bool was = IsLeader();
    if (leads && !was) ++leader_term_;
    leader_until_.store(leads ? SteadyNanos(sent + lease_ * 3 / 4) : 0);
    if (leads != was) {
        std::fprintf(stderr, "noderepair: replica %s %s the leader\n", id_.c_str(),
                     leads ? "is now" : "is no longer");
    }
    return OkStatus();
}

}  // namespace noderepair::replicas
