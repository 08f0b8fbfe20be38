#include "model/health_check.hpp"

namespace noderepair::model {
namespace {

constexpr std::string_view kGpuTests[] = {
    "dcgm_diag",       "gpu_burn",        "nccl_single_node",    "nccl_multi_node",
    "nvbandwidth_h2d", "nvbandwidth_d2h", "nvbandwidth_latency",
};
constexpr std::string_view kOtherTests[] = {"ib_write_bw", "storage"};

}  // namespace

std::string_view WireName(CheckState state) {
    switch (state) {
        case CheckState::kRunning:
            return "RUNNING";
        case CheckState::kPassed:
            return "PASSED";
        case CheckState::kFailed:
            return "FAILED";
        case CheckState::kSkipped:
            return "SKIPPED";
    }
    return "RUNNING";
}

bool IsGpuTest(std::string_view name) {
    for (auto t : kGpuTests) {
        if (t == name) return true;
    }
    return false;
}

bool IsKnownTest(std::string_view name) {
    if (IsGpuTest(name)) return true;
    for (auto t : kOtherTests) {
        if (t == name) return true;
    }
    return false;
}

}  // namespace noderepair::model
