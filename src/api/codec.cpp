#include "api/codec.hpp"

#include <map>

#include "common/json.hpp"
#include "health/service.hpp"

namespace noderepair::api {
namespace {

void OptionalTime(JsonWriter& w, std::string_view key, const std::optional<Timestamp>& t) {
    if (t) w.Key(key).String(FormatRfc3339(*t));
}

void WriteStringMap(JsonWriter& w, const std::map<std::string, std::string>& m) {
    w.BeginObject();
    for (const auto& [k, v] : m) w.Key(k).String(v);
    w.EndObject();
}

}  // namespace

void WriteLinkedAlert(JsonWriter& w, const model::Alert& a, bool with_labels) {
    w.BeginObject();
    w.Key("passive_health_check_alert_id").String(a.id);
    w.Key("alert_name").String(a.alert_name);
    w.OptionalString("cluster_id", a.cluster_id);
    w.OptionalString("instance_id", a.instance_id);
    w.OptionalString("target_vm", a.target_vm);
    w.Key("severity").String(model::WireName(a.severity));
    w.Key("started_at").String(FormatRfc3339(a.started_at));
    OptionalTime(w, "resolved_at", a.resolved_at);
    w.Key("annotations");
    WriteStringMap(w, a.annotations);
    const auto annotation = model::AnnotationOf(a);
    w.Key("annotation").BeginObject();
    w.Key("title").String(annotation.title);
    w.OptionalString("description", annotation.description);
    w.OptionalString("summary_line", annotation.summary_line);
    if (!annotation.xid_events.empty()) {
        w.Key("xid").BeginObject().Key("events").BeginArray();
        for (const auto& e : annotation.xid_events) {
            w.BeginObject()
                .Key("xid_code")
                .String(e.xid_code)
                .Key("mnemonic")
                .String(e.mnemonic)
                .Key("count")
                .Int(e.count)
                .EndObject();
        }
        w.EndArray().EndObject();
    }
    if (annotation.slurm_reason) {
        w.Key("slurm_node_unavailable")
            .BeginObject()
            .Key("reason")
            .String(*annotation.slurm_reason)
            .EndObject();
    }
    w.EndObject();
    w.OptionalString("node_remediation_intent_id", a.remediation_id);
    if (with_labels) {
        w.Key("fingerprint").String(a.fingerprint);
        w.Key("labels");
        WriteStringMap(w, a.labels);
        w.Key("firing").Bool(!a.resolved_at.has_value());
        // Held back by the blast radius: taken up when the cluster has room (docs/http-api.md 5).
        w.Key("waiting").Bool(a.waiting);
    }
    w.EndObject();
}

namespace {

void WriteHealthCheck(JsonWriter& w, const model::HealthCheckRun& run) {
    w.BeginObject();
    w.Key("id").String(run.id);
    w.Key("cluster_id").String(run.cluster_id);
    w.Key("instance_id").String(run.instance_id);
    w.Key("state").String(model::WireName(run.state));
    w.Key("tests").BeginArray();
    for (const auto& t : run.tests) {
        w.BeginObject()
            .Key("name")
            .String(t.name)
            .Key("state")
            .String(model::WireName(t.state))
            .Key("detail")
            .String(t.detail)
            .EndObject();
    }
    w.EndArray();
    w.Key("create_time").String(FormatRfc3339(run.create_time));
    OptionalTime(w, "end_time", run.end_time);
    w.OptionalString("remediation_id", run.remediation_id);
    if (run.waiting) w.Key("waiting").Bool(true);
    w.EndObject();
}

}  // namespace

std::string HealthCheckJson(const model::HealthCheckRun& run) {
    std::string out;
    JsonWriter w(out);
    WriteHealthCheck(w, run);
    return out;
}

std::string HealthCheckListJson(const std::vector<model::HealthCheckRun>& runs) {
    std::string out;
    JsonWriter w(out);
    w.BeginObject().Key("health_checks").BeginArray();
    for (const auto& run : runs) WriteHealthCheck(w, run);
    w.EndArray().EndObject();
    return out;
}

std::string AlertListJson(const storage::AlertPage& page, const std::string& next_page_token) {
    std::string out;
    JsonWriter w(out);
    w.BeginObject().Key("alerts").BeginArray();
    for (const auto& a : page.alerts) WriteLinkedAlert(w, a, true);
    w.EndArray();
    w.Key("has_next").Bool(page.has_next);
    w.Key("next_page_token").String(next_page_token);
    w.EndObject();
    return out;
}

std::string IngestJson(const health::IngestResult& result) {
    std::string out;
    JsonWriter(out)
        .BeginObject()
        .Key("alerts")
        .Int(result.alerts)
        .Key("remediations_created")
        .Int(result.remediations_created)
        .Key("out_of_scope")
        .Int(result.out_of_scope)
        .EndObject();
    return out;
}

void WriteRemediation(JsonWriter& w, const model::Remediation& r) {
    w.BeginObject();
    w.Key("id").String(r.id);
    w.Key("cluster_id").String(r.cluster_id);
    w.Key("instance_id").String(r.instance_id);
    w.OptionalString("instance_name", r.instance_name);
    w.Key("mode").String(model::WireName(r.mode));
    w.Key("trigger").String(model::WireName(r.trigger));
    w.Key("state").String(model::WireName(r.state));
    w.OptionalString("reason", r.reason);
    w.OptionalString("active_health_check_run_id", r.active_health_check_run_id);
    w.OptionalString("passive_health_check_event_id", r.passive_health_check_event_id);
    if (!r.linked_alerts.empty()) {
        w.Key("linked_alerts").BeginArray();
        for (const auto& a : r.linked_alerts) WriteLinkedAlert(w, a, false);
        w.EndArray();
    }
    w.OptionalString("requested_by", r.requested_by);
    w.OptionalString("reviewed_by", r.reviewed_by);
    OptionalTime(w, "review_time", r.review_time);
    w.OptionalString("review_comment", r.review_comment);
    w.Key("create_time").String(FormatRfc3339(r.create_time));
    w.Key("update_time").String(FormatRfc3339(r.update_time));
    OptionalTime(w, "start_time", r.start_time);
    OptionalTime(w, "end_time", r.end_time);
    w.OptionalString("error_message", r.error_message);
    w.EndObject();
}

std::string RemediationJson(const model::Remediation& r) {
    std::string out;
    out.reserve(640);
    JsonWriter w(out);
    WriteRemediation(w, r);
    return out;
}

std::string RemediationListJson(const remediation::ListResult& list) {
    std::string out;
    out.reserve(64 + list.remediations.size() * 640);
    JsonWriter w(out);
    w.BeginObject().Key("remediations").BeginArray();
    for (const auto& r : list.remediations) WriteRemediation(w, r);
    w.EndArray();
    w.Key("has_next").Bool(list.has_next);
    w.Key("next_page_token").String(list.next_page_token);
    w.EndObject();
    return out;
}

std::string BatchApproveJson(const std::vector<remediation::BatchOutcome>& outcomes) {
    std::string out;
    out.reserve(32 + outcomes.size() * 700);
    JsonWriter w(out);
    w.BeginObject().Key("results").BeginArray();
    for (const auto& o : outcomes) {
        w.BeginObject().Key("id").String(o.id);
        if (o.outcome) {
            w.Key("remediation");
            WriteRemediation(w, *o.outcome);
        } else {
            // Only the rules' refusals reach here, never an internal error's text.
            w.Key("error").BeginObject();
            w.Key("code").Int(int(o.outcome.error().code));
            w.Key("message").String(o.outcome.error().message);
            w.Key("details").BeginArray().EndArray();
            w.EndObject();
        }
        w.EndObject();
    }
    w.EndArray().EndObject();
    return out;
}

std::string EventsJson(const std::vector<model::RemediationEvent>& events) {
    std::string out;
    JsonWriter w(out);
    w.BeginObject().Key("events").BeginArray();
    for (const auto& e : events) {
        w.BeginObject();
        w.Key("time").String(FormatRfc3339(e.time));
        w.Key("type").String(e.type);
        if (e.state) w.Key("state").String(model::WireName(*e.state));
        w.OptionalString("step", e.step);
        w.OptionalString("actor", e.actor);
        w.OptionalString("detail", e.detail);
        w.EndObject();
    }
    w.EndArray().EndObject();
    return out;
}

namespace {

void WriteClusterHead(JsonWriter& w, const model::Cluster& c) {
    w.Key("cluster_id").String(c.cluster_id);
    w.Key("cluster_name").String(c.cluster_name);
    w.Key("status").String(c.status);
}

void WriteNode(JsonWriter& w, const model::Instance& i) {
    w.BeginObject();
    w.Key("instance_id").String(i.instance_id);
    w.Key("node_name").String(i.instance_name);
    w.OptionalString("host_name", i.host_name);
    w.Key("status").String(i.status);
    w.Key("num_gpus").Int(i.num_gpus);
    w.Key("auto_repair").Bool(i.auto_repair);
    w.Key("auto_remediation_enabled").Bool(i.auto_repair);  // the SDK's name for it
    w.OptionalString("attention", i.attention);
    if (i.latest_remediation) {
        w.Key("latest_remediation");
        WriteRemediation(w, *i.latest_remediation);
    }
    w.EndObject();
}

}  // namespace

std::string ClusterJson(const model::Cluster& c) {
    std::string out;
    JsonWriter w(out);
    w.BeginObject();
    WriteClusterHead(w, c);
    int gpus = 0;
    for (const auto& node : c.gpu_worker_nodes) gpus += node.num_gpus;
    w.Key("num_gpus").Int(gpus);
    w.Key("automation").BeginObject();
    w.Key("policy").String(c.automation.automatic ? "automatic" : "approve");
    w.Key("automatic_alerts").BeginArray();
    for (const auto& name : c.automation.automatic_alerts) w.String(name);
    w.EndArray();
    w.Key("waiting_signals").Int(c.waiting_signals);
    w.EndObject();
    w.Key("gpu_worker_nodes").BeginArray();
    for (const auto& node : c.gpu_worker_nodes) WriteNode(w, node);
    w.EndArray();
    w.EndObject();
    return out;
}

std::string ClusterListJson(const std::vector<model::Cluster>& clusters) {
    std::string out;
    JsonWriter w(out);
    w.BeginObject().Key("clusters").BeginArray();
    for (const auto& c : clusters) {
        w.BeginObject();
        WriteClusterHead(w, c);
        w.EndObject();
    }
    w.EndArray().EndObject();
    return out;
}

namespace {

// A host's members, without the closing brace: the single host adds its ledger.
void WriteHostFields(JsonWriter& w, const model::Host& h) {
    w.BeginObject();
    w.Key("host_name").String(h.host_name);
    w.Key("gpu_slots").Int(h.gpu_slots);
    w.Key("used_gpus").Int(h.used_gpus);
    w.Key("cordoned").Bool(h.cordoned);
    if (!h.power.empty()) w.Key("power").String(h.power);
    w.OptionalString("rack", h.rack);
    w.Key("suspect").Bool(!h.suspect.empty());
    w.OptionalString("suspect_reason", h.suspect);
    w.Key("instances").BeginArray();
    for (const auto& i : h.instances) w.String(i.instance_id);
    w.EndArray();
}

}  // namespace

std::string HostListJson(const std::vector<model::Host>& hosts) {
    std::string out;
    JsonWriter w(out);
    w.BeginObject().Key("hosts").BeginArray();
    for (const auto& h : hosts) {
        WriteHostFields(w, h);
        w.EndObject();
    }
    w.EndArray().EndObject();
    return out;
}

std::string HostJson(const model::Host& host, const std::vector<model::HostFault>& faults) {
    std::string out;
    JsonWriter w(out);
    WriteHostFields(w, host);
    // Signals only: the remediations in the ledger are the host's history, not its faults.
    w.Key("faults").BeginArray();
    for (const auto& f : faults) {
        if (!f.remediation_id.empty()) continue;
        w.BeginObject();
        // `instance` as the contract names it, `instance_id` as every other resource does.
        w.Key("instance").String(f.instance_id);
        w.Key("instance_id").String(f.instance_id);
        w.Key("cluster_id").String(f.cluster_id);
        w.Key("alertname").String(f.name);
        w.Key("time").String(FormatRfc3339(f.time));
        w.EndObject();
    }
    w.EndArray();
    w.Key("remediations").BeginArray();
    for (const auto& f : faults) {
        if (f.remediation_id.empty()) continue;
        w.BeginObject();
        w.Key("id").String(f.remediation_id);
        w.Key("instance_id").String(f.instance_id);
        w.Key("cluster_id").String(f.cluster_id);
        w.Key("mode").String(f.name);
        w.Key("time").String(FormatRfc3339(f.time));
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return out;
}

Result<boost::json::object> ParseBodyObject(std::string_view body) {
    bool blank = true;
    for (char c : body) blank = blank && (c == ' ' || c == '\t' || c == '\r' || c == '\n');
    if (blank) return boost::json::object();
    NR_ASSIGN_OR_RETURN(auto value, ParseStrictJson(body));
    if (!value.is_object()) return InvalidArgument("request body must be a JSON object");
    return std::move(value.as_object());
}

Result<std::string> OptionalStringField(const boost::json::object& body, std::string_view key) {
    const auto* v = body.if_contains(boost::json::string_view(key.data(), key.size()));
    if (v == nullptr || v->is_null()) return std::string();
    if (!v->is_string())
        return InvalidArgument("field '" + std::string(key) + "' must be a string");
    return std::string(v->as_string());
}

Result<std::optional<model::Mode>> OptionalModeField(const boost::json::object& body,
                                                     std::string_view key) {
    const auto* v = body.if_contains(boost::json::string_view(key.data(), key.size()));
    if (v == nullptr || v->is_null()) return std::optional<model::Mode>();
    if (!v->is_string())
        return InvalidArgument("field '" + std::string(key) + "' must be a string");
    auto name = std::string_view(v->as_string());
    if (name.empty() || name == "REMEDIATION_MODE_UNSPECIFIED") {
        return std::optional<model::Mode>();
    }
    auto mode = model::ParseMode(name);
    if (!mode) {
        return InvalidArgument("unknown " + std::string(key) + " '" + std::string(name) + "'");
    }
    return std::optional<model::Mode>(*mode);
}

}  // namespace noderepair::api
