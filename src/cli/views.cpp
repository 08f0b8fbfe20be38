#include "cli/views.hpp"

#include "cli/enums.hpp"
#include "cli/reply.hpp"

namespace noderepair::cli {
namespace {

using boost::json::value;

std::string Joined(const boost::json::array& items, std::string_view separator = ", ") {
    std::string out;
    for (const auto& item : items) {
        if (!item.is_string()) continue;
        if (!out.empty()) out += separator;
        out += item.as_string();
    }
    return out;
}

// "i-1 (gpu-1)", or the id alone when the name is missing or the same.
std::string InstanceText(const value& r) {
    std::string id = Text(r, "instance_id");
    std::string name = Text(r, "instance_name");
    return name.empty() || name == id ? id : id + " (" + name + ")";
}

std::string AlertSummary(const value& alert) {
    std::string out = Text(alert, "alert_name");
    std::string severity = ShortName(Text(alert, "severity"));
    std::string status = Text(alert, "resolved_at").empty() ? "firing" : "resolved";
    out += " (" + (severity.empty() ? status : severity + ", " + status) + ")";
    return out;
}

}  // namespace

TableRow RemediationHeader() {
    return {"ID", "INSTANCE", "MODE", "STATE", "TRIGGER", "CREATED", "REASON"};
}

TableRow RemediationRow(const value& r) {
    return {Text(r, "id"),    Text(r, "instance_id"),        ShortName(Text(r, "mode")),
            Text(r, "state"), ShortName(Text(r, "trigger")), ShortTime(Text(r, "create_time")),
            Text(r, "reason")};
}

std::string RemediationTable(const value& list) {
    std::vector<TableRow> rows;
    for (const auto& r : Items(list, "remediations")) rows.push_back(RemediationRow(r));
    return FormatTable(RemediationHeader(), rows);
}

std::string BatchApproveTable(const value& results) {
    std::vector<TableRow> rows;
    for (const auto& result : Items(results, "results")) {
        const auto* object = result.if_object();
        const auto* r = object ? object->if_contains("remediation") : nullptr;
        const auto* error = object ? object->if_contains("error") : nullptr;
        rows.push_back({Text(result, "id"), r ? Text(*r, "instance_id") : "",
                        r ? ShortName(Text(*r, "mode")) : "", r ? Text(*r, "state") : "",
                        error ? Text(*error, "message") : ""});
    }
    return FormatTable({"ID", "INSTANCE", "MODE", "STATE", "ERROR"}, rows);
}

TableRow WatchHeader() { return {"UPDATED", "ID", "INSTANCE", "MODE", "STATE", "DETAIL"}; }

TableRow WatchRow(const value& r) {
    std::string detail = Text(r, "error_message");
    if (detail.empty()) detail = Text(r, "reason");
    return {ShortTime(Text(r, "update_time"), true),
            Text(r, "id"),
            Text(r, "instance_id"),
            ShortName(Text(r, "mode")),
            Text(r, "state"),
            detail};
}

std::string RemediationDetail(const value& r) {
    std::string alerts;
    for (const auto& alert : Items(r, "linked_alerts")) {
        alerts += (alerts.empty() ? "" : "; ") + AlertSummary(alert);
    }
    return FormatFields({
        {"ID", Text(r, "id")},
        {"Cluster", Text(r, "cluster_id")},
        {"Instance", InstanceText(r)},
        {"Mode", ShortName(Text(r, "mode"))},
        {"State", Text(r, "state")},
        {"Trigger", ShortName(Text(r, "trigger"))},
        {"Reason", Text(r, "reason")},
        {"Error", Text(r, "error_message")},
        {"Requested by", Text(r, "requested_by")},
        {"Reviewed by", Text(r, "reviewed_by")},
        {"Review time", ShortTime(Text(r, "review_time"))},
        {"Review comment", Text(r, "review_comment")},
        {"Health check run", Text(r, "active_health_check_run_id")},
        {"Alert", Text(r, "passive_health_check_event_id")},
        {"Linked alerts", alerts},
        {"Created", ShortTime(Text(r, "create_time"))},
        {"Updated", ShortTime(Text(r, "update_time"))},
        {"Started", ShortTime(Text(r, "start_time"))},
        {"Ended", ShortTime(Text(r, "end_time"))},
    });
}

std::string EventTable(const value& events) {
    std::vector<TableRow> rows;
    for (const auto& e : Items(events, "events")) {
        rows.push_back({ShortTime(Text(e, "time"), true), Text(e, "type"), Text(e, "state"),
                        Text(e, "step"), Text(e, "actor"), Text(e, "detail")});
    }
    return FormatTable({"TIME", "TYPE", "STATE", "STEP", "ACTOR", "DETAIL"}, rows);
}

std::string ClusterTable(const value& clusters) {
    std::vector<TableRow> rows;
    for (const auto& c : Items(clusters, "clusters")) {
        rows.push_back({Text(c, "cluster_id"), Text(c, "cluster_name"), Text(c, "status")});
    }
    return FormatTable({"CLUSTER", "NAME", "STATUS"}, rows);
}

std::string ClusterDetail(const value& c) {
    std::string automation;
    std::string waiting;
    if (const auto* a = Field(c, "automation")) {
        automation = Text(*a, "policy");
        std::string scope = Joined(Items(*a, "automatic_alerts"));
        if (!scope.empty()) automation += " (" + scope + ")";
        waiting = Text(*a, "waiting_signals");
        if (waiting == "0") waiting.clear();
    }
    std::string out = FormatFields({
        {"Cluster", Text(c, "cluster_id")},
        {"Name", Text(c, "cluster_name")},
        {"Status", Text(c, "status")},
        {"GPUs", Text(c, "num_gpus")},
        {"Automation", automation},
        {"Waiting signals", waiting},
    });
    std::vector<TableRow> rows;
    for (const auto& n : Items(c, "gpu_worker_nodes")) {
        std::string latest;
        if (const auto* r = Field(n, "latest_remediation")) {
            latest = Text(*r, "state") + " " + ShortName(Text(*r, "mode")) + " " + Text(*r, "id");
        }
        rows.push_back({Text(n, "instance_id"), Text(n, "node_name"), Text(n, "host_name"),
                        Text(n, "status"), Text(n, "num_gpus"), latest});
    }
    out += "\n";
    out += FormatTable({"INSTANCE", "NODE", "HOST", "STATUS", "GPUS", "LATEST-REMEDIATION"}, rows);
    return out;
}

std::string HostTable(const value& hosts) {
    std::vector<TableRow> rows;
    for (const auto& h : Items(hosts, "hosts")) {
        rows.push_back({Text(h, "host_name"), Text(h, "gpu_slots"), Text(h, "used_gpus"),
                        Flag(h, "cordoned") ? "yes" : "no", Joined(Items(h, "instances"), ",")});
    }
    return FormatTable({"HOST", "SLOTS", "USED", "CORDONED", "INSTANCES"}, rows);
}

std::string HostDetail(const value& h) {
    std::string out = FormatFields({
        {"Host", Text(h, "host_name")},
        {"Rack", Text(h, "rack")},
        {"GPU slots", Text(h, "gpu_slots") + " (" + Text(h, "used_gpus") + " used)"},
        {"Cordoned", Flag(h, "cordoned") ? "yes" : "no"},
        {"Suspect", Flag(h, "suspect") ? "yes: " + Text(h, "suspect_reason") : "no"},
        {"Instances", Joined(Items(h, "instances"), ",")},
    });
    std::vector<TableRow> rows;
    for (const auto& f : Items(h, "faults")) {
        rows.push_back({ShortTime(Text(f, "time")), Text(f, "instance_id"), Text(f, "alertname")});
    }
    out += "\n";
    out += FormatTable({"TIME", "INSTANCE", "SIGNAL"}, rows);
    return out;
}

std::string IncidentTable(const value& incidents) {
    std::vector<TableRow> rows;
    for (const auto& i : Items(incidents, "incidents")) {
        rows.push_back({Text(i, "id"), Text(i, "scope"), Text(i, "state"), Text(i, "signals"),
                        ShortTime(Text(i, "first_seen")), ShortTime(Text(i, "last_seen")),
                        Joined(Items(i, "instances"), ",")});
    }
    return FormatTable({"ID", "SCOPE", "STATE", "SIGNALS", "FIRST", "LAST", "INSTANCES"}, rows);
}

std::string AlertTable(const value& alerts) {
    std::vector<TableRow> rows;
    for (const auto& a : Items(alerts, "alerts")) {
        std::string status = Text(a, "resolved_at").empty() ? "firing" : "resolved";
        if (Flag(a, "waiting")) status += " (waiting)";
        std::string instance = Text(a, "instance_id");
        if (instance.empty()) instance = Text(a, "target_vm");
        rows.push_back({ShortTime(Text(a, "started_at")), Text(a, "alert_name"), instance,
                        ShortName(Text(a, "severity")), status,
                        Text(a, "node_remediation_intent_id")});
    }
    return FormatTable({"STARTED", "ALERT", "INSTANCE", "SEVERITY", "STATUS", "REMEDIATION"}, rows);
}

std::string HealthCheckDetail(const value& run) {
    std::string out = FormatFields({
        {"ID", Text(run, "id")},
        {"Cluster", Text(run, "cluster_id")},
        {"Instance", Text(run, "instance_id")},
        {"State", Text(run, "state")},
        {"Created", ShortTime(Text(run, "create_time"))},
        {"Ended", ShortTime(Text(run, "end_time"))},
        {"Remediation", Text(run, "remediation_id")},
        {"Waiting", Flag(run, "waiting") ? "yes (blast radius)" : ""},
    });
    std::vector<TableRow> rows;
    for (const auto& t : Items(run, "tests")) {
        rows.push_back({Text(t, "name"), Text(t, "state"), Text(t, "detail")});
    }
    out += "\n";
    out += FormatTable({"TEST", "STATE", "DETAIL"}, rows);
    return out;
}

std::string HealthCheckTable(const value& runs) {
    std::vector<TableRow> rows;
    for (const auto& run : Items(runs, "health_checks")) {
        std::string tests;
        for (const auto& t : Items(run, "tests")) {
            tests += (tests.empty() ? "" : ",") + Text(t, "name");
        }
        rows.push_back({Text(run, "id"), Text(run, "state"), tests,
                        ShortTime(Text(run, "create_time")), ShortTime(Text(run, "end_time")),
                        Text(run, "remediation_id")});
    }
    return FormatTable({"ID", "STATE", "TESTS", "CREATED", "ENDED", "REMEDIATION"}, rows);
}

std::string EngineLine(const value& engine) {
    return Flag(engine, "paused") ? "engine: paused\n" : "engine: running\n";
}

std::string NextPageHint(const value& list) {
    if (!Flag(list, "has_next")) return {};
    return "next page: --page-token " + TerminalText(Text(list, "next_page_token")) + "\n";
}

}  // namespace noderepair::cli
