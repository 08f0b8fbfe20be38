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

    // docs/http-api.md 4.7: an operator's cordon; the engine places nothing on a cordoned host.
    void SetCordoned(const std::string& host_name, bool cordoned, std::function<void(Status)> done);

private:
    storage::Store& store_;
};

}  // namespace noderepair::inventory
