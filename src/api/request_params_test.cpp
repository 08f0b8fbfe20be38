#include "api/request_params.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "remediation/page_token.hpp"

namespace noderepair::api {
namespace {

using model::Mode;
using model::State;
using model::Trigger;

Call ListCall(std::vector<std::pair<std::string, std::string>> query) {
    Call call;
    call.request.query = std::move(query);
    call.params = {"c1", "-"};
    return call;
}

TEST(SingleParam, LastValueUnderEitherSpelling) {
    HttpRequest request;
    request.query = {{"page_token", "a"}, {"pageToken", "b"}};
    EXPECT_EQ(SingleParam(request, "page_token", "pageToken"), "b");
    EXPECT_EQ(SingleParam(request, "order_by", "orderBy"), std::nullopt);
}

HttpRequest WithPageSize(std::string value, std::string name = "page_size") {
    HttpRequest request;
    request.query = {{std::move(name), std::move(value)}};
    return request;
}

TEST(ParsePageSize, AbsentOrEmptyIsNullopt) {
    for (auto overflow : {PageSizeOverflow::kClamp, PageSizeOverflow::kRefuse}) {
        auto absent = ParsePageSize(HttpRequest{}, overflow);
        ASSERT_TRUE(absent);
        EXPECT_EQ(*absent, std::nullopt);
        auto empty = ParsePageSize(WithPageSize(""), overflow);
        ASSERT_TRUE(empty);
        EXPECT_EQ(*empty, std::nullopt);
    }
}

TEST(ParsePageSize, CountUpTo1000UnderEitherSpelling) {
    for (auto [text, expected] :
         {std::pair{"0", 0}, {"7", 7}, {"1000", 1000}, {"1001", 1000}, {"5000000000", 1000}}) {
        auto size = ParsePageSize(WithPageSize(text), PageSizeOverflow::kRefuse);
        ASSERT_TRUE(size) << text;
        EXPECT_EQ(*size, expected) << text;
    }
    auto camel = ParsePageSize(WithPageSize("12", "pageSize"), PageSizeOverflow::kClamp);
    ASSERT_TRUE(camel);
    EXPECT_EQ(*camel, 12);
}

TEST(ParsePageSize, NegativeIsInvalid) {
    for (const char* text : {"-1", "-99999999999999999999999"}) {
        auto size = ParsePageSize(WithPageSize(text), PageSizeOverflow::kClamp);
        ASSERT_FALSE(size) << text;
        EXPECT_EQ(size.error().code, Code::kInvalidArgument);
        EXPECT_EQ(size.error().message, "page_size must not be negative");
    }
}

TEST(ParsePageSize, NotAnIntegerIsInvalid) {
    for (const char* text : {"abc", "1.5", "5x", "+5", " 5", "0x10"}) {
        auto size = ParsePageSize(WithPageSize(text), PageSizeOverflow::kClamp);
        ASSERT_FALSE(size) << text;
        EXPECT_EQ(size.error().code, Code::kInvalidArgument);
        EXPECT_EQ(size.error().message, "page_size must be an integer");
    }
}

TEST(ParsePageSize, OverflowClampsTo1000OrIsRefused) {
    const HttpRequest request = WithPageSize("99999999999999999999999");
    auto clamped = ParsePageSize(request, PageSizeOverflow::kClamp);
    ASSERT_TRUE(clamped);
    EXPECT_EQ(*clamped, 1000);
    auto refused = ParsePageSize(request, PageSizeOverflow::kRefuse);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, Code::kInvalidArgument);
}

TEST(ParseListRequest, DefaultsWithoutQuery) {
    auto list = ParseListRequest(ListCall({}));
    ASSERT_TRUE(list);
    EXPECT_EQ(list->cluster_id, "c1");
    EXPECT_EQ(list->instance_id, "-");
    EXPECT_TRUE(list->states.empty());
    EXPECT_EQ(list->page_size, 50);
    EXPECT_EQ(list->order, storage::OrderField::kCreateTime);
    EXPECT_TRUE(list->descending);
}

TEST(ParseListRequest, FiltersSplitOnCommasDeduplicatedAndSorted) {
    auto list = ParseListRequest(ListCall({{"state", "CANCELLED, PENDING"},
                                           {"state", "PENDING"},
                                           {"mode", "REMEDIATION_MODE_REBOOT_VM"},
                                           {"trigger", ""}}));
    ASSERT_TRUE(list) << list.error().message;
    EXPECT_EQ(list->states, (std::vector<State>{State::kPending, State::kCancelled}));
    EXPECT_EQ(list->modes, (std::vector<Mode>{Mode::kRebootVm}));
    EXPECT_TRUE(list->triggers.empty());
}

TEST(ParseListRequest, UnknownFilterValueIsInvalid) {
    auto list = ParseListRequest(ListCall({{"state", "PENDING,NOPE"}}));
    ASSERT_FALSE(list);
    EXPECT_EQ(list.error().code, Code::kInvalidArgument);
    EXPECT_EQ(list.error().message, "unknown state 'NOPE'");
}

TEST(ParseListRequest, OrderByIsCaseInsensitiveWithOptionalDirection) {
    auto asc = ParseListRequest(ListCall({{"orderBy", "UPDATE_TIME"}}));
    ASSERT_TRUE(asc);
    EXPECT_EQ(asc->order, storage::OrderField::kUpdateTime);
    EXPECT_FALSE(asc->descending);
    auto desc = ParseListRequest(ListCall({{"order_by", " create_time  Desc "}}));
    ASSERT_TRUE(desc);
    EXPECT_EQ(desc->order, storage::OrderField::kCreateTime);
    EXPECT_TRUE(desc->descending);
    for (const char* bad : {"name", "create_time sideways", "create_time asc more"}) {
        auto list = ParseListRequest(ListCall({{"order_by", bad}}));
        ASSERT_FALSE(list) << bad;
        EXPECT_EQ(list.error().code, Code::kInvalidArgument) << bad;
    }
}

TEST(ParseListRequest, PageTokenAndSize) {
    auto list = ParseListRequest(ListCall({{"pageToken", "abc"}, {"page_size", "7"}}));
    ASSERT_TRUE(list);
    EXPECT_EQ(list->page_token, "abc");
    EXPECT_EQ(list->page_size, 7);
    auto huge = ParseListRequest(ListCall({{"page_size", "99999999999999999999999"}}));
    ASSERT_TRUE(huge);
    EXPECT_EQ(huge->page_size, 1000);
    EXPECT_FALSE(ParseListRequest(ListCall({{"pageSize", "-1"}})));
}

Call AlertsCall(std::vector<std::pair<std::string, std::string>> query) {
    Call call;
    call.request.query = std::move(query);
    call.params = {"c1"};
    return call;
}

TEST(ParseAlertListRequest, DefaultsWithoutQuery) {
    auto list = ParseAlertListRequest(AlertsCall({}));
    ASSERT_TRUE(list) << list.error().message;
    EXPECT_EQ(list->query.cluster_id, "c1");
    EXPECT_EQ(list->query.firing, std::nullopt);
    EXPECT_EQ(list->query.after, std::nullopt);
    EXPECT_EQ(list->query.limit, 50);
}

TEST(ParseAlertListRequest, StatusIsFiringOrResolvedOrEmpty) {
    for (auto [value, firing] : {std::pair<const char*, std::optional<bool>>{"firing", true},
                                 {"resolved", false},
                                 {"", std::nullopt}}) {
        auto list = ParseAlertListRequest(AlertsCall({{"status", value}}));
        ASSERT_TRUE(list) << value;
        EXPECT_EQ(list->query.firing, firing) << value;
    }
    for (const char* bad : {"FIRING", "open", "firing,resolved"}) {
        auto list = ParseAlertListRequest(AlertsCall({{"status", bad}}));
        ASSERT_FALSE(list) << bad;
        EXPECT_EQ(list.error().code, Code::kInvalidArgument);
        EXPECT_EQ(list.error().message, "status must be firing or resolved");
    }
}

TEST(ParseAlertListRequest, PageSizeZeroIsTheDefaultAndEveryBadOneHasOneMessage) {
    for (auto [text, limit] : {std::pair{"0", 50}, {"7", 7}, {"5000", 1000}}) {
        auto list = ParseAlertListRequest(AlertsCall({{"pageSize", text}}));
        ASSERT_TRUE(list) << text;
        EXPECT_EQ(list->query.limit, limit) << text;
    }
    for (const char* bad : {"-1", "x", "1.5", "99999999999999999999999"}) {
        auto list = ParseAlertListRequest(AlertsCall({{"page_size", bad}}));
        ASSERT_FALSE(list) << bad;
        EXPECT_EQ(list.error().code, Code::kInvalidArgument);
        EXPECT_EQ(list.error().message, "page_size must be a non-negative integer") << bad;
    }
}

TEST(ParseAlertListRequest, APageTokenIsForTheListOfItsClusterAndStatusOnly) {
    auto firing = ParseAlertListRequest(AlertsCall({{"status", "firing"}}));
    ASSERT_TRUE(firing);
    const std::string token =
        remediation::EncodePageToken({1764979081000000, "a-1"}, firing->token_fingerprint);
    auto next = ParseAlertListRequest(AlertsCall({{"status", "firing"}, {"pageToken", token}}));
    ASSERT_TRUE(next) << next.error().message;
    ASSERT_TRUE(next->query.after);
    EXPECT_EQ(next->query.after->time_us, 1764979081000000);
    EXPECT_EQ(next->query.after->id, "a-1");
    EXPECT_EQ(next->token_fingerprint, firing->token_fingerprint);
    for (auto query : {std::vector<std::pair<std::string, std::string>>{{"page_token", token}},
                       {{"status", "resolved"}, {"page_token", token}},
                       {{"status", "firing"}, {"page_token", token + "A"}}}) {
        auto refused = ParseAlertListRequest(AlertsCall(query));
        ASSERT_FALSE(refused);
        EXPECT_EQ(refused.error().code, Code::kInvalidArgument);
    }
    Call other_cluster = AlertsCall({{"status", "firing"}, {"page_token", token}});
    other_cluster.params = {"c2"};
    EXPECT_FALSE(ParseAlertListRequest(other_cluster));
    auto empty = ParseAlertListRequest(AlertsCall({{"page_token", ""}}));
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->query.after, std::nullopt);
}

}  // namespace
}  // namespace noderepair::api
