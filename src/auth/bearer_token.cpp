#include "auth/bearer_token.hpp"

#include <cctype>

namespace noderepair::auth {

Result<std::string_view> ParseBearerToken(std::string_view header) {
    if (header.empty()) return Unauthenticated("missing Authorization: Bearer token");
    const Error malformed =
        Unauthenticated("malformed Authorization header: expected 'Bearer <token>'");
    constexpr std::string_view kBearer = "bearer ";
    if (header.size() <= kBearer.size()) return malformed;
    for (size_t i = 0; i < kBearer.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(header[i])) != kBearer[i]) return malformed;
    }
    std::string_view token = header.substr(kBearer.size());
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    if (token.empty() || token.size() > kMaxBearerTokenBytes) return malformed;
    return token;
}

}  // namespace noderepair::auth
