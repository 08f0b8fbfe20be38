// Live updates (README "Live updates"): every committed remediation change becomes a
// server-sent event, fanned out to the streams watching its cluster, instance or id. A
// bounded history lets a client that reconnects with Last-Event-ID miss nothing; one that
// was gone too long is told to reset. The store's writer only hands changes over; encoding
// and fan-out run on the hub's own thread.
#pragma once

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

class WatchHub final : public storage::CommitObserver {
public:
    // `store` fills in the linked alerts of automated remediations, which a change lacks.
    WatchHub(storage::Store& store, size_t history = 4096);
    ~WatchHub() override;
    WatchHub(const WatchHub&) = delete;
    WatchHub& operator=(const WatchHub&) = delete;

    void OnCommit(const storage::CommitReport& report) override;

    // Sends `event: ready`, then the changes after `last_event_id` still in the history (or
    // `event: reset` when some are gone), then every new matching change until the stream
    // closes.
    void Subscribe(WatchFilter filter, std::string_view last_event_id,
                   std::shared_ptr<ResponseStream> stream);
    // Drops every stream and stops the thread; changes committed later are ignored.
    void Stop();
    size_t Subscribers();

private:
    struct Event {
        uint64_t seq = 0;
        std::string cluster_id;
        std::string instance_id;
        std::string remediation_id;
        std::string text;  // the whole SSE frame
    };
    struct Subscriber {
        WatchFilter filter;
        std::shared_ptr<ResponseStream> stream;
    };

    void Run();
    Event Encode(storage::RemediationChange change, uint64_t seq);
    static bool Matches(const WatchFilter& filter, const Event& event);
    // Sends `event` to the cluster's subscribers and forgets those whose stream closed.
    void Publish(const Event& event);
    void PruneClosed();

    storage::Store& store_;
    const size_t history_limit_;
    const std::string epoch_;  // event ids are "<epoch>-<seq>": a restarted server resets

    std::mutex inbox_mu_;
    std::condition_variable inbox_cv_;
    std::vector<storage::RemediationChange> inbox_;
    bool stopping_ = false;

    std::mutex mu_;  // history_, next_seq_, subscribers_
    std::deque<Event> history_;
    uint64_t next_seq_ = 1;
    std::map<std::string, std::vector<Subscriber>> subscribers_;  // by cluster

    std::thread thread_;
};

}  // namespace noderepair::api
