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

// What ParsePageSize makes of a number with more digits than a long long holds. The remediation
// list reads it as the largest page; the alert list has always refused it.
enum class PageSizeOverflow { kClamp, kRefuse };

// page_size (or pageSize): nullopt when absent or empty, else 0 to 1000 (a larger number is 1000).
// INVALID_ARGUMENT when it is negative or not an integer.
Result<std::optional<int>> ParsePageSize(const HttpRequest& req, PageSizeOverflow overflow);

// The list of remediations asked for by GET …/instances/{i}/remediations: the cluster and
// instance of the path, then the state, mode and trigger filters, page and order of the query.
Result<remediation::ListRequest> ParseListRequest(const Call& call);

}  // namespace noderepair::api
