#include "health/policy.hpp"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace noderepair::health {
namespace {

using model::Mode;
using model::Severity;

model::Alert AlertNamed(const std::string& name, std::map<std::string, std::string> labels = {}) {
    model::Alert a;
    a.alert_name = name;
    a.labels = std::move(labels);
    a.labels["alertname"] = name;
    return a;
}

model::Alert Xid(const std::string& codes) { return AlertNamed("DmesgXidError", {{"xid", codes}}); }

struct DefaultRow {
    std::string alert_name;
    std::optional<Mode> mode;
    Severity severity;
};

// docs/http-api.md 5, the default policy table, row by row.
std::vector<DefaultRow> DefaultTable() {
    return {
        {"DmesgGpuFallenOffBus", Mode::kHostAware, Severity::kCritical},
        {"GpuSmClockThermalThrottle", Mode::kHostAware, Severity::kCritical},
        {"GpuPcieReplayRateHigh", Mode::kHostAware, Severity::kCritical},
        {"IBRailsDownOrDegraded", Mode::kHostAware, Severity::kCritical},
        {"IBLinkFlapping", Mode::kHostAware, Severity::kCritical},
        {"NpdCperHardwareErrorFatal", Mode::kVmOnly, Severity::kCritical},
        {"NpdReadonlyFilesystem", Mode::kVmOnly, Severity::kCritical},
        {"NpdXfsShutdown", Mode::kVmOnly, Severity::kCritical},
        {"DmesgXidError", Mode::kRebootVm, Severity::kWarning},
        {"GpuEccDoubleBitError", Mode::kRebootVm, Severity::kWarning},
        {"GpuRowRemapFailure", Mode::kRebootVm, Severity::kWarning},
        {"NpdKernelDeadlock", Mode::kRebootVm, Severity::kWarning},
        {"NpdFrequentKubeletRestart", Mode::kRebootVm, Severity::kWarning},
        {"NpdFrequentContainerdRestart", Mode::kRebootVm, Severity::kWarning},
        {"NpdFrequentUnregisterNetDevice", Mode::kRebootVm, Severity::kWarning},
        {"KubeNodeMemoryPressure", Mode::kRebootVm, Severity::kWarning},
        {"KubeNodePIDPressure", Mode::kRebootVm, Severity::kWarning},
        {"KubeNodeDiskPressure", std::nullopt, Severity::kWarning},
        {"SlurmNodeUnavailable", std::nullopt, Severity::kWarning},
    };
}

TEST(Policy, DefaultTableMapsEveryAlertNameOfTheContract) {
    const Policy policy;
    for (const auto& row : DefaultTable()) {
        SCOPED_TRACE(row.alert_name);
        const Rule rule = policy.RuleFor(AlertNamed(row.alert_name));
        EXPECT_EQ(rule.mode, row.mode);
        EXPECT_EQ(rule.severity, row.severity);
    }
}

TEST(Policy, UnknownAlertNameHasNoModeAndWarningSeverity) {
    const Policy policy;
    for (const char* name : {"NodeDown", "GPUXidError", "dmesgxiderror", ""}) {
        SCOPED_TRACE(name);
        const Rule rule = policy.RuleFor(AlertNamed(name));
        EXPECT_EQ(rule.mode, std::nullopt);
        EXPECT_EQ(rule.severity, Severity::kWarning);
    }
}

TEST(Policy, UnknownAlertNameTakesTheSeverityLabel) {
    const Rule rule = Policy().RuleFor(AlertNamed("NodeDown", {{"severity", "critical"}}));
    EXPECT_EQ(rule.mode, std::nullopt);
    EXPECT_EQ(rule.severity, Severity::kCritical);
}

TEST(Policy, Xid79IsHostAwareAndCritical) {
    const Rule rule = Policy().RuleFor(Xid("79"));
    EXPECT_EQ(rule.mode, Mode::kHostAware);
    EXPECT_EQ(rule.severity, Severity::kCritical);
}

TEST(Policy, OtherXidsAreRebootVmAndWarning) {
    for (const char* code : {"13", "31", "48", "94", "119", "7", "790", "9"}) {
        SCOPED_TRACE(code);
        const Rule rule = Policy().RuleFor(Xid(code));
        EXPECT_EQ(rule.mode, Mode::kRebootVm);
        EXPECT_EQ(rule.severity, Severity::kWarning);
    }
}

TEST(Policy, XidWithoutCodeIsRebootVm) {
    EXPECT_EQ(Policy().RuleFor(AlertNamed("DmesgXidError")).mode, Mode::kRebootVm);
}

TEST(Policy, SeveralXidsIncluding79AreHostAware) {
    EXPECT_EQ(Policy().RuleFor(Xid("13,79")).mode, Mode::kHostAware);
    EXPECT_EQ(Policy().RuleFor(Xid("79, 31")).mode, Mode::kHostAware);
    EXPECT_EQ(Policy().RuleFor(Xid("13, 31,48")).mode, Mode::kRebootVm);
}

TEST(Policy, Xid79FromTheAnnotationIsHostAware) {
    model::Alert a = AlertNamed("DmesgXidError");
    a.annotations["xid"] = "79";
    EXPECT_EQ(Policy().RuleFor(a).mode, Mode::kHostAware);
}

TEST(Policy, Xid79OnlyMattersForDmesgXidError) {
    EXPECT_EQ(Policy().RuleFor(AlertNamed("GpuEccDoubleBitError", {{"xid", "79"}})).mode,
              Mode::kRebootVm);
    EXPECT_EQ(Policy().RuleFor(AlertNamed("GPUXidError", {{"xid", "79"}})).mode, std::nullopt);
}

TEST(Policy, SeverityLabelWinsOverTheDefault) {
    const Policy policy;
    EXPECT_EQ(policy.RuleFor(AlertNamed("DmesgGpuFallenOffBus", {{"severity", "info"}})).severity,
              Severity::kInfo);
    EXPECT_EQ(policy.RuleFor(AlertNamed("NpdXfsShutdown", {{"severity", "warning"}})).severity,
              Severity::kWarning);
    EXPECT_EQ(policy.RuleFor(AlertNamed("NpdKernelDeadlock", {{"severity", "critical"}})).severity,
              Severity::kCritical);
    EXPECT_EQ(policy.RuleFor(AlertNamed("SlurmNodeUnavailable", {{"severity", "info"}})).severity,
              Severity::kInfo);
    model::Alert xid = Xid("79");
    xid.labels["severity"] = "warning";
    EXPECT_EQ(policy.RuleFor(xid).severity, Severity::kWarning);
    EXPECT_EQ(policy.RuleFor(xid).mode, Mode::kHostAware);
}

TEST(Policy, UnknownSeverityLabelFallsBackToTheModesDefault) {
    const Policy policy;
    EXPECT_EQ(policy.RuleFor(AlertNamed("IBLinkFlapping", {{"severity", "page"}})).severity,
              Severity::kCritical);
    EXPECT_EQ(policy.RuleFor(AlertNamed("KubeNodePIDPressure", {{"severity", ""}})).severity,
              Severity::kWarning);
}

TEST(Policy, SeverityFromAnAnnotationIsIgnored) {
    model::Alert a = AlertNamed("NpdKernelDeadlock");
    a.annotations["severity"] = "critical";
    EXPECT_EQ(Policy().RuleFor(a).severity, Severity::kWarning);
}

TEST(Policy, OverrideTakesTheFullWireName) {
    auto policy = Policy::WithOverrides({{"KubeNodeDiskPressure", "REMEDIATION_MODE_VM_ONLY"}});
    ASSERT_TRUE(policy) << policy.error().message;
    const Rule rule = policy->RuleFor(AlertNamed("KubeNodeDiskPressure"));
    EXPECT_EQ(rule.mode, Mode::kVmOnly);
    EXPECT_EQ(rule.severity, Severity::kCritical);
}

TEST(Policy, OverrideTakesTheShortName) {
    auto policy = Policy::WithOverrides({{"NpdKernelDeadlock", "HOST_AWARE"},
                                         {"NodeDown", "REBOOT_VM"},
                                         {"Drained", "EVICT_WITHOUT_REPLACEMENT"},
                                         {"PowerGone", "HOST_POWER_CYCLE"}});
    ASSERT_TRUE(policy) << policy.error().message;
    EXPECT_EQ(policy->RuleFor(AlertNamed("NpdKernelDeadlock")).mode, Mode::kHostAware);
    EXPECT_EQ(policy->RuleFor(AlertNamed("NodeDown")).mode, Mode::kRebootVm);
    EXPECT_EQ(policy->RuleFor(AlertNamed("Drained")).mode, Mode::kEvictWithoutReplacement);
    EXPECT_EQ(policy->RuleFor(AlertNamed("PowerGone")).mode, Mode::kHostPowerCycle);
    // Rows not overridden keep their defaults.
    EXPECT_EQ(policy->RuleFor(AlertNamed("IBLinkFlapping")).mode, Mode::kHostAware);
    EXPECT_EQ(policy->RuleFor(AlertNamed("SlurmNodeUnavailable")).mode, std::nullopt);
}

TEST(Policy, OverrideNoneTurnsARuleIntoRecordOnly) {
    auto policy = Policy::WithOverrides({{"DmesgGpuFallenOffBus", "none"}});
    ASSERT_TRUE(policy) << policy.error().message;
    EXPECT_EQ(policy->RuleFor(AlertNamed("DmesgGpuFallenOffBus")).mode, std::nullopt);
    EXPECT_EQ(policy->RuleFor(AlertNamed("GpuPcieReplayRateHigh")).mode, Mode::kHostAware);
}

TEST(Policy, OverrideNoneOfDmesgXidErrorAlsoSilencesXid79) {
    auto off = Policy::WithOverrides({{"DmesgXidError", "none"}});
    ASSERT_TRUE(off) << off.error().message;
    EXPECT_EQ(off->RuleFor(Xid("79")).mode, std::nullopt);
}

TEST(Policy, OverrideWithAnUnknownModeIsInvalidArgument) {
    for (const char* bad : {"REBOOT", "REMEDIATION_MODE_REBOOT", "vm_only", "MODE_VM_ONLY",
                            "REMEDIATION_MODE_", "REMEDIATION_MODE_UNSPECIFIED"}) {
        SCOPED_TRACE(bad);
        auto policy = Policy::WithOverrides({{"NodeDown", bad}});
        ASSERT_FALSE(policy);
        EXPECT_EQ(policy.error().code, Code::kInvalidArgument);
        EXPECT_NE(policy.error().message.find("NodeDown"), std::string::npos)
            << policy.error().message;
    }
}

TEST(Policy, NoOverridesIsTheDefaultTable) {
    auto policy = Policy::WithOverrides({});
    ASSERT_TRUE(policy) << policy.error().message;
    for (const auto& row : DefaultTable()) {
        SCOPED_TRACE(row.alert_name);
        EXPECT_EQ(policy->RuleFor(AlertNamed(row.alert_name)).mode, row.mode);
    }
}

TEST(PolicyEscalationRank, OrdersRebootVmBelowVmOnlyBelowHostAware) {
    EXPECT_LT(EscalationRank(Mode::kRebootVm), EscalationRank(Mode::kVmOnly));
    EXPECT_LT(EscalationRank(Mode::kVmOnly), EscalationRank(Mode::kHostAware));
    EXPECT_GT(EscalationRank(Mode::kRebootVm), 0);
}

TEST(PolicyEscalationRank, ModesOutsideTheChainRankBelowEveryModeInIt) {
    for (Mode outside : {Mode::kEvictWithoutReplacement, Mode::kHostPowerCycle}) {
        EXPECT_EQ(EscalationRank(outside), 0);
        EXPECT_LT(EscalationRank(outside), EscalationRank(Mode::kRebootVm));
    }
}

}  // namespace
}  // namespace noderepair::health
