// Who is calling: the name, role and cluster scope of a bearer token (docs/http-api.md 4).
#pragma once

#include <algorithm>
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
};

using storage::ParseRole;
using storage::RoleName;

}  // namespace noderepair::auth
