// Config files (serve --config): YAML through yaml-cpp, the key table and the range checks,
// then the alert rules the way serve turns them into a policy. A config that was accepted
// must hold values the server can use as they are.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "cli/config.hpp"
#include "health/policy.hpp"
#include "invariants.hpp"

using namespace noderepair;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    auto config = cli::ParseConfig(text);
    if (!config) return 0;
    const auto& c = *config;
    if (!std::isfinite(c.automation.max_active_fraction) ||
        !std::isfinite(c.server.rate_limit_per_token_rps)) {
        fuzz::Broken("accepted rates and fractions are finite numbers", text);
    }
    if (c.engine.capacity_wait_s < 0 || c.engine.step_timeout_s <= 0 || c.engine.max_parallel < 1 ||
        c.hooks.timeout_s < 1 || c.server.io_threads < 1 || c.server.worker_threads < -1 ||
        c.storage.max_batch < 1) {
        fuzz::Broken("accepted durations, caps and thread counts are in range", text);
    }
    if (c.notify.approval_after_s < 0 || c.notify.interval_s < 1 || c.notify.timeout_s < 1 ||
        (!c.notify.alertmanager_url.empty() && !c.notify.alertmanager_url.starts_with("http"))) {
        fuzz::Broken("accepted notification settings are in range", text);
    }
    (void)health::Policy::WithOverrides(c.automation.rules);
    return 0;
}
