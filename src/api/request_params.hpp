// Query parameters that more than one endpoint reads: a parameter under its snake_case or
// camelCase name, and the filters, page and order of the remediation list.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "api/http.hpp"
#include "api/router.hpp"
#include "common/status.hpp"
#include "remediation/service.hpp"

namespace noderepair::api {

// The last value of a parameter spelled either way; nullopt when absent.
std::optional<std::string> SingleParam(const HttpRequest& req, std::string_view snake,
                                       std::string_view camel);

// The list of remediations asked for by GET …/instances/{i}/remediations: the cluster and
// instance of the path, then the state, mode and trigger filters, page and order of the query.
Result<remediation::ListRequest> ParseListRequest(const Call& call);

}  // namespace noderepair::api
