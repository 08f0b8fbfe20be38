#include "infra/slurm_watcher.hpp"

#include "common/log.hpp"
#include "common/thread_name.hpp"

namespace noderepair::infra {
namespace {

// An open signal is sent again this often, so that auto-resolve (which ends signals nobody
// repeats) does not end one that still holds.
constexpr auto kRefresh = std::chrono::seconds(60);

}  // namespace

Result<std::vector<std::regex>> SlurmWatcher::CompilePatterns(
    const std::vector<std::string>& patterns) {
    std::vector<std::regex> out;
    for (const auto& pattern : patterns) {
        std::string text = pattern;
        auto flags = std::regex::ECMAScript;
        if (text.starts_with("(?i)")) {
            text = text.substr(4);
            flags |= std::regex::icase;
        }
        try {
            out.emplace_back(text, flags);
        } catch (const std::regex_error& e) {
            return InvalidArgument("config: workload.signal_reasons: '" + pattern +
                                   "' is not a regular expression: " + e.what());
        }
    }
    return out;
}

SlurmWatcher::SlurmWatcher(const SlurmClient& slurm, std::vector<std::regex> patterns,
                           const Clock& clock, IngestFn ingest, ResumedAtFn resumed_at)
    : slurm_(slurm),
      patterns_(std::move(patterns)),
      clock_(clock),
      ingest_(std::move(ingest)),
      resumed_at_(std::move(resumed_at)),
      listing_conf_(std::make_unique<SlurmListingConf>(slurm_.slurm_conf())) {}

SlurmWatcher::~SlurmWatcher() { Stop(); }

std::string SlurmWatcher::UnavailableReason(const SlurmNode& node, Timestamp now) const {
    if (node.OurReason()) return {};  // noderepair's own drain or power cycle
    // Before not responding: a node that registered with fewer GPUs is a fault at once.
    if (node.Has("INVALID_REG")) return node.reason.empty() ? "invalid registration" : node.reason;
    if (node.state == "DOWN" || node.Has("NOT_RESPONDING")) {
        // What a power cycle leaves behind, not what an operator or a health check said.
        const bool restart_trace = node.reason.empty() || node.reason == "Not responding" ||
                                   node.reason.starts_with("Node unexpectedly rebooted");
        if (restart_trace && resumed_at_) {
            auto resumed = resumed_at_(node.name);
            if (resumed && now - *resumed < kSettleAfterResume) return {};  // still settling
        }
        return node.reason.empty() ? "Not responding" : node.reason;
    }
    if (node.DrainFlag() || node.Has("FAIL")) {
        for (const auto& pattern : patterns_) {
            if (std::regex_search(node.reason, pattern)) return node.reason;
        }
    }
    return {};
}

model::IncomingAlert SlurmWatcher::AlertOf(const SlurmNode& node, const std::string& reason,
                                           bool firing, Timestamp since, Timestamp now) const {
    model::IncomingAlert alert;
    alert.firing = firing;
    alert.labels = {{"alertname", "SlurmNodeUnavailable"},
                    {"node", node.name},
                    {"reason", reason},
                    {"slurm_state", node.state_text}};
    alert.annotations = {
        {"description", "Slurm reports node " + node.name + " " + node.state_text + ": " + reason}};
    alert.starts_at = since;
    if (!firing) alert.ends_at = now;
    alert.fingerprint = "slurm:" + slurm_.slurm_conf() + ":" + node.name;
    return alert;
}

Result<std::vector<SlurmNode>> SlurmWatcher::ListNodes() {
    if (listing_conf_ == nullptr) return slurm_.Nodes();
    auto conf = listing_conf_->Path();
    if (!conf) return slurm_.Nodes();  // the original unreadable now: scontrol says why
    auto nodes = slurm_.NodesReading(*conf);
    if (nodes && !nodes->empty()) {
        if (!listing_logged_) {
            listing_logged_ = true;
            WriteLog(LogLine("slurm_watcher")
                         .Add("slurm_conf", slurm_.slurm_conf())
                         .Add("listing", "client_copy")
                         .Add("copy", *conf)
                         .Add("nodes", int64_t(nodes->size()))
                         .Finish());
        }
        return nodes;
    }
    // The copy is what fails (a setting it needs went with the node lines) when the original
    // lists: list with the original from now on.
    auto with_original = slurm_.Nodes();
    if (with_original && !with_original->empty()) {
        WriteLog(LogLine("slurm_watcher")
                     .Add("slurm_conf", slurm_.slurm_conf())
                     .Add("listing", "original")
                     .Add("why", nodes ? "the client copy listed no node" : nodes.error().message)
                     .Finish());
        listing_conf_.reset();
    }
    return with_original;
}

Status SlurmWatcher::PollOnce() {
    NR_ASSIGN_OR_RETURN(auto nodes, ListNodes());
    const Timestamp now = clock_.Now();
    std::vector<model::IncomingAlert> changed;
    for (const auto& node : nodes) {
        const std::string reason = UnavailableReason(node, now);
        auto open = open_.find(node.name);
        if (!reason.empty()) {
            if (open == open_.end()) {
                open = open_.emplace(node.name, Open{now, reason, now}).first;
                changed.push_back(AlertOf(node, reason, true, now, now));
            } else if (open->second.reason != reason || now - open->second.last_sent >= kRefresh) {
                open->second.reason = reason;
                open->second.last_sent = now;
                changed.push_back(AlertOf(node, reason, true, open->second.since, now));
            }
        } else if (open != open_.end() && node.Healthy()) {
            changed.push_back(AlertOf(node, open->second.reason, false, open->second.since, now));
            open_.erase(open);
        }
    }
    if (!changed.empty()) ingest_(std::move(changed));
    return OkStatus();
}

void SlurmWatcher::Start(std::chrono::milliseconds interval, std::function<bool()> leads,
                         std::function<void()> polled) {
    thread_ = std::thread([this, interval, leads = std::move(leads), polled = std::move(polled)] {
        NameThisThread("nr-slurm-watch");
        std::unique_lock lock(mu_);
        while (!stopping_) {
            lock.unlock();
            // A controller that does not answer is asked again next time.
            if ((!leads || leads()) && PollOnce().ok() && polled) polled();
            lock.lock();
            cv_.wait_for(lock, interval, [this] { return stopping_; });
        }
    });
}

void SlurmWatcher::Stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

}  // namespace noderepair::infra
