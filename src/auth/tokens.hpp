// Bearer tokens: made from 32 random bytes, stored only as their SHA-256, with an optional
// expiry, revocable, and looked up per request through a small cache (docs/http-api.md 10).
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
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

// Stores a new token for `record` (created_at and expires_at as the caller set them); returns
// the token itself (shown once, never stored).
Result<std::string> CreateToken(storage::Store& store, const storage::TokenRecord& record);

// "90d", "12h", "30m", "45s": a positive whole number and one unit. InvalidArgument otherwise.
Result<std::chrono::seconds> ParseExpiresIn(std::string_view text);

// Resolves `Authorization` header values to principals. Thread-safe. A token found is
// remembered and read again at most once a second (docs/design.md 11), so a request costs
// no database read, and a token revoked in the database (by `token revoke` or by another
// replica) is refused within a second; one expired is refused at once. Last use is kept in
// memory and written in one transaction every kLastUsedFlush, and by FlushLastUsed().
class Authenticator {
public:
    static constexpr std::chrono::seconds kRecheck{1};
    static constexpr std::chrono::seconds kLastUsedFlush{10};

    Authenticator(storage::Store& store, const Clock& clock) : store_(store), clock_(clock) {}
    // Unauthenticated for a missing, malformed, unknown, expired or revoked token.
    Result<Principal> Authenticate(std::string_view authorization_header);
    // Authenticate where it needs no read of the database (the token is unknown here, or was
    // read more than kRecheck ago): nothing then. Never waits on the database, so an I/O
    // thread may ask.
    std::optional<Result<Principal>> AuthenticateWithoutReading(
        std::string_view authorization_header);
    // Writes the last use of every token used since the last flush, and waits for the commit.
    // Not for I/O threads; the server calls it at shutdown.
    Status FlushLastUsed();

private:
    struct Cached {
        Principal principal;
        std::optional<Timestamp> expires_at;
        std::optional<Timestamp> revoked_at;
        Timestamp checked;  // when the database was last read for it
    };
    // The cached token's principal, or why it is refused, as of `now`; records its use. mu_
    // held.
    Result<Principal> Admit(const std::string& hash, const Cached& cached, Timestamp now);
    // Queues a write of the pending last uses when the last flush is old enough; mu_ held.
    void MaybeFlushLastUsed(Timestamp now);
    storage::TxnWork TakeLastUsed();  // mu_ held

    storage::Store& store_;
    const Clock& clock_;
    std::mutex mu_;
    std::unordered_map<std::string, Cached> cache_;         // by token hash
    std::unordered_map<std::string, Timestamp> last_used_;  // by token hash, since last flush
    std::optional<Timestamp> last_flush_;
};

}  // namespace noderepair::auth
