#include "remediation/page_token.hpp"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <string>
#include <vector>

namespace noderepair::remediation {
namespace {

using model::Mode;
using model::State;
using model::Trigger;
using storage::Cursor;
using storage::ListQuery;
using storage::OrderField;

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

ListQuery BaseQuery() {
    ListQuery q;
    q.cluster_id = "c1";
    q.instance_id = "";
    q.states = {State::kPending, State::kRunning};
    q.modes = {Mode::kVmOnly};
    q.triggers = {};
    q.order = OrderField::kCreateTime;
    q.descending = true;
    return q;
}

// Base64url without padding, to build tokens with a valid checksum but a bad payload.
std::string Base64Url(std::string_view in) {
    std::string out;
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        uint32_t v =
            uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
        for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
    }
    const size_t rest = in.size() - i;
    if (rest > 0) {
        uint32_t v = uint32_t(uint8_t(in[i])) << 16;
        if (rest == 2) v |= uint32_t(uint8_t(in[i + 1])) << 8;
        for (size_t k = 0; k <= rest; ++k) out.push_back(kAlphabet[(v >> (18 - 6 * k)) & 63]);
    }
    return out;
}

std::string SignedToken(const std::string& payload) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), digest);
    return Base64Url(payload + std::string(reinterpret_cast<const char*>(digest), 8));
}

TEST(PageToken, RoundTripsTheCursor) {
    const std::string fp = ListFingerprint(BaseQuery());
    for (const Cursor& c :
         {Cursor{1767225600123456, "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b"}, Cursor{0, "a"},
          Cursor{-5, "fix-1"}, Cursor{9007199254740993, std::string(63, 'z')}}) {
        const std::string token = EncodePageToken(c, fp);
        auto decoded = DecodePageToken(token, fp);
        ASSERT_TRUE(decoded) << decoded.error().message;
        EXPECT_EQ(decoded->time_us, c.time_us);
        EXPECT_EQ(decoded->id, c.id);
    }
}

TEST(PageToken, IsUrlSafe) {
    const std::string token =
        EncodePageToken({1767225600123456, "abc-def"}, ListFingerprint(BaseQuery()));
    EXPECT_FALSE(token.empty());
    EXPECT_EQ(token.find_first_not_of(kAlphabet), std::string::npos) << token;
}

TEST(PageToken, RejectsEverySingleCharacterChange) {
    const std::string fp = ListFingerprint(BaseQuery());
    const std::string token = EncodePageToken({1767225600123456, "0190a1b2-c3d4"}, fp);
    ASSERT_TRUE(DecodePageToken(token, fp));
    int tried = 0;
    for (size_t i = 0; i < token.size(); ++i) {
        for (const char* c = kAlphabet; *c != '\0'; ++c) {
            if (*c == token[i]) continue;
            std::string edited = token;
            edited[i] = *c;
            auto decoded = DecodePageToken(edited, fp);
            ASSERT_FALSE(decoded) << "accepted " << edited << " (position " << i << ")";
            EXPECT_EQ(decoded.error().code, Code::kInvalidArgument);
            ++tried;
        }
    }
    EXPECT_EQ(tried, int(token.size()) * 63);
}

TEST(PageToken, RejectsDeletedInsertedAndTruncatedCharacters) {
    const std::string fp = ListFingerprint(BaseQuery());
    const std::string token = EncodePageToken({1767225600123456, "fix-17"}, fp);
    for (size_t i = 0; i < token.size(); ++i) {
        std::string deleted = token;
        deleted.erase(i, 1);
        EXPECT_FALSE(DecodePageToken(deleted, fp)) << "deleted position " << i;
        std::string inserted = token;
        inserted.insert(i, "A");
        EXPECT_FALSE(DecodePageToken(inserted, fp)) << "inserted at " << i;
        EXPECT_FALSE(DecodePageToken(token.substr(0, i), fp)) << "truncated to " << i;
    }
    EXPECT_FALSE(DecodePageToken(token + "A", fp));
    EXPECT_FALSE(DecodePageToken(token + "AAAA", fp));
}

TEST(PageToken, RejectsATokenOfAnotherList) {
    const ListQuery base = BaseQuery();
    std::vector<ListQuery> others(8, base);
    others[0].cluster_id = "c2";
    others[1].instance_id = "i1";
    others[2].states = {State::kPending};
    others[3].modes = {};
    others[4].triggers = {Trigger::kAutomated};
    others[5].order = OrderField::kUpdateTime;
    others[6].descending = false;
    others[7].states.push_back(State::kFailed);
    const std::string token = EncodePageToken({42, "x"}, ListFingerprint(base));
    for (size_t i = 0; i < others.size(); ++i) {
        const std::string other_fp = ListFingerprint(others[i]);
        EXPECT_NE(other_fp, ListFingerprint(base)) << "variant " << i;
        auto decoded = DecodePageToken(token, other_fp);
        ASSERT_FALSE(decoded) << "variant " << i;
        EXPECT_EQ(decoded.error().code, Code::kInvalidArgument);
    }
}

TEST(ListFingerprint, IgnoresPageSizeAndPosition) {
    ListQuery a = BaseQuery();
    ListQuery b = BaseQuery();
    b.limit = 7;
    b.after = Cursor{123, "id"};
    EXPECT_EQ(ListFingerprint(a), ListFingerprint(b));
    const std::string token = EncodePageToken({123, "id"}, ListFingerprint(a));
    EXPECT_TRUE(DecodePageToken(token, ListFingerprint(b)));
}

TEST(ListFingerprint, IgnoresOrderAndRepetitionOfFilterValues) {
    ListQuery a = BaseQuery();
    ListQuery b = BaseQuery();
    b.states = {State::kRunning, State::kPending, State::kRunning};
    EXPECT_EQ(ListFingerprint(a), ListFingerprint(b));
}

TEST(ListFingerprint, SeparatesClusterAndInstance) {
    ListQuery a = BaseQuery();
    a.cluster_id = "c1\ni";
    a.instance_id = "";
    ListQuery b = BaseQuery();
    b.cluster_id = "c1";
    b.instance_id = "i";
    EXPECT_NE(ListFingerprint(a), ListFingerprint(b));
}

TEST(PageToken, RejectsGarbage) {
    const std::string fp = ListFingerprint(BaseQuery());
    for (const std::string& token :
         {std::string(""), std::string("A"), std::string("AA"), std::string("AAAA"),
          std::string("====="), std::string("not a token"), std::string("abc+/def"),
          std::string("%2Fabc"), std::string(64, 'A'), std::string(400, '_'),
          std::string("\0\0\0\0", 4), Base64Url("1\n5\nid\n")}) {
        auto decoded = DecodePageToken(token, fp);
        ASSERT_FALSE(decoded) << "accepted '" << token << "'";
        EXPECT_EQ(decoded.error().code, Code::kInvalidArgument);
    }
}

TEST(PageToken, RejectsOverlongTokens) {
    const std::string fp = ListFingerprint(BaseQuery());
    const std::string valid = EncodePageToken({1, "x"}, fp);
    EXPECT_FALSE(DecodePageToken(valid + std::string(1000, 'A'), fp));
    EXPECT_FALSE(DecodePageToken(std::string(100000, 'A'), fp));
}

TEST(PageToken, RejectsSignedTokensWithBadPayloads) {
    const std::string fp = ListFingerprint(BaseQuery());
    // The well-formed payload is accepted, so the rejections below are about the payload.
    ASSERT_TRUE(DecodePageToken(SignedToken("1\n5\nid\n" + fp), fp));
    for (const char* payload : {
             "2\n5\nid\n",                     // unknown version
             "1\nfive\nid\n",                  // time not a number
             "1\n5x\nid\n",                    // trailing garbage in the time
             "1\n\nid\n",                      // empty time
             "1\n5\nid",                       // no final newline
             "1\n5id\n",                       // no separator before the id
             "1\n99999999999999999999\nid\n",  // time out of range
         }) {
        auto decoded = DecodePageToken(SignedToken(std::string(payload) + fp), fp);
        EXPECT_FALSE(decoded) << "accepted payload '" << payload << "'";
    }
}

TEST(PageToken, SameCursorSameToken) {
    const std::string fp = ListFingerprint(BaseQuery());
    EXPECT_EQ(EncodePageToken({5, "id"}, fp), EncodePageToken({5, "id"}, fp));
    EXPECT_NE(EncodePageToken({5, "id"}, fp), EncodePageToken({6, "id"}, fp));
    EXPECT_NE(EncodePageToken({5, "id"}, fp), EncodePageToken({5, "ie"}, fp));
}

}  // namespace
}  // namespace noderepair::remediation
