#include "inventory/service.hpp"

namespace noderepair::inventory {

Result<std::vector<model::Cluster>> InventoryService::ListClusters(const auth::Principal& caller) {
    std::vector<model::Cluster> clusters;
    NR_RETURN_IF_ERROR(store_.Read([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(clusters, reader.Inventory().ListClusters());
        return OkStatus();
    }));
    std::erase_if(clusters,
                  [&](const model::Cluster& c) { return !caller.CanSeeCluster(c.cluster_id); });
    return clusters;
}

Result<model::Cluster> InventoryService::GetCluster(const std::string& cluster_id) {
    std::optional<model::Cluster> cluster;
    NR_RETURN_IF_ERROR(store_.Read([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(cluster, reader.Inventory().GetCluster(cluster_id));
        if (!cluster) return OkStatus();
        for (auto& node : cluster->gpu_worker_nodes) {
            NR_ASSIGN_OR_RETURN(auto attention,
                                reader.Settings().Get(model::AttentionSetting(node.instance_id)));
            if (attention) node.attention = std::move(*attention);
        }
        return OkStatus();
    }));
    if (!cluster) return NotFound("cluster " + cluster_id + " not found");
    return *std::move(cluster);
}

Result<std::vector<model::Host>> InventoryService::ListHosts(const auth::Principal& caller) {
    std::vector<model::Host> hosts;
    NR_RETURN_IF_ERROR(store_.Read([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(hosts, reader.Inventory().ListHosts());
        return OkStatus();
    }));
    if (!caller.IsScoped()) return hosts;
    // docs/http-api.md 10: a scoped caller sees only the hosts that carry its clusters'
    // instances, and on them only those instances.
    for (auto& host : hosts) {
        std::erase_if(host.instances, [&](const model::HostedInstance& i) {
            return !caller.CanSeeCluster(i.cluster_id);
        });
    }
    std::erase_if(hosts, [](const model::Host& host) { return host.instances.empty(); });
    return hosts;
}

void InventoryService::SetCordoned(const std::string& host_name, bool cordoned,
                                   std::function<void(Status)> done) {
    store_.Write(
        [host_name, cordoned](storage::Txn& txn) {
            return txn.Inventory().SetHostCordoned(host_name, cordoned);
        },
        std::move(done));
}

}  // namespace noderepair::inventory
