#include "common/ids.hpp"

#include <openssl/evp.h>
#include <sys/random.h>

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>

#include "common/status.hpp"

namespace noderepair {
namespace {

void FillRandom(uint8_t* out, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t got = getrandom(out + done, n - done, 0);
        NR_ASSERT(got > 0, "getrandom must not fail on Linux >= 3.17");
        done += size_t(got);
    }
}

constexpr char kHex[] = "0123456789abcdef";

std::string Hex(const unsigned char* bytes, size_t count) {
    std::string out;
    out.reserve(count * 2);
    for (size_t i = 0; i < count; ++i) {
        out.push_back(kHex[bytes[i] >> 4]);
        out.push_back(kHex[bytes[i] & 0xf]);
    }
    return out;
}

bool IsHex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace

std::string NewUuidV7(Timestamp now) {
    // 48-bit milliseconds, then a 74-bit counter (12 bits in rand_a, 62 in rand_b) seeded
    // randomly each millisecond, so ids stay strictly increasing within a process
    // (RFC 9562 6.2, method 2).
    static std::mutex mu;
    static uint64_t last_ms = 0;
    static uint64_t counter_hi = 0;  // 12 bits
    static uint64_t counter_lo = 0;  // 62 bits
    constexpr uint64_t kLoMask = (uint64_t(1) << 62) - 1;
    std::array<uint8_t, 16> b{};
    {
        std::lock_guard lock(mu);
        uint64_t ms = uint64_t(ToMicros(now) / 1000);
        if (ms > last_ms) {
            last_ms = ms;
            uint64_t seed[2];
            FillRandom(reinterpret_cast<uint8_t*>(seed), sizeof seed);
            counter_hi = seed[0] & 0x7ff;  // top bit clear: headroom within one millisecond
            counter_lo = seed[1] & kLoMask;
        } else if (++counter_lo > kLoMask) {
            counter_lo = 0;
            if (++counter_hi > 0xfff) {
                counter_hi = 0;
                ++last_ms;  // overflow: borrow the next millisecond
            }
        }
        for (int i = 0; i < 6; ++i) b[size_t(i)] = uint8_t(last_ms >> (40 - 8 * i));
        b[6] = uint8_t(0x70 | (counter_hi >> 8));
        b[7] = uint8_t(counter_hi & 0xff);
        b[8] = uint8_t(0x80 | ((counter_lo >> 56) & 0x3f));
        for (int i = 0; i < 7; ++i) b[size_t(9 + i)] = uint8_t(counter_lo >> (48 - 8 * i));
    }
    std::string out;
    out.reserve(36);
    for (size_t i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
        out.push_back(kHex[b[i] >> 4]);
        out.push_back(kHex[b[i] & 0xf]);
    }
    return out;
}

bool IsUuid(std::string_view id) {
    if (id.size() != 36) return false;
    for (size_t i = 0; i < id.size(); ++i) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? id[i] != '-' : !IsHex(id[i])) return false;
    }
    return true;
}

bool IsDnsLabel(std::string_view id) {
    if (id.empty() || id.size() > 63) return false;
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!alnum(id.front()) || !alnum(id.back())) return false;
    for (char c : id) {
        if (!alnum(c) && c != '-') return false;
    }
    return true;
}

std::string RandomHex(size_t count) {
    std::string bytes(count, '\0');
    FillRandom(reinterpret_cast<uint8_t*>(bytes.data()), count);
    return Hex(reinterpret_cast<const unsigned char*>(bytes.data()), count);
}

std::string NewRequestId() {
    // splitmix64 over a per-thread state seeded once from the OS: an id is no secret, and
    // getrandom for every request was a system call on every request's path.
    thread_local uint64_t state = [] {
        uint64_t seed = 0;
        FillRandom(reinterpret_cast<uint8_t*>(&seed), sizeof seed);
        return seed;
    }();
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    unsigned char bytes[8];
    for (size_t i = 0; i < sizeof bytes; ++i) bytes[i] = static_cast<unsigned char>(z >> (8 * i));
    return Hex(bytes, sizeof bytes);
}

std::string Sha256Hex(std::string_view data) {
    // The algorithm fetched once and a context per thread: EVP_Digest with EVP_sha256() looks
    // the algorithm up and allocates a context on every call, which cost more than the hash of
    // a token (every authenticated request hashes one).
    static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    thread_local const std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> context(EVP_MD_CTX_new(),
                                                                                  EVP_MD_CTX_free);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    const bool ok = sha256 != nullptr && context != nullptr &&
                    EVP_DigestInit_ex2(context.get(), sha256, nullptr) == 1 &&
                    EVP_DigestUpdate(context.get(), data.data(), data.size()) == 1 &&
                    EVP_DigestFinal_ex(context.get(), digest, &size) == 1;
    NR_ASSERT(ok, "SHA-256 of bytes in memory cannot fail");
    return Hex(digest, size);
}

}  // namespace noderepair
