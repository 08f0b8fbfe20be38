#include "api/codec.hpp"

#include "common/json.hpp"

namespace noderepair::api {
namespace {

void OptionalTime(JsonWriter& w, std::string_view key, const std::optional<Timestamp>& t) {
    if (t) w.Key(key).String(FormatRfc3339(*t));
}

}  // namespace

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

std::string HostListJson(const std::vector<model::Host>& hosts) {
    std::string out;
    JsonWriter w(out);
    w.BeginObject().Key("hosts").BeginArray();
    for (const auto& h : hosts) {
        w.BeginObject();
        w.Key("host_name").String(h.host_name);
        w.Key("gpu_slots").Int(h.gpu_slots);
        w.Key("used_gpus").Int(h.used_gpus);
        w.Key("cordoned").Bool(h.cordoned);
        w.Key("instances").BeginArray();
        for (const auto& i : h.instances) w.String(i.instance_id);
        w.EndArray();
        w.EndObject();
    }
    w.EndArray().EndObject();
    return out;
}

Result<boost::json::object> ParseBodyObject(const std::string& body) {
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
    if (!v->is_string()) return InvalidArgument("field '" + std::string(key) + "' must be a string");
    return std::string(v->as_string());
}

Result<std::optional<model::Mode>> OptionalModeField(const boost::json::object& body,
                                                     std::string_view key) {
    const auto* v = body.if_contains(boost::json::string_view(key.data(), key.size()));
    if (v == nullptr || v->is_null()) return std::optional<model::Mode>();
    if (!v->is_string()) return InvalidArgument("field '" + std::string(key) + "' must be a string");
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
