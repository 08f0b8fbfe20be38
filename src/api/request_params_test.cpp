#include "api/request_params.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

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
}

}  // namespace
}  // namespace noderepair::api
