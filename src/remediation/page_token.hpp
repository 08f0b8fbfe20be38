// Opaque list page tokens (docs/http-api.md 4.3): the order key of the last row returned, bound to
// the filters and order of the list that made it, with a checksum so an edited token is refused.
#pragma once

#include <string>
#include <string_view>

#include "common/status.hpp"
#include "storage/store.hpp"

namespace noderepair::remediation {

// Everything in a list query but the position and page size, spelled out (equal for equal
// filters, scope and order, and only for them).
std::string ListFilters(const storage::ListQuery& query);
// What a token is bound to: ListFilters, hashed.
std::string ListFingerprint(const storage::ListQuery& query);

// 8 bytes of SHA-256: the fingerprint of any other list's filters.
std::string ShortHash(std::string_view text);

std::string EncodePageToken(const storage::Cursor& cursor, std::string_view fingerprint);
// InvalidArgument when the token is malformed, edited, or made for another list.
Result<storage::Cursor> DecodePageToken(std::string_view token, std::string_view fingerprint);

}  // namespace noderepair::remediation
