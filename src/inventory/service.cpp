#include "inventory/service.hpp"

#include <memory>

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

Result<InventoryService::HostDetail> InventoryService::GetHost(const auth::Principal& caller,
                                                               const std::string& host_name,
                                                               int fault_limit) {
    HostDetail detail;
    NR_RETURN_IF_ERROR(store_.Read([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(auto host, reader.Inventory().GetHost(host_name));
        if (!host) return NotFound("host " + host_name + " not found");
        detail.host = std::move(*host);
        NR_ASSIGN_OR_RETURN(auto instances, reader.Inventory().ListInstancesOnHost(host_name));
        for (const auto& i : instances) {
            detail.host.instances.push_back({i.instance_id, i.cluster_id});
            detail.host.used_gpus += i.num_gpus;
        }
        NR_ASSIGN_OR_RETURN(detail.faults,
                            reader.Inventory().ListHostFaults(host_name, fault_limit));
        return OkStatus();
    }));
    if (!caller.IsScoped()) return detail;
    // As ListHosts: a scoped caller sees the host only through its clusters' instances.
    std::erase_if(detail.host.instances, [&](const model::HostedInstance& i) {
        return !caller.CanSeeCluster(i.cluster_id);
    });
    std::erase_if(detail.faults,
                  [&](const model::HostFault& f) { return !caller.CanSeeCluster(f.cluster_id); });
    if (detail.host.instances.empty()) return NotFound("host " + host_name + " not found");
    return detail;
}

void InventoryService::ClearSuspect(const std::string& host_name,
                                    std::function<void(Result<model::Host>)> done) {
    auto cleared = std::make_shared<model::Host>();
    store_.Write(
        [host_name, cleared](storage::Txn& txn) -> Status {
            NR_RETURN_IF_ERROR(txn.Inventory().SetHostSuspect(host_name, ""));
            NR_ASSIGN_OR_RETURN(auto host, txn.Inventory().GetHost(host_name));
            if (host) *cleared = std::move(*host);
            return OkStatus();
        },
        [cleared, done = std::move(done)](Status s) {
            if (!s) return done(s.error());
            done(std::move(*cleared));
        });
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
