#include "auth/rate_limiter.hpp"

#include <algorithm>

namespace noderepair::auth {

bool RateLimiter::Allow(const std::string& principal) {
    if (rate_ <= 0) return true;
    const double burst = std::max(1.0, rate_);
    const Timestamp now = clock_.Now();
    std::lock_guard lock(mu_);
    auto [it, inserted] = buckets_.try_emplace(principal, Bucket{burst, now});
    Bucket& b = it->second;
    if (!inserted) {
        const double elapsed_s = double((now - b.refilled).count()) / 1e6;
        b.tokens = std::min(burst, b.tokens + std::max(0.0, elapsed_s) * rate_);
        b.refilled = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
}

}  // namespace noderepair::auth
