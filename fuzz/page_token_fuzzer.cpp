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

// The filters and order of a list, chosen by the bits of one byte.
storage::ListQuery ListOf(uint8_t bits) {
    storage::ListQuery query{.cluster_id = "c"};
    if (bits & 1) query.instance_id = "i-1";
    if (bits & 2) query.states = {model::State::kPending, model::State::kRunning};
    if (bits & 4) query.modes = {model::Mode::kVmOnly, model::Mode::kHostPowerCycle};
    if (bits & 8) query.triggers = {model::Trigger::kAutomated};
    query.order = bits & 16 ? storage::OrderField::kUpdateTime : storage::OrderField::kCreateTime;
    query.descending = bits & 32;
    return query;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    // The last byte picks the list, and the list with the opposite order is another one.
    const std::string list = remediation::ListFingerprint(ListOf(data[size - 1]));
    const std::string other_list = remediation::ListFingerprint(ListOf(data[size - 1] ^ 32));

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
