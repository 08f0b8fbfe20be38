#include "auth/bearer_token.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace noderepair::auth {
namespace {

TEST(ParseBearerToken, TheTokenAfterBearerInAnyCaseWithoutTheSpacesAroundIt) {
    for (auto [header, token] : {std::pair{"Bearer nr_0123456789abcdef", "nr_0123456789abcdef"},
                                 {"bearer nr_1", "nr_1"},
                                 {"BEARER   nr_1  ", "nr_1"},
                                 {"Bearer a b", "a b"}}) {
        auto got = ParseBearerToken(header);
        ASSERT_TRUE(got) << header << ": " << got.error().message;
        EXPECT_EQ(*got, token) << header;
    }
    const std::string longest = "Bearer " + std::string(kMaxBearerTokenBytes, 'x');
    ASSERT_TRUE(ParseBearerToken(longest));
    EXPECT_EQ(ParseBearerToken(longest)->size(), kMaxBearerTokenBytes);
}

TEST(ParseBearerToken, AMissingHeaderIsToldApart) {
    auto got = ParseBearerToken("");
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, Code::kUnauthenticated);
    EXPECT_EQ(got.error().message, "missing Authorization: Bearer token");
}

TEST(ParseBearerToken, RefusesOtherSchemesAndEmptyOrOverlongTokens) {
    for (const std::string& header :
         std::vector<std::string>{"Bearer", "Bearer ", "Bearer     ", "Bearernr_1", "Bearer\tnr_1",
                                  "Basic dXNlcjpwYXNz", "nr_0123456789abcdef", " Bearer nr_1",
                                  "Bearer " + std::string(kMaxBearerTokenBytes + 1, 'x')}) {
        auto got = ParseBearerToken(header);
        ASSERT_FALSE(got) << header;
        EXPECT_EQ(got.error().code, Code::kUnauthenticated);
        EXPECT_EQ(got.error().message, "malformed Authorization header: expected 'Bearer <token>'");
    }
}

}  // namespace
}  // namespace noderepair::auth
