// Live updates (README "Live updates", docs/design.md 12): every committed remediation change
// becomes a server-sent event, fanned out to the streams watching its cluster, instance or id.
// The changes come from the database's change stream (storage RecordedChange), tailed by the
// hub's own thread, so every replica on one database streams every replica's commits in
// commit order, and an event's id is the change's number in the database: Last-Event-ID
// works on any replica and across restarts. A local commit wakes the tail at once; other
// replicas' commits are found by polling. A bounded history, loaded from the database at
// start, lets a client that reconnects miss nothing; one that was gone too long is told to
// reset.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api/http.hpp"
#include "storage/store.hpp"

namespace noderepair::api {

// Which changes a stream wants: one cluster, and within it optionally one instance or one
// remediation.
struct WatchFilter {
    std::string cluster_id;
    std::string instance_id;     // empty: every instance
    std::string remediation_id;  // empty: every remediation
};

struct WatchOptions {
    size_t history = 4096;  // changes kept for Last-Event-ID (docs/http-api.md 4.8)
    // How often the database is asked for other replicas' changes (docs/design.md 12).
    std::chrono::milliseconds poll{50};
    // Local commits wake the tail at most this often: under a stream of commits it reads many
    // in one read of the database instead of one read each, and a stream sees a change at
    // most this much later.
    std::chrono::milliseconds tail_gap{10};
    // Recorded changes kept in the database; older ones are pruned every `prune_every`.
    int64_t keep_in_database = 100000;
    std::chrono::milliseconds prune_every{10000};
    // How long a Last-Event-ID newer than this replica has read may wait for the tail to
    // reach it (another replica committed it a moment ago) before the stream is reset.
    std::chrono::milliseconds future_id_wait{3000};
};

class WatchHub final : public storage::CommitObserver {
public:
    // `store` holds the change stream and the linked alerts of automated remediations.
    explicit WatchHub(storage::Store& store, WatchOptions options = {});
    ~WatchHub() override;
    WatchHub(const WatchHub&) = delete;
    WatchHub& operator=(const WatchHub&) = delete;

    // A local commit with remediation changes wakes the tail.
    void OnCommit(const storage::CommitReport& report) override;

    // Sends `event: ready`, then the changes after `last_event_id` still in the history (or
    // `event: reset` when some are gone), then every new matching change until the stream
    // closes. Never touches the database: it runs on an I/O thread.
    void Subscribe(WatchFilter filter, std::string_view last_event_id,
                   std::shared_ptr<ResponseStream> stream);
    // Drops every stream and stops the thread; changes committed later are ignored.
    void Stop();
    size_t Subscribers();
    // The number of the newest change published (0 before the first).
    int64_t LastPublished();

private:
    struct Event {
        int64_t seq = 0;
        std::string cluster_id;
        std::string instance_id;
        std::string remediation_id;
        std::string text;  // the whole SSE frame
    };
    struct Subscriber {
        WatchFilter filter;
        std::shared_ptr<ResponseStream> stream;
        int64_t after = 0;  // sends only changes numbered after this
        // Set while `after` is ahead of what this replica has read: past it, reset.
        std::chrono::steady_clock::time_point wait_until{};
    };

    void Run();
    // Reads the newest `history` changes and the newest number; false when the database
    // could not answer (tried again at the next poll).
    bool Load();
    // Publishes every change committed since the last one published.
    void Tail();
    std::vector<Event> Encode(std::vector<storage::RecordedChange> changes);
    static bool Matches(const WatchFilter& filter, const Event& event);
    // Sends `event` to the cluster's subscribers and forgets those whose stream closed.
    void Publish(const Event& event);
    // Subscribers whose Last-Event-ID the tail has now reached stop waiting; those that
    // waited too long are reset.
    void SettleWaiting();
    // Tells every stream to list again: changes it should have had are gone.
    void ResetAll();
    void PruneClosed();
    void PruneDatabase();
    int64_t HistoryBase() const;  // history holds every change after this one

    storage::Store& store_;
    const WatchOptions options_;

    std::mutex wake_mu_;
    std::condition_variable wake_cv_;
    bool woken_ = false;
    bool stopping_ = false;

    std::mutex mu_;  // everything below
    bool loaded_ = false;
    int64_t last_seq_ = 0;
    std::deque<Event> history_;
    std::map<std::string, std::vector<Subscriber>> subscribers_;  // by cluster

    std::thread thread_;
};

}  // namespace noderepair::api
