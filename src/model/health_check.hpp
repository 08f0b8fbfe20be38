// Active health check runs (docs/http-api.md 5): named tests run on one instance, with results.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/time.hpp"

namespace noderepair::model {

// Stored numbers: append only.
enum class CheckState : uint8_t { kRunning = 1, kPassed = 2, kFailed = 3, kSkipped = 4 };

std::string_view WireName(CheckState state);  // RUNNING, PASSED, FAILED, SKIPPED

struct TestResult {
    std::string name;
    CheckState state = CheckState::kRunning;
    std::string detail;
};

struct HealthCheckRun {
    std::string id;
    std::string cluster_id;
    std::string instance_id;
    CheckState state = CheckState::kRunning;
    std::vector<TestResult> tests;
    Timestamp create_time;
    std::optional<Timestamp> end_time;
    std::string remediation_id;  // the remediation a failed run created or joined
    bool waiting = false;        // failed, held back by the blast radius
};

// The tests docs/http-api.md 5 names.
bool IsKnownTest(std::string_view name);
// Tests that exercise the GPUs (a degraded host fails them).
bool IsGpuTest(std::string_view name);

}  // namespace noderepair::model
