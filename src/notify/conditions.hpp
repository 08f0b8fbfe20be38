// The conditions behind noderepair's own alerts (docs/http-api.md 11, "Notifications"): each
// reads the store and says which alerts hold now. The notifier pushes them to Alertmanager.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"
#include "storage/store.hpp"

namespace noderepair::notify {

// One of noderepair's own alerts while its condition holds. The labels identify it (and let a
// site route it: alertname, cluster, instance, severity); the annotations describe it.
struct OwnAlert {
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> annotations;
    Timestamp since;  // when the condition began: Alertmanager's startsAt
};

struct ConditionOptions {
    std::chrono::seconds approval_after{600};  // notify.approval_after_s
};

// A named condition: the alerts of its alertname that hold at `now`.
struct Condition {
    std::string alertname;
    std::function<Result<std::vector<OwnAlert>>(storage::Reader& reader, Timestamp now)> check;
};

// Every condition noderepair notifies about.
std::vector<Condition> Conditions(const ConditionOptions& options);

}  // namespace noderepair::notify
