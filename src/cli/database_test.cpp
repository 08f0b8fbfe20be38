#include "cli/database.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace noderepair::cli {
namespace {

TEST(FormatTokenTable, ShowsNameRoleClustersAndTimesButNeverATokenOrHash) {
    storage::TokenRecord ops{"ops", storage::Role::kOperator, {"c1", "c2"}};
    ops.created_at = FromMicros(1'767'225'600'000'000);  // 2026-01-01T00:00:00Z
    ops.expires_at = *ops.created_at + std::chrono::hours(24 * 90);
    ops.last_used_at = *ops.created_at + std::chrono::seconds(5);
    storage::TokenRecord old{"old", storage::Role::kAdmin, {}};
    EXPECT_EQ(FormatTokenTable({ops, old}),
              "NAME  ROLE      CLUSTERS  CREATED               EXPIRES               LAST USED\n"
              "ops   operator  c1,c2     2026-01-01T00:00:00Z  2026-04-01T00:00:00Z  "
              "2026-01-01T00:00:05Z\n"
              "old   admin     all       -                     never                 -\n");
}

}  // namespace
}  // namespace noderepair::cli
