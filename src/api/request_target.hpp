// The target of a request line ("/v1/...?a=b") as the handlers see it. Apart from server.cpp
// so that it can be fuzzed without a socket.
#pragma once

#include <string_view>

#include "api/http.hpp"
#include "common/status.hpp"

namespace noderepair::api {

// Appends the target's percent-decoded path segments and query pairs to `out`;
// INVALID_ARGUMENT when it is not an origin-form target.
Status ParseRequestTarget(std::string_view target, HttpRequest& out);

}  // namespace noderepair::api
