// Who is calling: the name, role and cluster scope of a bearer token (docs/http-api.md 4).
#pragma once

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/store.hpp"

namespace noderepair::auth {

using storage::Role;

struct Principal {
    std::string name;
    Role role = Role::kViewer;
    std::vector<std::string> clusters;  // empty: every cluster

    // Roles nest: viewer < operator < approver < admin.
    bool HasRole(Role needed) const { return int(role) >= int(needed); }
    bool CanSeeCluster(std::string_view cluster_id) const {
        return clusters.empty() ||
               std::find(clusters.begin(), clusters.end(), cluster_id) != clusters.end();
    }
    // Limited to some clusters (docs/http-api.md 10); such a token changes nothing fleet-wide.
    bool IsScoped() const { return !clusters.empty(); }
    // CanSeeCluster as a function for the services that filter what they touch; null for a
    // token of every cluster, so they skip the check.
    std::function<bool(const std::string& cluster_id)> ClusterFilter() const {
        if (!IsScoped()) return nullptr;
        return [caller = *this](const std::string& cluster_id) {
            return caller.CanSeeCluster(cluster_id);
        };
    }
};

using storage::ParseRole;
using storage::RoleName;

}  // namespace noderepair::auth
