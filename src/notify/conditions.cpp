#include "notify/conditions.hpp"

#include <utility>

namespace noderepair::notify {
namespace {

// At most this many alerts of one alertname per round: a flood of them says no more than the
// first hundred, and a push stays small.
constexpr int kMaxPerCondition = 100;

Condition ApprovalWaiting(const ConditionOptions& options) {
    return {"NoderepairApprovalWaiting",
            [after = options.approval_after](storage::Reader& reader,
                                             Timestamp now) -> Result<std::vector<OwnAlert>> {
                NR_ASSIGN_OR_RETURN(auto waiting, reader.Stats().ListWaitingApproval(
                                                      now - after, kMaxPerCondition));
                std::vector<OwnAlert> alerts;
                for (auto& w : waiting) {
                    OwnAlert a;
                    a.labels = {{"alertname", "NoderepairApprovalWaiting"},
                                {"severity", "warning"},
                                {"cluster", w.cluster_id},
                                {"instance", w.instance_id},
                                {"remediation", w.remediation_id}};
                    a.annotations = {{"summary", "Remediation " + w.remediation_id + " of " +
                                                     w.instance_name + " waits for approval"},
                                     {"description", "In PENDING_APPROVAL since " +
                                                         FormatRfc3339(w.create_time) +
                                                         ": approve or reject it in the console."}};
                    a.since = w.create_time;
                    alerts.push_back(std::move(a));
                }
                return alerts;
            }};
}

Condition NodeAttention() {
    return {"NoderepairNodeAttention",
            [](storage::Reader& reader, Timestamp now) -> Result<std::vector<OwnAlert>> {
                NR_ASSIGN_OR_RETURN(auto nodes, reader.Stats().ListAttention(kMaxPerCondition));
                std::vector<OwnAlert> alerts;
                for (auto& n : nodes) {
                    OwnAlert a;
                    a.labels = {{"alertname", "NoderepairNodeAttention"},
                                {"severity", "critical"},
                                {"cluster", n.cluster_id},
                                {"instance", n.instance_id}};
                    a.annotations = {
                        {"summary", "Worker node " + n.instance_name + " needs a person"},
                        {"description", n.why}};
                    // The setting keeps no time: the notifier keeps the first round's.
                    a.since = now;
                    alerts.push_back(std::move(a));
                }
                return alerts;
            }};
}

Condition SuspectHost() {
    return {"NoderepairSuspectHost",
            [](storage::Reader& reader, Timestamp now) -> Result<std::vector<OwnAlert>> {
                NR_ASSIGN_OR_RETURN(auto hosts, reader.Stats().ListSuspectHosts(kMaxPerCondition));
                std::vector<OwnAlert> alerts;
                for (auto& h : hosts) {
                    OwnAlert a;
                    a.labels = {{"alertname", "NoderepairSuspectHost"},
                                {"severity", "warning"},
                                {"host", h.host_name}};
                    if (!h.rack.empty()) a.labels.emplace("rack", h.rack);
                    a.annotations = {
                        {"summary", "Host " + h.host_name + " is suspect"},
                        {"description", h.why + ". Clear it with POST /v1/compute/hosts/" +
                                            h.host_name + ":clear once repaired."}};
                    // The suspicion keeps no time: the notifier keeps the first round's.
                    a.since = now;
                    alerts.push_back(std::move(a));
                }
                return alerts;
            }};
}

Condition IncidentOpen() {
    return {"NoderepairIncidentOpen",
            [](storage::Reader& reader, Timestamp) -> Result<std::vector<OwnAlert>> {
                NR_ASSIGN_OR_RETURN(auto open, reader.Stats().ListOpenIncidents(kMaxPerCondition));
                std::vector<OwnAlert> alerts;
                for (auto& i : open) {
                    OwnAlert a;
                    a.labels = {{"alertname", "NoderepairIncidentOpen"},
                                {"severity", "critical"},
                                {"cluster", i.cluster_id},
                                {"incident", i.id}};
                    if (!i.rack.empty()) a.labels.emplace("rack", i.rack);
                    const std::string scope =
                        i.rack.empty() ? "cluster " + i.cluster_id : "rack " + i.rack;
                    a.annotations = {
                        {"summary", "Incident " + i.id + " is open on " + scope},
                        {"description", std::to_string(i.signals) + " signals of " + scope +
                                            " since " + FormatRfc3339(i.first_seen) +
                                            ": automation holds its instances until the "
                                            "incident is released or dismissed."}};
                    a.since = i.first_seen;
                    alerts.push_back(std::move(a));
                }
                return alerts;
            }};
}

}  // namespace

std::vector<Condition> Conditions(const ConditionOptions& options) {
    return {ApprovalWaiting(options), NodeAttention(), SuspectHost(), IncidentOpen()};
}

}  // namespace noderepair::notify
