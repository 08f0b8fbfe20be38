// Query parameters that more than one endpoint reads: a parameter under its snake_case or
// camelCase name, the filters, page and order of the remediation list, and the status filter and
// page of the alert list.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "api/http.hpp"
#include "api/router.hpp"
#include "common/status.hpp"
#include "remediation/service.hpp"
#include "storage/store.hpp"

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

// The alert list asked for by GET …/clusters/{c}/health/alerts: the cluster of the path, then
// `status` (firing or resolved), `page_size` and `page_token` of the query.
struct AlertListRequest {
    storage::AlertQuery query;
    // What the list's page tokens are bound to (its cluster and status), so a token is
    // accepted by the list that wrote it only: pass it to EncodePageToken for the next page.
    std::string token_fingerprint;
};
Result<AlertListRequest> ParseAlertListRequest(const Call& call);

}  // namespace noderepair::api
