#include "telemetry/transition_log.hpp"

#include "common/log.hpp"

namespace noderepair::telemetry {

void TransitionLog::OnCommit(const storage::CommitReport& report) {
    std::string lines;
    for (const auto& change : report.changes) {
        const auto& r = change.remediation;
        if (change.previous_state == r.state) continue;  // a mode escalation in place
        LogLine line("transition");
        line.Add("remediation_id", r.id)
            .Add("cluster_id", r.cluster_id)
            .Add("instance_id", r.instance_id)
            .Add("mode", model::WireName(r.mode))
            .Add("trigger", model::WireName(r.trigger))
            .Add("from", change.previous_state ? model::WireName(*change.previous_state) : "NEW")
            .Add("to", model::WireName(r.state));
        if (!change.request_id.empty()) line.Add("request_id", change.request_id);
        if (!r.error_message.empty() && model::IsTerminal(r.state)) {
            line.Add("error", r.error_message);
        }
        lines += line.Finish();
    }
    if (!lines.empty()) WriteLog(lines);
}

}  // namespace noderepair::telemetry
