#include "cli/views.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace noderepair::cli {
namespace {

TEST(NextPageHint, NamesTheTokenOfTheNextPageOnly) {
    EXPECT_EQ(NextPageHint(boost::json::parse(R"({"has_next": true, "next_page_token": "MQo"})")),
              "next page: --page-token MQo\n");
    EXPECT_EQ(NextPageHint(boost::json::parse(R"({"has_next": false, "next_page_token": ""})")),
              "");
    EXPECT_EQ(NextPageHint(boost::json::parse(R"({"remediations": []})")), "");
    EXPECT_EQ(NextPageHint(boost::json::parse("[]")), "");
}

TEST(NextPageHint, ShowsTheTokenAsTerminalText) {
    EXPECT_EQ(NextPageHint(boost::json::parse(
                  R"({"has_next": true, "next_page_token": "\u001b]0;title\u0007"})")),
              "next page: --page-token  ]0;title \n");
}

}  // namespace
}  // namespace noderepair::cli
