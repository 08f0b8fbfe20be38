#include "remediation/page_token.hpp"

#include <openssl/sha.h>

#include <charconv>

namespace noderepair::remediation {
namespace {

constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64UrlEncode(std::string_view in) {
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        uint32_t v =
            uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
        for (int s = 18; s >= 0; s -= 6) out.push_back(kBase64Url[(v >> s) & 63]);
    }
    if (i + 1 == in.size()) {
        uint32_t v = uint32_t(uint8_t(in[i])) << 16;
        out.push_back(kBase64Url[(v >> 18) & 63]);
        out.push_back(kBase64Url[(v >> 12) & 63]);
    } else if (i + 2 == in.size()) {
        uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8;
        out.push_back(kBase64Url[(v >> 18) & 63]);
        out.push_back(kBase64Url[(v >> 12) & 63]);
        out.push_back(kBase64Url[(v >> 6) & 63]);
    }
    return out;
}

bool Base64UrlDecode(std::string_view in, std::string& out) {
    if (in.size() % 4 == 1) return false;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        const char* p = std::char_traits<char>::find(kBase64Url, 64, c);
        if (p == nullptr) return false;
        acc = (acc << 6) | uint32_t(p - kBase64Url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(char((acc >> bits) & 0xff));
        }
    }
    // Canonical form only: leftover bits must be zero, so one token has one spelling.
    return (acc & ((1u << bits) - 1)) == 0;
}

std::string Checksum(std::string_view payload) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), digest);
    return std::string(reinterpret_cast<const char*>(digest), 8);
}

}  // namespace

std::string ShortHash(std::string_view text) { return Checksum(text); }

std::string ListFilters(const storage::ListQuery& q) {
    std::string f = q.cluster_id + '\n' + q.instance_id + '\n';
    auto mask = [](const auto& values) {
        uint32_t m = 0;
        for (auto v : values) m |= 1u << unsigned(v);
        return std::to_string(m);
    };
    f += mask(q.states) + ',' + mask(q.modes) + ',' + mask(q.triggers) + ',';
    f += q.order == storage::OrderField::kCreateTime ? 'c' : 'u';
    f += q.descending ? 'd' : 'a';
    return f;
}

std::string ListFingerprint(const storage::ListQuery& q) { return ShortHash(ListFilters(q)); }

std::string EncodePageToken(const storage::Cursor& cursor, std::string_view fingerprint) {
    std::string payload = "1\n" + std::to_string(cursor.time_us) + '\n' + cursor.id + '\n';
    payload += fingerprint;
    return Base64UrlEncode(payload + Checksum(payload));
}

Result<storage::Cursor> DecodePageToken(std::string_view token, std::string_view fingerprint) {
    const Error invalid = InvalidArgument("invalid page_token");
    std::string raw;
    if (token.size() > 512 || !Base64UrlDecode(token, raw) || raw.size() < 8 + 8) return invalid;
    std::string_view payload(raw.data(), raw.size() - 8);
    if (Checksum(payload) != std::string_view(raw).substr(raw.size() - 8)) return invalid;
    if (payload.substr(payload.size() - 8) != fingerprint) {
        return InvalidArgument(
            "page_token was made for a list with other filters or order; start again without "
            "page_token");
    }
    payload.remove_suffix(8);
    // "1\n<time>\n<id>\n"
    if (!payload.starts_with("1\n") || payload.back() != '\n') return invalid;
    payload.remove_prefix(2);
    payload.remove_suffix(1);
    size_t nl = payload.find('\n');
    if (nl == std::string_view::npos) return invalid;
    storage::Cursor cursor;
    auto [end, ec] = std::from_chars(payload.data(), payload.data() + nl, cursor.time_us);
    if (ec != std::errc() || end != payload.data() + nl) return invalid;
    cursor.id = std::string(payload.substr(nl + 1));
    return cursor;
}

}  // namespace noderepair::remediation
