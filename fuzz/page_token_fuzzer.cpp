// Page tokens, which clients send back verbatim, edited or made up (?page_token=). Decoding
// must refuse every token but the server's own; a token the server made must decode to the
// cursor it holds, for that list only, and no single-character edit of it may pass.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "invariants.hpp"
#include "remediation/page_token.hpp"

using namespace noderepair;

namespace {

constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
// Cursor ids are UUIDs or RFC 1034 labels (remediation_id): at most 63 characters.
constexpr size_t kMaxCursorId = 63;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::string list = remediation::ListFingerprint({.cluster_id = "c"});
    const std::string other_list = remediation::ShortHash("alerts\nc\n");

    // As a forged token.
    (void)remediation::DecodePageToken(input, list);

    // As the cursor of a token the server makes: 8 bytes of time, then the id.
    if (size < 8) return 0;
    storage::Cursor cursor;
    std::memcpy(&cursor.time_us, data, 8);
    cursor.id = std::string(input.substr(8, kMaxCursorId));
    const std::string token = remediation::EncodePageToken(cursor, list);
    auto decoded = remediation::DecodePageToken(token, list);
    if (!decoded || decoded->time_us != cursor.time_us || decoded->id != cursor.id) {
        fuzz::Broken("a token the server made decodes to its cursor", token);
    }
    if (remediation::DecodePageToken(token, other_list)) {
        fuzz::Broken("a token is refused by a list with other filters", token);
    }
    std::string edited = token;
    const size_t at = size_t(data[size - 1]) * 7 % edited.size();
    const char* current = std::strchr(kBase64Url, edited[at]);
    edited[at] = kBase64Url[(current - kBase64Url + 1 + data[size - 1] % 63) % 64];
    if (remediation::DecodePageToken(edited, list)) {
        fuzz::Broken("an edited token is refused", edited);
    }
    return 0;
}
