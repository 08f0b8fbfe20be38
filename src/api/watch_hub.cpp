#include "api/watch_hub.hpp"

#include <algorithm>
#include <charconv>

#include "api/codec.hpp"
#include "common/ids.hpp"
#include "common/thread_name.hpp"

namespace noderepair::api {
namespace {

// How often streams whose client left are forgotten when no change comes to find them.
constexpr auto kPruneInterval = std::chrono::seconds(5);

}  // namespace

WatchHub::WatchHub(storage::Store& store, size_t history)
    : store_(store), history_limit_(history), epoch_(RandomHex(4)) {
    thread_ = std::thread([this] {
        NameThisThread("nr-watch");
        Run();
    });
}

WatchHub::~WatchHub() { Stop(); }

void WatchHub::OnCommit(const storage::CommitReport& report) {
    if (report.changes.empty()) return;
    std::lock_guard lock(inbox_mu_);
    if (stopping_) return;
    inbox_.insert(inbox_.end(), report.changes.begin(), report.changes.end());
    inbox_cv_.notify_one();
}

void WatchHub::Stop() {
    {
        std::lock_guard lock(inbox_mu_);
        if (stopping_) return;
        stopping_ = true;
    }
    inbox_cv_.notify_one();
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

void WatchHub::Run() {
    std::vector<storage::RemediationChange> batch;
    while (true) {
        {
            std::unique_lock lock(inbox_mu_);
            inbox_cv_.wait_for(lock, kPruneInterval,
                               [this] { return stopping_ || !inbox_.empty(); });
            if (stopping_) return;
            batch.swap(inbox_);
        }
        if (batch.empty()) {
            PruneClosed();
            continue;
        }
        // Encoding (and reading alerts) happens outside the lock; the sequence numbers are
        // handed out inside it, in commit order, since this is the only thread publishing.
        uint64_t seq;
        {
            std::lock_guard lock(mu_);
            seq = next_seq_;
            next_seq_ += batch.size();
        }
        std::vector<Event> events;
        events.reserve(batch.size());
        for (auto& change : batch) events.push_back(Encode(std::move(change), seq++));
        batch.clear();
        std::lock_guard lock(mu_);
        for (auto& event : events) {
            Publish(event);
            history_.push_back(std::move(event));
            if (history_.size() > history_limit_) history_.pop_front();
        }
    }
}

WatchHub::Event WatchHub::Encode(storage::RemediationChange change, uint64_t seq) {
    auto& r = change.remediation;
    // A change carries the row it wrote; the alerts linked to it live in their own table.
    if (r.trigger == model::Trigger::kAutomated) {
        (void)store_.Read([&](storage::Reader& reader) -> Status {
            NR_ASSIGN_OR_RETURN(auto stored, reader.Remediations().Get(r.id));
            if (stored) r.linked_alerts = std::move(stored->linked_alerts);
            return OkStatus();
        });
    }
    Event event{seq, r.cluster_id, r.instance_id, r.id, {}};
    event.text = "id: " + epoch_ + "-" + std::to_string(seq) +
                 "\nevent: remediation\ndata: " + RemediationJson(r) + "\n\n";
    return event;
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
        return Matches(s.filter, event) ? !s.stream->Send(event.text) : s.stream->IsClosed();
    });
    if (list.empty()) subscribers_.erase(it);
}

void WatchHub::PruneClosed() {
    std::lock_guard lock(mu_);
    for (auto it = subscribers_.begin(); it != subscribers_.end();) {
        std::erase_if(it->second, [](Subscriber& s) { return s.stream->IsClosed(); });
        it = it->second.empty() ? subscribers_.erase(it) : std::next(it);
    }
}

void WatchHub::Subscribe(WatchFilter filter, std::string_view last_event_id,
                         std::shared_ptr<ResponseStream> stream) {
    std::lock_guard lock(mu_);
    std::string first = "event: ready\ndata: {}\n\n";
    if (!last_event_id.empty()) {
        // Replays what the client missed when it is all still here; otherwise it must re-list.
        uint64_t after = 0;
        const std::string prefix = epoch_ + "-";
        bool ours = last_event_id.starts_with(prefix);
        if (ours) {
            auto digits = last_event_id.substr(prefix.size());
            auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), after);
            ours = ec == std::errc() && end == digits.data() + digits.size() && after < next_seq_;
        }
        const uint64_t oldest = history_.empty() ? next_seq_ : history_.front().seq;
        if (!ours || after + 1 < oldest) {
            first += "event: reset\ndata: {}\n\n";
        } else {
            for (const auto& event : history_) {
                if (event.seq > after && event.cluster_id == filter.cluster_id &&
                    Matches(filter, event)) {
                    first += event.text;
                }
            }
        }
    }
    if (!stream->Send(std::move(first))) return;
    std::string cluster = filter.cluster_id;
    subscribers_[cluster].push_back({std::move(filter), std::move(stream)});
}

}  // namespace noderepair::api
