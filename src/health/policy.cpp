#include "health/policy.hpp"

namespace noderepair::health {
namespace {

using model::Mode;

std::optional<model::Severity> ParseSeverity(const std::string& label) {
    if (label == "critical") return model::Severity::kCritical;
    if (label == "warning") return model::Severity::kWarning;
    if (label == "info") return model::Severity::kInfo;
    return std::nullopt;
}

}  // namespace

Policy::Policy() {
    modes_ = {
        {"DmesgGpuFallenOffBus", Mode::kHostAware},
        {"GpuSmClockThermalThrottle", Mode::kHostAware},
        {"GpuPcieReplayRateHigh", Mode::kHostAware},
        {"IBRailsDownOrDegraded", Mode::kHostAware},
        {"IBLinkFlapping", Mode::kHostAware},
        {"NpdCperHardwareErrorFatal", Mode::kVmOnly},
        {"NpdReadonlyFilesystem", Mode::kVmOnly},
        {"NpdXfsShutdown", Mode::kVmOnly},
        {"DmesgXidError", Mode::kRebootVm},  // Xid 79: HOST_AWARE, see RuleFor
        {"GpuEccDoubleBitError", Mode::kRebootVm},
        {"GpuRowRemapFailure", Mode::kRebootVm},
        {"NpdKernelDeadlock", Mode::kRebootVm},
        {"NpdFrequentKubeletRestart", Mode::kRebootVm},
        {"NpdFrequentContainerdRestart", Mode::kRebootVm},
        {"NpdFrequentUnregisterNetDevice", Mode::kRebootVm},
        {"KubeNodeMemoryPressure", Mode::kRebootVm},
        {"KubeNodePIDPressure", Mode::kRebootVm},
        {"KubeNodeDiskPressure", std::nullopt},
        {"SlurmNodeUnavailable", std::nullopt},
    };
}

Result<Policy> Policy::WithOverrides(const std::map<std::string, std::string>& overrides) {
    Policy policy;
    for (const auto& [alert_name, mode_name] : overrides) {
        if (mode_name == "none" || mode_name.empty()) {
            policy.modes_[alert_name] = std::nullopt;
            continue;
        }
        auto mode = model::ParseMode(mode_name);
        if (!mode) mode = model::ParseMode("REMEDIATION_MODE_" + mode_name);
        if (!mode) {
            return InvalidArgument("config: automation.rules." + alert_name + ": unknown mode '" +
                                   mode_name + "'");
        }
        policy.modes_[alert_name] = *mode;
    }
    return policy;
}

Rule Policy::RuleFor(const model::Alert& alert) const {
    Rule rule;
    auto it = modes_.find(alert.alert_name);
    if (it != modes_.end()) rule.mode = it->second;
    if (alert.alert_name == "DmesgXidError" && rule.mode == Mode::kRebootVm) {
        // Xid 79: the GPU fell off the bus, the host is suspect.
        for (const auto& event : model::AnnotationOf(alert).xid_events) {
            if (event.xid_code == "79") rule.mode = Mode::kHostAware;
        }
    }
    auto label = alert.labels.find("severity");
    auto severity = label == alert.labels.end() ? std::nullopt : ParseSeverity(label->second);
    if (severity) {
        rule.severity = *severity;
    } else {
        rule.severity = rule.mode == Mode::kHostAware || rule.mode == Mode::kVmOnly
                            ? model::Severity::kCritical
                            : model::Severity::kWarning;
    }
    return rule;
}

int EscalationRank(model::Mode mode) {
    switch (mode) {
        case Mode::kRebootVm:
            return 1;
        case Mode::kVmOnly:
            return 2;
        case Mode::kHostAware:
            return 3;
        case Mode::kEvictWithoutReplacement:
        case Mode::kHostPowerCycle:
            return 0;
    }
    return 0;
}

}  // namespace noderepair::health
