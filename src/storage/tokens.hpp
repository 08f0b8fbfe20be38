// Bearer tokens (stored by hash only) and the server's small key-value settings, behind the
// store contract.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"

namespace noderepair::storage {

enum class Role : uint8_t { kViewer = 1, kOperator = 2, kApprover = 3, kAdmin = 4 };

struct TokenRecord {
    std::string name;
    Role role = Role::kViewer;
    std::vector<std::string> clusters;  // empty: every cluster
};

class TokenReads {
public:
    virtual ~TokenReads() = default;
    virtual Result<std::optional<TokenRecord>> Find(const std::string& token_hash) = 0;
    virtual Result<bool> HasAny() = 0;
};

class TokenRepository : public TokenReads {
public:
    virtual Status Insert(const std::string& token_hash, const TokenRecord& token) = 0;
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
