// Pushes noderepair's own alerts to Alertmanager's API (docs/http-api.md 11, "Notifications"),
// as Alertmanager clients do: every round it checks the conditions, re-sends each alert that
// holds with endsAt a few rounds ahead, and sends each alert that stopped holding once more
// with endsAt now, which resolves it. Runs on a thread of its own, so a slow or dead
// Alertmanager delays nothing else (the sender has timeouts; failures are logged and counted).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"
#include "notify/conditions.hpp"
#include "storage/store.hpp"
#include "telemetry/metrics.hpp"

namespace noderepair::notify {

// Posts one JSON array of alerts to Alertmanager's /api/v2/alerts; an error when it was not
// accepted. Called on the notifier's thread only.
using Sender = std::function<Status(const std::string& alerts_json)>;

struct NotifierOptions {
    std::chrono::seconds interval{60};  // notify.interval_s
    // Only the leader sends (several replicas would each send the same alerts). A single
    // process is its own leader; with replicas (docs/http-api.md 9) this asks the election.
    std::function<bool()> is_leader = [] { return true; };
};

class Notifier {
public:
    Notifier(storage::Store& store, const Clock& clock, std::vector<Condition> conditions,
             Sender send, NotifierOptions options, telemetry::Metrics* metrics = nullptr);
    ~Notifier();
    Notifier(const Notifier&) = delete;
    Notifier& operator=(const Notifier&) = delete;

    // Starts the thread: a round at once, then one every interval.
    void Start();
    // Stops the thread after the round in progress; idempotent.
    void Stop();

    // One round, on the calling thread (the thread's loop, and tests).
    void RunOnce();

    // The JSON array Alertmanager's POST /api/v2/alerts takes.
    static std::string AlertsJson(const std::vector<OwnAlert>& alerts,
                                  const std::vector<Timestamp>& ends_at);
    // What identifies an alert: its labels, in order.
    static std::string KeyOf(const OwnAlert& alert);

private:
    storage::Store& store_;
    const Clock& clock_;
    std::vector<Condition> conditions_;
    Sender send_;
    NotifierOptions options_;
    telemetry::Metrics* metrics_;

    // Alerts firing at the last round, by KeyOf; and those that stopped, until their resolution
    // was delivered. Touched by the round's thread only.
    std::map<std::string, OwnAlert> firing_;
    std::map<std::string, OwnAlert> resolving_;

    std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace noderepair::notify
