#include "auth/tokens.hpp"

#include <openssl/sha.h>

#include "auth/bearer_token.hpp"
#include "common/ids.hpp"

namespace noderepair::auth {

std::string_view RoleName(Role role) {
    switch (role) {
        case Role::kViewer:
            return "viewer";
        case Role::kOperator:
            return "operator";
        case Role::kApprover:
            return "approver";
        case Role::kAdmin:
            return "admin";
    }
    return "viewer";
}

std::optional<Role> ParseRole(std::string_view name) {
    for (Role r : {Role::kViewer, Role::kOperator, Role::kApprover, Role::kAdmin}) {
        if (RoleName(r) == name) return r;
    }
    return std::nullopt;
}

std::string NewToken() { return "nr_" + RandomHex(32); }

std::string HashToken(std::string_view token) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * sizeof digest);
    for (unsigned char c : digest) {
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
    }
    return out;
}

Result<std::string> CreateToken(storage::Store& store, const storage::TokenRecord& record) {
    std::string token = NewToken();
    std::string hash = HashToken(token);
    NR_RETURN_IF_ERROR(
        store.WriteAndWait([&](storage::Txn& txn) { return txn.Tokens().Insert(hash, record); }));
    return token;
}

Result<Principal> Authenticator::Authenticate(std::string_view header) {
    NR_ASSIGN_OR_RETURN(std::string_view token, ParseBearerToken(header));
    std::string hash = HashToken(token);
    const Timestamp now = clock_.Now();
    {
        std::lock_guard lock(mu_);
        auto it = cache_.find(hash);
        if (it != cache_.end() && it->second.expires > now) return it->second.principal;
    }
    std::optional<storage::TokenRecord> record;
    NR_RETURN_IF_ERROR(store_.Read([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(record, reader.Tokens().Find(hash));
        return OkStatus();
    }));
    if (!record) return Unauthenticated("unknown bearer token");
    Principal principal{record->name, record->role, record->clusters};
    std::lock_guard lock(mu_);
    if (cache_.size() > 10000) cache_.clear();  // bounded: tokens are few, attackers many
    cache_[hash] = {principal, now + std::chrono::minutes(1)};
    return principal;
}

}  // namespace noderepair::auth
