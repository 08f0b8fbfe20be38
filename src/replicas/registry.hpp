// This replica among the others on one database (docs/design.md 12): its row in `replicas`,
// heartbeated, and the leader lease that decides which replica runs the background duties
// (the health sweeper, Slurm watchers, power polling).
//
// The leader holds a lease row judged by the database's clock rather than a session advisory
// lock: a session lock lives as long as its connection, so a leader that is paused (SIGSTOP)
// or half cut off keeps it while its TCP connection stays open, and the duties never move; a
// lease simply expires. Leadership is kept only while heartbeats commit: a leader that cannot
// renew stops leading locally after three quarters of the lease, before another can take it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.hpp"
#include "storage/store.hpp"

namespace noderepair::replicas {

// The default id: the host name and the listen address, so it is stable across restarts.
std::string DefaultReplicaId(const std::string& listen);

class Registry {
public:
    Registry(storage::Store& store, std::string id, std::chrono::milliseconds lease);
    ~Registry();

    // Registers this replica (started_at = now) and takes the leader lease when it is free.
    Status Start();
    // Stops the heartbeat and gives the leader lease up, so another replica leads at once.
    void Stop();

    const std::string& id() const { return id_; }
    // Whether this replica runs the background duties now.
    bool IsLeader() const;
    // Counts the times this replica began leading: what another leader may have written in
    // between is unknown to it (PowerRecorder writes every host again in a new term).
    int64_t LeaderTerm() const { return leader_term_.load(); }
    // One heartbeat, committed before it returns (tests, and Start).
    Status HeartbeatOnce();

private:
    storage::Store& store_;
    const std::string id_;
    const std::chrono::milliseconds lease_;

    std::atomic<int64_t> leader_until_{0};  // steady-clock ns; 0: not the leader
    std::atomic<int64_t> leader_term_{0};
    std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace noderepair::replicas
