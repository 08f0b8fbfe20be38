// Read access to clusters, their nodes and hosts (docs/http-api.md 4.7), filtered by the caller's
// scope.
#pragma once

#include <functional>
#include <vector>

#include "auth/principal.hpp"
#include "common/status.hpp"
#include "model/inventory.hpp"
#include "storage/store.hpp"

namespace noderepair::inventory {

class InventoryService {
public:
    explicit InventoryService(storage::Store& store) : store_(store) {}
    Result<std::vector<model::Cluster>> ListClusters(const auth::Principal& caller);
    Result<model::Cluster> GetCluster(const std::string& cluster_id);
    // Hosts are shared by every cluster; a scoped caller sees only the hosts that carry its
    // clusters' instances, and only those instances.
    Result<std::vector<model::Host>> ListHosts(const auth::Principal& caller);

    // docs/http-api.md 11: one host with its instances (as ListHosts shows them to the caller)
    // and the newest `fault_limit` lines of its fault ledger the caller may see.
    struct HostDetail {
        model::Host host;
        std::vector<model::HostFault> faults;
    };
    Result<HostDetail> GetHost(const auth::Principal& caller, const std::string& host_name,
                               int fault_limit = 100);
    // docs/http-api.md 11: clears a host's suspicion; its cordon stays (uncordon is its own act).
    void ClearSuspect(const std::string& host_name, std::function<void(Result<model::Host>)> done);

    // docs/http-api.md 4.7: an operator's cordon; the engine places nothing on a cordoned host.
    void SetCordoned(const std::string& host_name, bool cordoned, std::function<void(Status)> done);

private:
    storage::Store& store_;
};

}  // namespace noderepair::inventory
