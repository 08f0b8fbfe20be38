// Identifiers: UUIDv7 for server-made ids, and the validation of client-chosen ones.
#pragma once

#include <string>
#include <string_view>

#include "common/time.hpp"

namespace noderepair {

// A UUIDv7 (RFC 9562) from the given time and the process's CSPRNG-seeded generator.
// Thread-safe; ids made by one process are strictly increasing.
std::string NewUuidV7(Timestamp now);

// 8-4-4-4-12 hex, either case.
bool IsUuid(std::string_view id);
// A lowercase RFC 1034 label: ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$ (docs/http-api.md 4.1).
bool IsDnsLabel(std::string_view id);

// `count` random bytes from the OS, as lowercase hex.
std::string RandomHex(size_t count);

// A request's id when its client sent none: 16 lowercase hex digits, distinct across the
// process's threads and requests (from a per-thread generator seeded by the OS), not secret.
std::string NewRequestId();

// The SHA-256 of `data`, as 64 lowercase hex digits.
std::string Sha256Hex(std::string_view data);

}  // namespace noderepair
