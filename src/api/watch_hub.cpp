#include "api/watch_hub.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include "api/codec.hpp"
#include "common/thread_name.hpp"

namespace noderepair::api {
namespace {

// How often streams whose client left are forgotten when no change comes to find them.
constexpr auto kPruneClosedInterval = std::chrono::seconds(5);
// Changes read from the database at a time.
constexpr int kTailBatch = 1000;

constexpr std::string_view kReady = "event: ready\ndata: {}\n\n";
constexpr std::string_view kReset = "event: reset\ndata: {}\n\n";

// An event id is a change's number in the database: decimal digits only.
std::optional<int64_t> ParseEventId(std::string_view id) {
    int64_t seq = 0;
    if (id.empty() || id.front() < '0' || id.front() > '9') return std::nullopt;
    auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), seq);
    if (ec != std::errc() || end != id.data() + id.size()) return std::nullopt;
    return seq;
}

}  // namespace

WatchHub::WatchHub(storage::Store& store, WatchOptions options) : store_(store), options_(options) {
    // Loaded before the first stream can ask, so a restarted server replays from the
    // database; when it cannot answer now, the thread tries again.
    (void)Load();
    thread_ = std::thread([this] {
        NameThisThread("nr-watch");
        Run();
    });
}

WatchHub::~WatchHub() { Stop(); }

void WatchHub::OnCommit(const storage::CommitReport& report) {
    if (report.changes.empty()) return;
    std::lock_guard lock(wake_mu_);
    woken_ = true;
    wake_cv_.notify_one();
}

void WatchHub::Stop() {
    {
        std::lock_guard lock(wake_mu_);
        if (stopping_) return;
        stopping_ = true;
    }
    wake_cv_.notify_one();
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mu_);
    subscribers_.clear();
}

size_t WatchHub::Subscribers() {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& [cluster, list] : subscribers_) n += list.size();
    return n;
}

int64_t WatchHub::LastPublished() {
    std::lock_guard lock(mu_);
    return last_seq_;
}

void WatchHub::Run() {
    auto next_prune_closed = std::chrono::steady_clock::now() + kPruneClosedInterval;
    auto next_prune_database = std::chrono::steady_clock::now() + options_.prune_every;
    auto last_tail = std::chrono::steady_clock::time_point{};
    while (true) {
        {
            std::unique_lock lock(wake_mu_);
            wake_cv_.wait_for(lock, options_.poll, [this] { return stopping_ || woken_; });
            wake_cv_.wait_until(lock, last_tail + options_.tail_gap, [this] { return stopping_; });
            if (stopping_) return;
            woken_ = false;
        }
        bool loaded;
        {
            std::lock_guard lock(mu_);
            loaded = loaded_;
        }
        if (!loaded && !Load()) continue;
        Tail();
        SettleWaiting();
        const auto now = last_tail = std::chrono::steady_clock::now();
        if (now >= next_prune_closed) {
            PruneClosed();
            next_prune_closed = now + kPruneClosedInterval;
        }
        if (now >= next_prune_database) {
            PruneDatabase();
            next_prune_database = now + options_.prune_every;
        }
    }
}

bool WatchHub::Load() {
    int64_t last = 0;
    std::vector<storage::RecordedChange> changes;
    Status read = store_.Read([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(last, reader.Remediations().LastChangeSeq());
        const int64_t from = std::max<int64_t>(0, last - int64_t(options_.history));
        NR_ASSIGN_OR_RETURN(changes,
                            reader.Remediations().ListChangesAfter(from, int(last - from)));
        return OkStatus();
    });
    if (!read) return false;
    auto events = Encode(std::move(changes));
    std::lock_guard lock(mu_);
    history_.clear();
    for (auto& event : events) history_.push_back(std::move(event));
    last_seq_ = last;
    loaded_ = true;
    return true;
}

void WatchHub::Tail() {
    while (true) {
        int64_t after;
        {
            std::lock_guard lock(mu_);
            after = last_seq_;
        }
        std::vector<storage::RecordedChange> changes;
        Status read = store_.Read([&](storage::Reader& reader) -> Status {
            NR_ASSIGN_OR_RETURN(changes, reader.Remediations().ListChangesAfter(after, kTailBatch));
            return OkStatus();
        });
        if (!read || changes.empty()) return;
        const bool full = changes.size() == size_t(kTailBatch);
        const bool gap = changes.front().seq != after + 1;
        // Encoding (and reading alerts) happens outside the lock; only this thread publishes.
        auto events = Encode(std::move(changes));
        std::lock_guard lock(mu_);
        if (gap) {
            // Numbers have no gaps in flight (docs/design.md 12): a missing one was pruned
            // before this replica read it, so every stream may have missed it.
            ResetAll();
            history_.clear();
        }
        for (auto& event : events) {
            Publish(event);
            last_seq_ = event.seq;
            history_.push_back(std::move(event));
            if (history_.size() > options_.history) history_.pop_front();
        }
        if (!full) return;
    }
}

std::vector<WatchHub::Event> WatchHub::Encode(std::vector<storage::RecordedChange> changes) {
    // A recorded change carries the row it wrote; the alerts linked to it live in their own
    // table, read in one transaction for the whole batch.
    const bool any_automated = std::any_of(changes.begin(), changes.end(), [](const auto& c) {
        return c.remediation.trigger == model::Trigger::kAutomated;
    });
    if (any_automated) {
        (void)store_.Read([&](storage::Reader& reader) -> Status {
            for (auto& change : changes) {
                auto& r = change.remediation;
                if (r.trigger != model::Trigger::kAutomated) continue;
                NR_ASSIGN_OR_RETURN(auto stored, reader.Remediations().Get(r.id));
                if (stored) r.linked_alerts = std::move(stored->linked_alerts);
            }
            return OkStatus();
        });
    }
    std::vector<Event> events;
    events.reserve(changes.size());
    for (auto& change : changes) {
        const auto& r = change.remediation;
        Event event{change.seq, r.cluster_id, r.instance_id, r.id, {}};
        event.text = "id: " + std::to_string(change.seq) +
                     "\nevent: remediation\ndata: " + RemediationJson(r) + "\n\n";
        events.push_back(std::move(event));
    }
    return events;
}

bool WatchHub::Matches(const WatchFilter& filter, const Event& event) {
    return (filter.instance_id.empty() || filter.instance_id == event.instance_id) &&
           (filter.remediation_id.empty() || filter.remediation_id == event.remediation_id);
}

void WatchHub::Publish(const Event& event) {
    auto it = subscribers_.find(event.cluster_id);
    if (it == subscribers_.end()) return;
    auto& list = it->second;
    std::erase_if(list, [&](Subscriber& s) {
        if (event.seq <= s.after) return s.stream->IsClosed();
        return Matches(s.filter, event) ? !s.stream->Send(event.text) : s.stream->IsClosed();
    });
    if (list.empty()) subscribers_.erase(it);
}

void WatchHub::SettleWaiting() {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    for (auto& [cluster, list] : subscribers_) {
        for (auto& s : list) {
            if (s.wait_until == std::chrono::steady_clock::time_point{}) continue;
            if (s.after <= last_seq_) {
                s.wait_until = {};
            } else if (now >= s.wait_until) {
                // No replica committed that change: the id is not one of ours.
                (void)s.stream->Send(std::string(kReset));
                s.after = last_seq_;
                s.wait_until = {};
            }
        }
    }
}

void WatchHub::ResetAll() {
    for (auto& [cluster, list] : subscribers_) {
        for (auto& s : list) (void)s.stream->Send(std::string(kReset));
    }
}

void WatchHub::PruneClosed() {
    std::lock_guard lock(mu_);
    for (auto it = subscribers_.begin(); it != subscribers_.end();) {
        std::erase_if(it->second, [](Subscriber& s) { return s.stream->IsClosed(); });
        it = it->second.empty() ? subscribers_.erase(it) : std::next(it);
    }
}

void WatchHub::PruneDatabase() {
    // Every replica prunes; the deletes skip rows another replica is deleting, so they never
    // wait on each other (the repository's PruneChanges).
    const int64_t keep = options_.keep_in_database;
    store_.Write(
        [keep](storage::Txn& txn) -> Status {
            auto pruned = txn.Remediations().PruneChanges(keep);
            return pruned ? OkStatus() : pruned.error();
        },
        [](Status) {});
}

int64_t WatchHub::HistoryBase() const {
    return history_.empty() ? last_seq_ : history_.front().seq - 1;
}

void WatchHub::Subscribe(WatchFilter filter, std::string_view last_event_id,
                         std::shared_ptr<ResponseStream> stream) {
    std::lock_guard lock(mu_);
    std::string first(kReady);
    Subscriber subscriber{std::move(filter), std::move(stream), last_seq_, {}};
    if (!last_event_id.empty()) {
        const auto after = ParseEventId(last_event_id);
        if (!after || !loaded_ || *after < HistoryBase()) {
            // Not a number of ours, or older than what is kept: the client lists again.
            first += kReset;
        } else if (*after > last_seq_) {
            // Another replica committed it a moment ago, or no one did: wait for the tail.
            subscriber.after = *after;
            subscriber.wait_until = std::chrono::steady_clock::now() + options_.future_id_wait;
        } else {
            // Replays what the client missed: all of it is still here.
            for (const auto& event : history_) {
                if (event.seq > *after && event.cluster_id == subscriber.filter.cluster_id &&
                    Matches(subscriber.filter, event)) {
                    first += event.text;
                }
            }
        }
    }
    if (!subscriber.stream->Send(std::move(first))) return;
    std::string cluster = subscriber.filter.cluster_id;
    subscribers_[cluster].push_back(std::move(subscriber));
}

}  // namespace noderepair::api
