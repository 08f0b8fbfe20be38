#include "infra/fleet_infra.hpp"

#include <boost/json.hpp>

#include "common/json.hpp"

namespace noderepair::infra {
namespace {

namespace json = boost::json;

Result<std::string> Text(const json::object& o, std::string_view key, const std::string& where,
                         bool required) {
    const auto* v = o.if_contains(json::string_view(key.data(), key.size()));
    if (v == nullptr) {
        if (!required) return std::string();
        return InvalidArgument(where + ": '" + std::string(key) + "' is required");
    }
    if (!v->is_string() || (required && v->as_string().empty())) {
        return InvalidArgument(where + ": '" + std::string(key) + "' must be a non-empty string");
    }
    return std::string(v->as_string());
}

}  // namespace

Result<FleetInfra> ParseFleetInfra(std::string_view text) {
    NR_ASSIGN_OR_RETURN(auto doc, ParseStrictJson(text, OneDocumentStorage()));
    FleetInfra infra;
    if (!doc.is_object()) return infra;  // the inventory's parser says what is wrong
    const auto& root = doc.as_object();
    if (const auto* hosts = root.if_contains("hosts"); hosts && hosts->is_array()) {
        for (const auto& h : hosts->as_array()) {
            if (!h.is_object()) continue;
            const auto* bmc = h.as_object().if_contains("bmc");
            const auto* name = h.as_object().if_contains("host_name");
            if (bmc == nullptr || name == nullptr || !name->is_string()) continue;
            const std::string where = "host " + std::string(name->as_string()) + " bmc";
            if (!bmc->is_object()) return InvalidArgument(where + ": must be an object");
            const auto& b = bmc->as_object();
            for (const auto& [key, value] : b) {
                if (key != "address" && key != "username" && key != "password_file") {
                    return InvalidArgument(where + ": unknown key '" + std::string(key) +
                                           "' (the password goes in password_file)");
                }
            }
            Bmc entry;
            NR_ASSIGN_OR_RETURN(entry.address, Text(b, "address", where, true));
            NR_ASSIGN_OR_RETURN(entry.username, Text(b, "username", where, true));
            NR_ASSIGN_OR_RETURN(entry.password_file, Text(b, "password_file", where, true));
            infra.bmcs[std::string(name->as_string())] = std::move(entry);
        }
    }
    if (const auto* clusters = root.if_contains("clusters"); clusters && clusters->is_array()) {
        for (const auto& c : clusters->as_array()) {
            if (!c.is_object()) continue;
            const auto* workload = c.as_object().if_contains("workload");
            const auto* id = c.as_object().if_contains("cluster_id");
            if (workload == nullptr || id == nullptr || !id->is_string()) continue;
            const std::string where = "cluster " + std::string(id->as_string()) + " workload";
            if (!workload->is_object()) return InvalidArgument(where + ": must be an object");
            const auto& w = workload->as_object();
            for (const auto& [key, value] : w) {
                if (key != "manager" && key != "slurm_conf") {
                    return InvalidArgument(where + ": unknown key '" + std::string(key) + "'");
                }
            }
            ClusterWorkload entry;
            NR_ASSIGN_OR_RETURN(entry.manager, Text(w, "manager", where, true));
            NR_ASSIGN_OR_RETURN(entry.slurm_conf, Text(w, "slurm_conf", where, false));
            if (entry.manager != "slurm" && entry.manager != "none") {
                return InvalidArgument(where + ": manager must be slurm or none");
            }
            infra.workloads[std::string(id->as_string())] = std::move(entry);
        }
    }
    return infra;
}

std::string EncodeFleetInfra(const FleetInfra& infra) {
    json::array hosts;
    for (const auto& [host, bmc] : infra.bmcs) {
        hosts.push_back(json::object{{"host_name", host},
                                     {"bmc", json::object{{"address", bmc.address},
                                                          {"username", bmc.username},
                                                          {"password_file", bmc.password_file}}}});
    }
    json::array clusters;
    for (const auto& [cluster, workload] : infra.workloads) {
        json::object w{{"manager", workload.manager}};
        if (!workload.slurm_conf.empty()) w["slurm_conf"] = workload.slurm_conf;
        clusters.push_back(json::object{{"cluster_id", cluster}, {"workload", std::move(w)}});
    }
    return json::serialize(
        json::object{{"hosts", std::move(hosts)}, {"clusters", std::move(clusters)}});
}

}  // namespace noderepair::infra
