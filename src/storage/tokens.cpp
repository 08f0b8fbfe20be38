#include "storage/tokens.hpp"

namespace noderepair::storage {

std::string_view RoleName(Role role) {
    switch (role) {
        case Role::kViewer:
            return "viewer";
        case Role::kOperator:
            return "operator";
        case Role::kApprover:
            return "approver";
        case Role::kAdmin:
            return "admin";
    }
    return "viewer";
}

std::optional<Role> ParseRole(std::string_view name) {
    for (Role r : {Role::kViewer, Role::kOperator, Role::kApprover, Role::kAdmin}) {
        if (RoleName(r) == name) return r;
    }
    return std::nullopt;
}

}  // namespace noderepair::storage
