#include "cli/enums.hpp"

#include <gtest/gtest.h>

namespace noderepair::cli {
namespace {

TEST(ShortName, DropsTheModeAndTriggerPrefixes) {
    EXPECT_EQ(ShortName("REMEDIATION_MODE_VM_ONLY"), "VM_ONLY");
    EXPECT_EQ(ShortName("REMEDIATION_MODE_HOST_POWER_CYCLE"), "HOST_POWER_CYCLE");
    EXPECT_EQ(ShortName("REMEDIATION_TRIGGER_AUTOMATED"), "AUTOMATED");
    EXPECT_EQ(ShortName("PHC_SEVERITY_CRITICAL"), "CRITICAL");
}

TEST(ShortName, LeavesStatesAndUnknownTextAlone) {
    EXPECT_EQ(ShortName("PENDING_APPROVAL"), "PENDING_APPROVAL");
    EXPECT_EQ(ShortName("REMEDIATION_MODE_SOMETHING_NEW"), "REMEDIATION_MODE_SOMETHING_NEW");
}

TEST(ModeFromFlag, AcceptsLongShortAndLowercaseForms) {
    EXPECT_EQ(*ModeFromFlag("REMEDIATION_MODE_VM_ONLY"), "REMEDIATION_MODE_VM_ONLY");
    EXPECT_EQ(*ModeFromFlag("VM_ONLY"), "REMEDIATION_MODE_VM_ONLY");
    EXPECT_EQ(*ModeFromFlag("vm_only"), "REMEDIATION_MODE_VM_ONLY");
    EXPECT_EQ(*ModeFromFlag("host-aware"), "REMEDIATION_MODE_HOST_AWARE");
}

TEST(ModeFromFlag, NamesTheAcceptedValuesWhenUnknown) {
    auto mode = ModeFromFlag("teleport");
    ASSERT_FALSE(mode);
    EXPECT_EQ(mode.error().code, Code::kInvalidArgument);
    EXPECT_NE(mode.error().message.find("teleport"), std::string::npos);
    EXPECT_NE(mode.error().message.find("VM_ONLY"), std::string::npos);
}

TEST(StateFromFlag, AcceptsAnyCase) {
    EXPECT_EQ(*StateFromFlag("pending_approval"), "PENDING_APPROVAL");
    EXPECT_EQ(*StateFromFlag("Succeeded"), "SUCCEEDED");
    EXPECT_FALSE(StateFromFlag("DONE"));
}

TEST(TriggerFromFlag, AcceptsTheShortForm) {
    EXPECT_EQ(*TriggerFromFlag("manual"), "REMEDIATION_TRIGGER_MANUAL");
    EXPECT_EQ(*TriggerFromFlag("REMEDIATION_TRIGGER_AUTOMATED"), "REMEDIATION_TRIGGER_AUTOMATED");
}

TEST(IsTerminalState, IsTrueOnlyForTheFourEndStates) {
    for (auto s : {"SUCCEEDED", "FAILED", "CANCELLED", "AUTO_RESOLVED"}) {
        EXPECT_TRUE(IsTerminalState(s)) << s;
    }
    for (auto s : {"PENDING", "RUNNING", "QUARANTINED", "nonsense"}) {
        EXPECT_FALSE(IsTerminalState(s)) << s;
    }
}

}  // namespace
}  // namespace noderepair::cli
