#include "providers/simulated/fleet.hpp"

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "common/json.hpp"

namespace noderepair::providers::simulated {
namespace {

namespace json = boost::json;

Result<std::string> StringMember(const json::object& o, std::string_view key,
                                 std::string_view where) {
    const auto* v = o.if_contains(json::string_view(key.data(), key.size()));
    if (v == nullptr || !v->is_string() || v->as_string().empty()) {
        return InvalidArgument(std::string(where) + ": '" + std::string(key) +
                               "' must be a non-empty string");
    }
    return std::string(v->as_string());
}

Result<int> IntMember(const json::object& o, std::string_view key, std::string_view where,
                      int min) {
    const auto* v = o.if_contains(json::string_view(key.data(), key.size()));
    // Boost.JSON makes an integer uint64 only when it is over INT64_MAX: out of range too.
    if (v == nullptr || !v->is_int64() || v->get_int64() < min || v->get_int64() > 1'000'000) {
        return InvalidArgument(std::string(where) + ": '" + std::string(key) +
                               "' must be an integer >= " + std::to_string(min));
    }
    return int(v->get_int64());
}

Result<const json::array*> ArrayMember(const json::object& o, std::string_view key,
                                       std::string_view where) {
    const auto* v = o.if_contains(json::string_view(key.data(), key.size()));
    if (v == nullptr || !v->is_array()) {
        return InvalidArgument(std::string(where) + ": '" + std::string(key) +
                               "' must be an array");
    }
    return &v->as_array();
}

Status ParseTiming(const json::object& root, Timing& timing) {
    const auto* v = root.if_contains("timing");
    if (v == nullptr) return OkStatus();
    if (!v->is_object()) return InvalidArgument("fleet: 'timing' must be an object");
    const std::pair<std::string_view, std::chrono::milliseconds*> fields[] = {
        {"cordon", &timing.cordon},
        {"drain", &timing.drain},
        {"delete_vm", &timing.delete_vm},
        {"provision_vm", &timing.provision_vm},
        {"boot", &timing.boot},
        {"reboot", &timing.reboot},
        {"power_cycle", &timing.power_cycle},
    };
    for (const auto& [key, value] : v->as_object()) {
        if (key == "blocking") {
            if (!value.is_bool())
                return InvalidArgument("fleet timing: 'blocking' must be a boolean");
            timing.blocking = value.as_bool();
            continue;
        }
        bool known = false;
        for (const auto& [name, target] : fields) {
            if (key == name) {
                NR_ASSIGN_OR_RETURN(int ms, IntMember(v->as_object(), name, "fleet timing", 0));
                *target = std::chrono::milliseconds(ms);
                known = true;
            }
        }
        if (!known) {
            return InvalidArgument("fleet timing: unknown operation '" + std::string(key) + "'");
        }
    }
    return OkStatus();
}

}  // namespace

Result<Fleet> ParseFleet(std::string_view text) {
    NR_ASSIGN_OR_RETURN(auto doc, ParseStrictJson(text, OneDocumentStorage()));
    if (!doc.is_object()) return InvalidArgument("fleet: the document must be a JSON object");
    const auto& root = doc.as_object();
    Fleet fleet;
    NR_RETURN_IF_ERROR(ParseTiming(root, fleet.timing));

    // Hashed, and every vector reserved: a 150,000-instance fleet spent a fifth of its parse
    // comparing names with long common prefixes in ordered maps and moving Instances on growth.
    std::unordered_map<std::string, int> free_slots;
    NR_ASSIGN_OR_RETURN(const json::array* hosts, ArrayMember(root, "hosts", "fleet"));
    free_slots.reserve(hosts->size());
    fleet.inventory.hosts.reserve(hosts->size());
    for (const auto& h : *hosts) {
        if (!h.is_object()) return InvalidArgument("fleet: each host must be an object");
        model::Host host;
        NR_ASSIGN_OR_RETURN(host.host_name, StringMember(h.as_object(), "host_name", "fleet host"));
        NR_ASSIGN_OR_RETURN(host.gpu_slots,
                            IntMember(h.as_object(), "gpu_slots", "host " + host.host_name, 0));
        if (h.as_object().contains("libvirt_uri")) {
            NR_ASSIGN_OR_RETURN(host.libvirt_uri, StringMember(h.as_object(), "libvirt_uri",
                                                               "host " + host.host_name));
        }
        if (h.as_object().contains("rack")) {  // docs/http-api.md 11: the rack's limits
            NR_ASSIGN_OR_RETURN(host.rack,
                                StringMember(h.as_object(), "rack", "host " + host.host_name));
        }
        if (!free_slots.emplace(host.host_name, host.gpu_slots).second) {
            return InvalidArgument("fleet: host '" + host.host_name + "' is listed twice");
        }
        fleet.inventory.hosts.push_back(std::move(host));
    }

    std::unordered_set<std::string> cluster_ids;
    std::unordered_set<std::string> instance_ids;
    NR_ASSIGN_OR_RETURN(const json::array* clusters, ArrayMember(root, "clusters", "fleet"));
    fleet.inventory.clusters.reserve(clusters->size());
    for (const auto& c : *clusters) {
        if (!c.is_object()) return InvalidArgument("fleet: each cluster must be an object");
        const auto& co = c.as_object();
        model::Cluster cluster;
        NR_ASSIGN_OR_RETURN(cluster.cluster_id, StringMember(co, "cluster_id", "fleet cluster"));
        const std::string where = "cluster " + cluster.cluster_id;
        if (!cluster_ids.insert(cluster.cluster_id).second) {
            return InvalidArgument("fleet: cluster '" + cluster.cluster_id + "' is listed twice");
        }
        if (co.contains("cluster_name")) {
            NR_ASSIGN_OR_RETURN(cluster.cluster_name, StringMember(co, "cluster_name", where));
        } else {
            cluster.cluster_name = cluster.cluster_id;
        }
        cluster.status = "Ready";
        NR_ASSIGN_OR_RETURN(const json::array* instances, ArrayMember(co, "instances", where));
        cluster.gpu_worker_nodes.reserve(instances->size());
        instance_ids.reserve(instance_ids.size() + instances->size());
        for (const auto& i : *instances) {
            if (!i.is_object()) return InvalidArgument(where + ": each instance must be an object");
            const auto& io = i.as_object();
            model::Instance instance;
            NR_ASSIGN_OR_RETURN(instance.instance_id, StringMember(io, "instance_id", where));
            const std::string iwhere = "instance " + instance.instance_id;
            if (!instance_ids.insert(instance.instance_id).second) {
                return InvalidArgument("fleet: instance '" + instance.instance_id +
                                       "' is listed twice (ids are unique across the fleet)");
            }
            if (io.contains("instance_name")) {
                NR_ASSIGN_OR_RETURN(instance.instance_name,
                                    StringMember(io, "instance_name", iwhere));
            } else {
                instance.instance_name = instance.instance_id;
            }
            NR_ASSIGN_OR_RETURN(instance.num_gpus, IntMember(io, "num_gpus", iwhere, 0));
            if (const auto* host = io.if_contains("host"); host != nullptr && !host->is_null()) {
                NR_ASSIGN_OR_RETURN(instance.host_name, StringMember(io, "host", iwhere));
                auto slot = free_slots.find(instance.host_name);
                if (slot == free_slots.end()) {
                    return InvalidArgument(iwhere + ": unknown host '" + instance.host_name + "'");
                }
                slot->second -= instance.num_gpus;
                if (slot->second < 0) {
                    return InvalidArgument("fleet: host '" + instance.host_name +
                                           "' has more GPUs placed on it than gpu_slots");
                }
            }
            instance.cluster_id = cluster.cluster_id;
            instance.status = instance.host_name.empty() ? "Evicted" : "Ready";
            cluster.gpu_worker_nodes.push_back(std::move(instance));
        }
        fleet.inventory.clusters.push_back(std::move(cluster));
    }
    return fleet;
}

Result<Fleet> LoadFleetFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return InvalidArgument("cannot read fleet file " + path);
    std::stringstream read;
    read << in.rdbuf();
    std::string text = std::move(read).str();  // one copy of the file, not three
    auto fleet = ParseFleet(text);
    if (!fleet) return InvalidArgument("fleet file " + path + ": " + fleet.error().message);
    fleet->text = std::move(text);
    return fleet;
}

Fleet DemoFleet() {
    Fleet fleet;
    char name[64];
    for (int h = 1; h <= 40; ++h) {
        std::snprintf(name, sizeof name, "gpu-host-%02d", h);
        fleet.inventory.hosts.push_back({name, 8, 0, false, {}, ""});
        // Eight hosts a rack, so the demo shows racks, their limit and their incidents.
        std::snprintf(name, sizeof name, "rack-%d", (h - 1) / 8 + 1);
        fleet.inventory.hosts.back().rack = name;
    }
    const char* cluster_names[] = {"train-east", "infer-west"};
    int next_host = 1;
    for (int c = 1; c <= 2; ++c) {
        model::Cluster cluster;
        std::snprintf(name, sizeof name, "demo-cluster-%d", c);
        cluster.cluster_id = name;
        cluster.cluster_name = cluster_names[c - 1];
        cluster.status = "Ready";
        for (int n = 1; n <= 16; ++n) {
            model::Instance instance;
            std::snprintf(name, sizeof name, "i-%d-%02d", c, n);
            instance.instance_id = name;
            std::snprintf(name, sizeof name, "%s-node-%02d", cluster_names[c - 1], n);
            instance.instance_name = name;
            instance.num_gpus = 8;
            std::snprintf(name, sizeof name, "gpu-host-%02d", next_host++);
            instance.host_name = name;
            instance.cluster_id = cluster.cluster_id;
            instance.status = "Ready";
            cluster.gpu_worker_nodes.push_back(std::move(instance));
        }
        fleet.inventory.clusters.push_back(std::move(cluster));
    }
    // Slow enough to watch each state in the console, quick enough for a demo.
    using std::chrono::milliseconds;
    fleet.timing = {milliseconds(1500), milliseconds(2000), milliseconds(1500), milliseconds(4000),
                    milliseconds(3000), milliseconds(3000), milliseconds(6000)};
    return fleet;
}

}  // namespace noderepair::providers::simulated
