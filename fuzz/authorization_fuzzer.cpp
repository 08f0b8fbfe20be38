// The value of an Authorization header, as a client sends it (the server has already refused
// CR, LF and other control characters but tab, and trimmed the spaces and tabs around it):
// ParseBearerToken. A refusal is UNAUTHENTICATED in a JSON error body; an accepted token is the
// header's own text after "Bearer ", not empty, not over the limit, with no space around it,
// and reads back as itself when sent again the way the CLI and the SDK send it.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/bearer_token.hpp"
#include "invariants.hpp"

using namespace noderepair;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view header(reinterpret_cast<const char*>(data), size);
    auto token = auth::ParseBearerToken(header);
    if (!token) {
        fuzz::CheckRefusal(token.error(), Code::kUnauthenticated, header);
        return 0;
    }
    const std::string_view t = *token;
    if (t.empty() || t.size() > auth::kMaxBearerTokenBytes || t.front() == ' ' || t.back() == ' ') {
        fuzz::Broken("a token is 1 to 256 bytes with no space around it", header);
    }
    if (t.data() < header.data() || t.data() + t.size() > header.data() + header.size()) {
        fuzz::Broken("the token is the header's own text", header);
    }
    std::string scheme(header.substr(0, 6));
    for (char& c : scheme) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (scheme != "bearer") fuzz::Broken("only the Bearer scheme is accepted", header);
    const std::string sent = "Bearer " + std::string(t);
    auto again = auth::ParseBearerToken(sent);
    if (!again || *again != t) fuzz::Broken("a token sent again reads back as itself", sent);
    return 0;
}
