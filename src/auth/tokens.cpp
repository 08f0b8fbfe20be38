#include "auth/tokens.hpp"

#include <cstdint>
#include <utility>

#include "auth/bearer_token.hpp"
#include "common/ids.hpp"

namespace noderepair::auth {

std::string NewToken() { return "nr_" + RandomHex(32); }

std::string HashToken(std::string_view token) { return Sha256Hex(token); }

Result<std::string> CreateToken(storage::Store& store, const storage::TokenRecord& record) {
    std::string token = NewToken();
    std::string hash = HashToken(token);
    NR_RETURN_IF_ERROR(
        store.WriteAndWait([&](storage::Txn& txn) { return txn.Tokens().Insert(hash, record); }));
    return token;
}

Result<std::chrono::seconds> ParseExpiresIn(std::string_view text) {
    const auto bad = [text] {
        return InvalidArgument("--expires-in '" + std::string(text) +
                               "' must be a positive whole number and a unit (s, m, h or d), "
                               "e.g. 90d, at most 100 years");
    };
    if (text.size() < 2 || text.size() > 12) return bad();
    int64_t count = 0;
    for (char c : text.substr(0, text.size() - 1)) {
        if (c < '0' || c > '9') return bad();
        count = count * 10 + (c - '0');
    }
    int64_t unit = 0;
    switch (text.back()) {
        case 's':
            unit = 1;
            break;
        case 'm':
            unit = 60;
            break;
        case 'h':
            unit = 3600;
            break;
        case 'd':
            unit = 86400;
            break;
        default:
            return bad();
    }
    constexpr int64_t kMaxSeconds = int64_t(100) * 366 * 86400;
    if (count <= 0 || count > kMaxSeconds / unit) return bad();
    return std::chrono::seconds(count * unit);
}

Result<Principal> Authenticator::Authenticate(std::string_view header) {
    if (auto known = AuthenticateWithoutReading(header)) return *std::move(known);
    // At most one read per token a second: a revocation made anywhere is seen within it.
    NR_ASSIGN_OR_RETURN(std::string_view token, ParseBearerToken(header));
    std::string hash = HashToken(token);
    const Timestamp now = clock_.Now();
    std::optional<storage::TokenRecord> record;
    NR_RETURN_IF_ERROR(store_.Read([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(record, reader.Tokens().Find(hash));
        return OkStatus();
    }));
    std::lock_guard lock(mu_);
    if (!record) {
        cache_.erase(hash);
        return Unauthenticated("unknown bearer token");
    }
    if (cache_.size() > 10000) cache_.clear();  // bounded: tokens are few, attackers many
    auto it = cache_
                  .insert_or_assign(hash, Cached{{record->name, record->role, record->clusters},
                                                 record->expires_at,
                                                 record->revoked_at,
                                                 now})
                  .first;
    return Admit(hash, it->second, now);
}

std::optional<Result<Principal>> Authenticator::AuthenticateWithoutReading(
    std::string_view header) {
    auto token = ParseBearerToken(header);
    if (!token) return Result<Principal>(token.error());
    std::string hash = HashToken(*token);
    const Timestamp now = clock_.Now();
    std::lock_guard lock(mu_);
    auto it = cache_.find(hash);
    if (it == cache_.end() || now - it->second.checked >= kRecheck) return std::nullopt;
    return Admit(hash, it->second, now);
}

Result<Principal> Authenticator::Admit(const std::string& hash, const Cached& cached,
                                       Timestamp now) {
    if (cached.revoked_at) {
        return Unauthenticated("bearer token '" + cached.principal.name + "' was revoked");
    }
    if (cached.expires_at && *cached.expires_at <= now) {
        return Unauthenticated("bearer token '" + cached.principal.name + "' expired at " +
                               FormatRfc3339(*cached.expires_at));
    }
    last_used_[hash] = now;
    MaybeFlushLastUsed(now);
    return cached.principal;
}

void Authenticator::MaybeFlushLastUsed(Timestamp now) {
    if (!last_flush_) last_flush_ = now;
    if (now - *last_flush_ < kLastUsedFlush || last_used_.empty()) return;
    last_flush_ = now;
    // Queued, not waited for: a request never waits on this write.
    store_.Write(TakeLastUsed(), [](Status) {});
}

storage::TxnWork Authenticator::TakeLastUsed() {
    auto pending = std::exchange(last_used_, {});
    return [pending = std::move(pending)](storage::Txn& txn) -> Status {
        for (const auto& [hash, when] : pending) {
            NR_RETURN_IF_ERROR(txn.Tokens().TouchLastUsed(hash, when));
        }
        return OkStatus();
    };
}

Status Authenticator::FlushLastUsed() {
    storage::TxnWork work;
    {
        std::lock_guard lock(mu_);
        if (last_used_.empty()) return OkStatus();
        last_flush_ = clock_.Now();
        work = TakeLastUsed();
    }
    return store_.WriteAndWait(std::move(work));
}

}  // namespace noderepair::auth
