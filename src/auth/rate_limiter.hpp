// Per-token request rate limit (config server.rate_limit_per_token_rps): a token bucket per
// principal name that holds one second of requests. Thread-safe.
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>

#include "common/time.hpp"

namespace noderepair::auth {

class RateLimiter {
public:
    // `rate_per_second` 0 turns the limit off.
    RateLimiter(double rate_per_second, const Clock& clock)
        : rate_(rate_per_second), clock_(clock) {}
    // False when `principal` has used up its requests for now.
    bool Allow(const std::string& principal);

private:
    struct Bucket {
        double tokens = 0;
        Timestamp refilled;
    };
    const double rate_;
    const Clock& clock_;
    std::mutex mu_;
    std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace noderepair::auth
