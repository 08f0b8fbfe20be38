// The query string of a remediation list: filters, page size, page token and order, as the
// SDK and curl spell them. Apart from api.cpp so that it can be fuzzed on its own.
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

// The list request of a call to a remediation list route, whose first two path parameters are
// the cluster and the instance. INVALID_ARGUMENT for an unknown filter value, a page size that
// is not a non-negative integer, or an order other than create_time/update_time [asc|desc].
Result<remediation::ListRequest> ParseListRequest(const Call& call);

}  // namespace noderepair::api
