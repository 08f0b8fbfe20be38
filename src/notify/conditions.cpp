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

}  // namespace

std::vector<Condition> Conditions(const ConditionOptions& options) {
    return {
        ApprovalWaiting(options), NodeAttention(),
        // NoderepairIncidentOpen and NoderepairSuspectHost join this list when incidents and
        // the host fault ledger (docs/http-api.md 11) are stored: one Condition each, reading
        // the open incidents and the suspect hosts through reader.Stats().
    };
}

}  // namespace noderepair::notify
