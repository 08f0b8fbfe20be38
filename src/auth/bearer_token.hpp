// The token of an `Authorization: Bearer <token>` header: the one parser of that header, kept
// apart from the token store so the fuzzers in fuzz/ reach it without a database.
#pragma once

#include <cstddef>
#include <string_view>

#include "common/status.hpp"

namespace noderepair::auth {

// The longest token looked up: ours are 67 characters; anything much longer is not one.
inline constexpr size_t kMaxBearerTokenBytes = 256;

// The token of `header`: "Bearer" in any case, a space, then the token, with the spaces around
// it dropped. Unauthenticated, with the same message the API has always given, when the
// header is empty or not of that form, or the token is empty or over kMaxBearerTokenBytes.
// The result points into `header`.
Result<std::string_view> ParseBearerToken(std::string_view header);

}  // namespace noderepair::auth
