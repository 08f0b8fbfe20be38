#include "auth/tokens.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "storage/store_contract_test.hpp"

namespace noderepair::auth {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using storage::test_support::IsOk;
using storage::test_support::ScopedTempDir;
using storage::test_support::TestEpoch;

class AuthenticatorTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto opened = storage::OpenStore("sqlite:" + dir_.path() + "/auth.db");
        ASSERT_TRUE(opened) << opened.error().message;
        store_ = std::move(opened).value();
    }
    void TearDown() override {
        if (store_) store_->Close();
    }

    // A token made now, living `lifetime` when given.
    std::string Create(const std::string& name, std::optional<seconds> lifetime = std::nullopt) {
        storage::TokenRecord record{name, Role::kOperator, {"c1"}};
        record.created_at = clock_.Now();
        if (lifetime) record.expires_at = clock_.Now() + *lifetime;
        auto token = CreateToken(*store_, record);
        EXPECT_TRUE(token) << token.error().message;
        return token ? *token : "";
    }
    Status Revoke(const std::string& name) {
        return store_->WriteAndWait(
            [&](storage::Txn& txn) { return txn.Tokens().Revoke(name, clock_.Now()); });
    }
    // The message of the 401 the token gets; "" when it is accepted.
    std::string Refusal(Authenticator& auth, const std::string& token) {
        auto principal = auth.Authenticate("Bearer " + token);
        if (principal) return "";
        EXPECT_EQ(principal.error().code, Code::kUnauthenticated);
        return principal.error().message;
    }
    std::optional<storage::TokenRecord> Stored(const std::string& token) {
        auto found = storage::test_support::ReadValue<std::optional<storage::TokenRecord>>(
            *store_, [&](storage::Reader& r) { return r.Tokens().Find(HashToken(token)); });
        EXPECT_TRUE(found);
        return found ? *found : std::nullopt;
    }

    ScopedTempDir dir_;
    FakeClock clock_{TestEpoch()};
    std::unique_ptr<storage::Store> store_;
};

TEST_F(AuthenticatorTest, AKnownTokenIsItsPrincipalAndAnUnknownOneIsRefused) {
    Authenticator auth(*store_, clock_);
    const std::string token = Create("ops");
    auto principal = auth.Authenticate("Bearer " + token);
    ASSERT_TRUE(principal) << principal.error().message;
    EXPECT_EQ(principal->name, "ops");
    EXPECT_EQ(principal->role, Role::kOperator);
    EXPECT_EQ(principal->clusters, std::vector<std::string>{"c1"});
    EXPECT_EQ(Refusal(auth, "nr_unknown"), "unknown bearer token");
}

TEST_F(AuthenticatorTest, AnExpiredTokenIsRefusedAtOnceSayingItExpired) {
    Authenticator auth(*store_, clock_);
    const std::string token = Create("short", seconds(2));
    EXPECT_EQ(Refusal(auth, token), "");
    clock_.Advance(milliseconds(1999));
    EXPECT_EQ(Refusal(auth, token), "");
    clock_.Advance(milliseconds(1));
    EXPECT_EQ(Refusal(auth, token),
              "bearer token 'short' expired at " + FormatRfc3339(TestEpoch() + seconds(2)));
}

TEST_F(AuthenticatorTest, ARevokedTokenIsRefusedWithinASecondWithOneReadASecond) {
    Authenticator auth(*store_, clock_);
    const std::string token = Create("ops");
    EXPECT_EQ(Refusal(auth, token), "");
    // Revoked in the database, as `token revoke` or another replica does it.
    ASSERT_TRUE(IsOk(Revoke("ops")));
    // Remembered for under a second: no read per request.
    clock_.Advance(milliseconds(999));
    EXPECT_EQ(Refusal(auth, token), "");
    clock_.Advance(milliseconds(1));
    EXPECT_EQ(Refusal(auth, token), "bearer token 'ops' was revoked");
    // A new authenticator (a restart) refuses it at once.
    Authenticator restarted(*store_, clock_);
    EXPECT_EQ(Refusal(restarted, token), "bearer token 'ops' was revoked");
}

// What an I/O thread may ask: the answer where it needs no read, nothing where it would read
// (a token not seen yet, or seen a second ago or more).
TEST_F(AuthenticatorTest, WithoutReadingAnswersOnlyWhatTheLastSecondsReadKnows) {
    Authenticator auth(*store_, clock_);
    const std::string token = Create("ops", seconds(5));
    EXPECT_FALSE(auth.AuthenticateWithoutReading("Bearer " + token));
    auto malformed = auth.AuthenticateWithoutReading("Basic abc");
    ASSERT_TRUE(malformed);
    ASSERT_FALSE(*malformed);
    EXPECT_EQ(malformed->error().code, Code::kUnauthenticated);

    EXPECT_EQ(Refusal(auth, token), "");
    ASSERT_TRUE(IsOk(Revoke("ops")));
    clock_.Advance(milliseconds(999));
    auto known = auth.AuthenticateWithoutReading("Bearer " + token);
    ASSERT_TRUE(known);
    ASSERT_TRUE(*known) << (*known).error().message;
    EXPECT_EQ((*known)->name, "ops");
    clock_.Advance(milliseconds(1));
    EXPECT_FALSE(auth.AuthenticateWithoutReading("Bearer " + token));
    EXPECT_EQ(Refusal(auth, token), "bearer token 'ops' was revoked");
    auto revoked = auth.AuthenticateWithoutReading("Bearer " + token);
    ASSERT_TRUE(revoked);
    ASSERT_FALSE(*revoked);
    EXPECT_EQ(revoked->error().message, "bearer token 'ops' was revoked");
}

TEST_F(AuthenticatorTest, LastUseIsWrittenEverySoOftenAndWhenFlushedNotPerRequest) {
    Authenticator auth(*store_, clock_);
    const std::string token = Create("ops");
    ASSERT_TRUE(auth.Authenticate("Bearer " + token));
    clock_.Advance(seconds(1));
    ASSERT_TRUE(auth.Authenticate("Bearer " + token));
    EXPECT_FALSE(Stored(token)->last_used_at) << "kept in memory until a flush";
    ASSERT_TRUE(IsOk(auth.FlushLastUsed()));
    EXPECT_EQ(Stored(token)->last_used_at, TestEpoch() + seconds(1));

    // Past the flush interval a request queues the write itself (without waiting for it).
    clock_.Advance(Authenticator::kLastUsedFlush);
    ASSERT_TRUE(auth.Authenticate("Bearer " + token));
    const Timestamp used = clock_.Now();
    ASSERT_TRUE(IsOk(store_->WriteAndWait([](storage::Txn&) { return OkStatus(); })));
    EXPECT_EQ(Stored(token)->last_used_at, used);
}

TEST(ParseExpiresIn, TakesAWholeNumberAndOneUnit) {
    EXPECT_EQ(ParseExpiresIn("90d").value(), seconds(90 * 86400));
    EXPECT_EQ(ParseExpiresIn("12h").value(), seconds(12 * 3600));
    EXPECT_EQ(ParseExpiresIn("30m").value(), seconds(1800));
    EXPECT_EQ(ParseExpiresIn("2s").value(), seconds(2));
    for (const char* bad :
         {"", "d", "0d", "-1d", "1.5h", "10", "10w", "1 d", "99999999999d", "36601d", "1D"}) {
        auto parsed = ParseExpiresIn(bad);
        ASSERT_FALSE(parsed) << bad;
        EXPECT_EQ(parsed.error().code, Code::kInvalidArgument);
        EXPECT_NE(parsed.error().message.find("unit (s, m, h or d)"), std::string::npos);
    }
}

}  // namespace
}  // namespace noderepair::auth
