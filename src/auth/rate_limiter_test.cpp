#include "auth/rate_limiter.hpp"

#include <gtest/gtest.h>

namespace noderepair::auth {
namespace {

TEST(RateLimiter, AllowsABurstOfOneSecondThenRefusesUntilRefilled) {
    FakeClock clock(FromMicros(1'000'000));
    RateLimiter limiter(5, clock);
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.Allow("alice")) << i;
    EXPECT_FALSE(limiter.Allow("alice"));
    EXPECT_TRUE(limiter.Allow("bob")) << "buckets are per principal";
    clock.Advance(std::chrono::milliseconds(200));
    EXPECT_TRUE(limiter.Allow("alice"));
    EXPECT_FALSE(limiter.Allow("alice"));
}

TEST(RateLimiter, ZeroRateIsOff) {
    FakeClock clock(FromMicros(0));
    RateLimiter limiter(0, clock);
    for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.Allow("alice"));
}

}  // namespace
}  // namespace noderepair::auth
