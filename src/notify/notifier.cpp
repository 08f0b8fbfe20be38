#include "notify/notifier.hpp"

#include <utility>

#include "common/json.hpp"
#include "common/log.hpp"
#include "common/thread_name.hpp"

namespace noderepair::notify {
namespace {

// Alertmanager clients set endsAt a few evaluation rounds ahead (Prometheus: four), so one or
// two lost pushes do not resolve an alert that still holds.
constexpr int kRoundsAhead = 4;

void LogFailure(std::string_view what, const Error& error) {
    WriteLog(LogLine("notify_failed")
                 .Add("what", what)
                 .Add("code", int64_t(error.code))
                 .Add("error", error.message)
                 .Finish());
}

}  // namespace

Notifier::Notifier(storage::Store& store, const Clock& clock, std::vector<Condition> conditions,
                   Sender send, NotifierOptions options, telemetry::Metrics* metrics)
    : store_(store),
      clock_(clock),
      conditions_(std::move(conditions)),
      send_(std::move(send)),
      options_(std::move(options)),
      metrics_(metrics) {}

Notifier::~Notifier() { Stop(); }

void Notifier::Start() {
    thread_ = std::thread([this] {
        NameThisThread("nr-notify");
        std::unique_lock lock(mu_);
        while (!stopping_) {
            lock.unlock();
            RunOnce();
            lock.lock();
            cv_.wait_for(lock, options_.interval, [this] { return stopping_; });
        }
    });
}

void Notifier::Stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

std::string Notifier::KeyOf(const OwnAlert& alert) {
    std::string key;
    for (const auto& [name, value] : alert.labels) key += name + "=" + value + "\n";
    return key;
}

std::string Notifier::AlertsJson(const std::vector<OwnAlert>& alerts,
                                 const std::vector<Timestamp>& ends_at) {
    std::string out;
    JsonWriter w(out);
    w.BeginArray();
    for (size_t i = 0; i < alerts.size(); ++i) {
        w.BeginObject().Key("labels").BeginObject();
        for (const auto& [name, value] : alerts[i].labels) w.Key(name).String(value);
        w.EndObject().Key("annotations").BeginObject();
        for (const auto& [name, value] : alerts[i].annotations) w.Key(name).String(value);
        w.EndObject()
            .Key("startsAt")
            .String(FormatRfc3339(alerts[i].since))
            .Key("endsAt")
            .String(FormatRfc3339(ends_at[i]))
            .EndObject();
    }
    w.EndArray();
    return out;
}

void Notifier::RunOnce() {
    if (!options_.is_leader()) return;
    const Timestamp now = clock_.Now();
    std::map<std::string, OwnAlert> holding;
    std::map<std::string, size_t> firing_by_name;
    bool all_checked = true;
    Status read = store_.Read([&](storage::Reader& reader) -> Status {
        for (const auto& condition : conditions_) {
            auto alerts = condition.check(reader, now);
            if (!alerts) {
                // One failing condition neither hides nor resolves the others' alerts.
                LogFailure(condition.alertname, alerts.error());
                all_checked = false;
                continue;
            }
            firing_by_name[condition.alertname] = alerts->size();
            for (auto& alert : *alerts) {
                std::string key = KeyOf(alert);
                holding.emplace(std::move(key), std::move(alert));
            }
        }
        return OkStatus();
    });
    if (!read) {
        LogFailure("read", read.error());
        return;
    }
    if (!all_checked) {
        // Without every condition's answer, what is missing may still hold: resolve nothing.
        for (const auto& [key, alert] : firing_) holding.try_emplace(key, alert);
    }
    // An alert keeps the start of its first round (a condition may not know when it began).
    for (auto& [key, alert] : holding) {
        if (auto known = firing_.find(key); known != firing_.end())
            alert.since = known->second.since;
        resolving_.erase(key);
    }
    for (auto& [key, alert] : firing_) {
        if (!holding.count(key)) resolving_.emplace(key, std::move(alert));
    }
    firing_ = std::move(holding);
    if (metrics_ != nullptr) {
        for (const auto& [name, n] : firing_by_name) metrics_->NotifyFiring(name, n);
    }
    if (firing_.empty() && resolving_.empty()) return;

    std::vector<OwnAlert> alerts;
    std::vector<Timestamp> ends_at;
    const Timestamp ahead = now + kRoundsAhead * options_.interval;
    for (const auto& [key, alert] : firing_) {
        alerts.push_back(alert);
        ends_at.push_back(ahead);
    }
    for (const auto& [key, alert] : resolving_) {
        alerts.push_back(alert);
        ends_at.push_back(now);
    }
    Status sent = send_(AlertsJson(alerts, ends_at));
    if (metrics_ != nullptr) metrics_->NotifyPosted(bool(sent));
    if (!sent) {
        // Resolutions are sent again next round; firing alerts are re-sent every round anyway.
        LogFailure("push", sent.error());
        return;
    }
    resolving_.clear();
}

}  // namespace noderepair::notify
