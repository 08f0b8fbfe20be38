// Bearer tokens (stored by hash only) and the server's small key-value settings, behind the
// store contract.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"

namespace noderepair::storage {

enum class Role : uint8_t { kViewer = 1, kOperator = 2, kApprover = 3, kAdmin = 4 };

// "viewer", "operator", "approver", "admin".
std::string_view RoleName(Role role);
std::optional<Role> ParseRole(std::string_view name);

// A token as stored, without the token or its hash (docs/http-api.md 10).
struct TokenRecord {
    std::string name;
    Role role = Role::kViewer;
    std::vector<std::string> clusters;    // empty: every cluster
    std::optional<Timestamp> created_at;  // unset for tokens older than schema 10
    std::optional<Timestamp> expires_at;  // unset: never expires
    std::optional<Timestamp> revoked_at;
    std::optional<Timestamp> last_used_at;  // as last flushed by a server
};

class TokenReads {
public:
    virtual ~TokenReads() = default;
    // Revoked and expired tokens too: the caller says why one is refused.
    virtual Result<std::optional<TokenRecord>> Find(const std::string& token_hash) = 0;
    // Inside a write, the answer holds until the write commits: no other process adds the first
    // token in between.
    virtual Result<bool> HasAny() = 0;
    // Tokens not revoked, by name, then creation.
    virtual Result<std::vector<TokenRecord>> List() = 0;
};

class TokenRepository : public TokenReads {
public:
    // Audited as token.create.
    virtual Status Insert(const std::string& token_hash, const TokenRecord& token) = 0;
    // Revokes every token named `name` that is not revoked yet; NotFound when there is none.
    // Audited as token.revoke.
    virtual Status Revoke(const std::string& name, Timestamp when) = 0;
    // Moves last_used_at forward to `when` (never back). Not audited: it is not a change a
    // person made, and it is written every so often, not per request.
    virtual Status TouchLastUsed(const std::string& token_hash, Timestamp when) = 0;
};

class SettingReads {
public:
    virtual ~SettingReads() = default;
    virtual Result<std::optional<std::string>> Get(const std::string& key) = 0;
};

class SettingRepository : public SettingReads {
public:
    virtual Status Put(const std::string& key, const std::string& value) = 0;
    virtual Status Delete(const std::string& key) = 0;
};

}  // namespace noderepair::storage
