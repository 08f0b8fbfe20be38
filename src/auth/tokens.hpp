// Bearer tokens: made from 32 random bytes, stored only as their SHA-256, and looked up per
// request through a small cache.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "auth/principal.hpp"
#include "common/status.hpp"
#include "common/time.hpp"
#include "storage/store.hpp"

namespace noderepair::auth {

// A fresh token: "nr_" and 64 hex digits.
std::string NewToken();
// What the database keeps of a token: its SHA-256 in hex.
std::string HashToken(std::string_view token);

// Stores a new token for `record`; returns the token itself (shown once, never stored).
Result<std::string> CreateToken(storage::Store& store, const storage::TokenRecord& record);

// Resolves `Authorization` header values to principals. Thread-safe. Remembers tokens it has
// found for a minute, so a request costs no database read; tokens made by `token create`
// while the server runs are found on first use.
class Authenticator {
public:
    Authenticator(storage::Store& store, const Clock& clock) : store_(store), clock_(clock) {}
    // Unauthenticated for a missing, malformed or unknown token.
    Result<Principal> Authenticate(std::string_view authorization_header);

private:
    struct Cached {
        Principal principal;
        Timestamp expires;
    };
    storage::Store& store_;
    const Clock& clock_;
    std::mutex mu_;
    std::unordered_map<std::string, Cached> cache_;  // by token hash
};

}  // namespace noderepair::auth
