// Fleet files (serve --fleet): the strict decode and the checks of ids, hosts and GPU slots.
// A fleet that was accepted must keep the promises the engine relies on.
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "api/codec.hpp"
#include "invariants.hpp"
#include "providers/simulated/fleet.hpp"

using namespace noderepair;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto fleet = providers::simulated::ParseFleet(text);
    if (!fleet) return 0;
    std::map<std::string, int> free_slots;
    for (const auto& host : fleet->inventory.hosts) {
        if (host.gpu_slots < 0) fuzz::Broken("gpu_slots is not negative", host.host_name);
        free_slots[host.host_name] = host.gpu_slots;
    }
    std::set<std::string> instance_ids;
    for (const auto& cluster : fleet->inventory.clusters) {
        for (const auto& instance : cluster.gpu_worker_nodes) {
            if (!instance_ids.insert(instance.instance_id).second) {
                fuzz::Broken("instance ids are unique", instance.instance_id);
            }
            if (instance.num_gpus < 0) fuzz::Broken("num_gpus is not negative", text);
            if (instance.host_name.empty()) continue;
            auto slots = free_slots.find(instance.host_name);
            if (slots == free_slots.end()) fuzz::Broken("instances run on known hosts", text);
            slots->second -= instance.num_gpus;
            if (slots->second < 0) fuzz::Broken("no host holds more GPUs than its slots", text);
        }
        fuzz::CheckWritesStrictJson(api::ClusterJson(cluster));
    }
    fuzz::CheckWritesStrictJson(api::HostListJson(fleet->inventory.hosts));
    return 0;
}
