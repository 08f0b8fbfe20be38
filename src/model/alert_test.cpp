#include "model/alert.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>

namespace noderepair::model {
namespace {

Alert Named(const std::string& name, std::map<std::string, std::string> labels = {},
            std::map<std::string, std::string> annotations = {}) {
    Alert a;
    a.alert_name = name;
    a.labels = std::move(labels);
    a.labels["alertname"] = name;
    a.annotations = std::move(annotations);
    return a;
}

TEST(AlertSeverity, WireNamesAreThoseOfTheContract) {
    EXPECT_EQ(WireName(Severity::kInfo), "PHC_SEVERITY_INFO");
    EXPECT_EQ(WireName(Severity::kWarning), "PHC_SEVERITY_WARNING");
    EXPECT_EQ(WireName(Severity::kCritical), "PHC_SEVERITY_CRITICAL");
}

TEST(AlertSeverity, StoredNumbersNeverChange) {
    EXPECT_EQ(int(Severity::kInfo), 1);
    EXPECT_EQ(int(Severity::kWarning), 2);
    EXPECT_EQ(int(Severity::kCritical), 3);
}

TEST(AlertAnnotation, TitleIsTheSummaryAnnotation) {
    const auto a = AnnotationOf(
        Named("NpdKernelDeadlock", {}, {{"summary", "kernel deadlock"}, {"title", "other"}}));
    EXPECT_EQ(a.title, "kernel deadlock");
}

TEST(AlertAnnotation, TitleFallsBackToTheTitleAnnotationThenTheAlertName) {
    EXPECT_EQ(AnnotationOf(Named("NpdKernelDeadlock", {}, {{"title", "deadlock"}})).title,
              "deadlock");
    EXPECT_EQ(AnnotationOf(Named("NpdKernelDeadlock")).title, "NpdKernelDeadlock");
    EXPECT_EQ(AnnotationOf(Named("NpdKernelDeadlock", {}, {{"summary", ""}})).title,
              "NpdKernelDeadlock");
}

TEST(AlertAnnotation, TitleNeverComesFromLabels) {
    EXPECT_EQ(AnnotationOf(Named("NpdKernelDeadlock", {{"summary", "from a label"}})).title,
              "NpdKernelDeadlock");
}

TEST(AlertAnnotation, DescriptionIsTheDescriptionAnnotationOrEmpty) {
    EXPECT_EQ(AnnotationOf(Named("X", {}, {{"description", "long text"}})).description,
              "long text");
    EXPECT_EQ(AnnotationOf(Named("X")).description, "");
}

TEST(AlertAnnotation, SummaryLineFallsBackToEvidenceThenTheTitle) {
    EXPECT_EQ(
        AnnotationOf(Named("X", {}, {{"summary_line", "line"}, {"evidence", "ev"}})).summary_line,
        "line");
    EXPECT_EQ(AnnotationOf(Named("X", {}, {{"evidence", "ev"}, {"summary", "sum"}})).summary_line,
              "ev");
    EXPECT_EQ(AnnotationOf(Named("X", {}, {{"summary", "sum"}})).summary_line, "sum");
    EXPECT_EQ(AnnotationOf(Named("X")).summary_line, "X");
}

TEST(AlertAnnotation, XidEventFromTheLabel) {
    const auto a = AnnotationOf(Named("DmesgXidError", {{"xid", "79"}}));
    ASSERT_EQ(a.xid_events.size(), 1u);
    EXPECT_EQ(a.xid_events[0].xid_code, "79");
    EXPECT_EQ(a.xid_events[0].mnemonic, "GPU has fallen off the bus");
    EXPECT_EQ(a.xid_events[0].count, 1);
    EXPECT_FALSE(a.slurm_reason);
}

TEST(AlertAnnotation, XidEventFromTheAnnotationWhenNoLabel) {
    const auto a = AnnotationOf(Named("DmesgXidError", {}, {{"xid", "48"}}));
    ASSERT_EQ(a.xid_events.size(), 1u);
    EXPECT_EQ(a.xid_events[0].xid_code, "48");
    EXPECT_EQ(a.xid_events[0].mnemonic, "Double Bit ECC Error");
}

TEST(AlertAnnotation, XidLabelWinsOverTheAnnotation) {
    const auto a = AnnotationOf(Named("DmesgXidError", {{"xid", "13"}}, {{"xid", "79"}}));
    ASSERT_EQ(a.xid_events.size(), 1u);
    EXPECT_EQ(a.xid_events[0].xid_code, "13");
}

TEST(AlertAnnotation, CommaSeparatedXidsAreOneEventEachInOrder) {
    const auto a = AnnotationOf(Named("DmesgXidError", {{"xid", " 13, 79 ,,31,"}}));
    ASSERT_EQ(a.xid_events.size(), 3u);
    EXPECT_EQ(a.xid_events[0].xid_code, "13");
    EXPECT_EQ(a.xid_events[0].mnemonic, "Graphics Engine Exception");
    EXPECT_EQ(a.xid_events[1].xid_code, "79");
    EXPECT_EQ(a.xid_events[1].mnemonic, "GPU has fallen off the bus");
    EXPECT_EQ(a.xid_events[2].xid_code, "31");
    EXPECT_EQ(a.xid_events[2].mnemonic, "GPU memory page fault");
}

TEST(AlertAnnotation, CountFromLabelOrAnnotationAppliesToEveryEvent) {
    auto a = AnnotationOf(Named("DmesgXidError", {{"xid", "13,31"}, {"count", "4"}}));
    ASSERT_EQ(a.xid_events.size(), 2u);
    EXPECT_EQ(a.xid_events[0].count, 4);
    EXPECT_EQ(a.xid_events[1].count, 4);
    a = AnnotationOf(Named("DmesgXidError", {{"xid", "13"}}, {{"count", "7"}}));
    ASSERT_EQ(a.xid_events.size(), 1u);
    EXPECT_EQ(a.xid_events[0].count, 7);
    a = AnnotationOf(Named("DmesgXidError", {{"xid", "13"}, {"count", "2"}}, {{"count", "7"}}));
    ASSERT_EQ(a.xid_events.size(), 1u);
    EXPECT_EQ(a.xid_events[0].count, 2);
}

TEST(AlertAnnotation, BadOrNonPositiveCountIsOne) {
    for (const char* count : {"", "zero", "0", "-3", "x5"}) {
        SCOPED_TRACE(count);
        const auto a = AnnotationOf(Named("DmesgXidError", {{"xid", "13"}, {"count", count}}));
        ASSERT_EQ(a.xid_events.size(), 1u);
        EXPECT_EQ(a.xid_events[0].count, 1);
    }
}

TEST(AlertAnnotation, UnknownXidHasAnEmptyMnemonic) {
    const auto a = AnnotationOf(Named("DmesgXidError", {{"xid", "999"}}));
    ASSERT_EQ(a.xid_events.size(), 1u);
    EXPECT_EQ(a.xid_events[0].xid_code, "999");
    EXPECT_EQ(a.xid_events[0].mnemonic, "");
}

TEST(AlertAnnotation, NoXidCodeNoEvents) {
    EXPECT_TRUE(AnnotationOf(Named("DmesgXidError")).xid_events.empty());
    EXPECT_TRUE(AnnotationOf(Named("DmesgXidError", {{"xid", " , "}})).xid_events.empty());
}

TEST(AlertAnnotation, XidEventsOnlyForDmesgXidError) {
    EXPECT_TRUE(AnnotationOf(Named("GPUXidError", {{"xid", "79"}})).xid_events.empty());
    EXPECT_TRUE(AnnotationOf(Named("GpuEccDoubleBitError", {{"xid", "48"}})).xid_events.empty());
}

TEST(AlertAnnotation, XidMnemonicTable) {
    const std::map<std::string, std::string> expected = {
        {"13", "Graphics Engine Exception"},
        {"31", "GPU memory page fault"},
        {"32", "Invalid or corrupted push buffer stream"},
        {"43", "GPU stopped processing"},
        {"45", "Preemptive cleanup, due to previous errors"},
        {"48", "Double Bit ECC Error"},
        {"61", "Internal micro-controller breakpoint/warning"},
        {"62", "Internal micro-controller halt"},
        {"63", "ECC page retirement or row remapping recording event"},
        {"64", "ECC page retirement or row remapper recording failure"},
        {"69", "Graphics Engine class error"},
        {"74", "NVLINK Error"},
        {"79", "GPU has fallen off the bus"},
        {"92", "High single-bit ECC error rate"},
        {"94", "Contained ECC error"},
        {"95", "Uncontained ECC error"},
        {"109", "Context Switch Timeout Error"},
        {"119", "GSP RPC Timeout"},
        {"120", "GSP Error"},
        {"154", "GPU recovery action changed"},
    };
    for (const auto& [code, name] : expected) EXPECT_EQ(XidMnemonic(code), name) << code;
    for (const char* unknown : {"", "0", "7", "079", "79 ", "1000"}) {
        EXPECT_EQ(XidMnemonic(unknown), "") << unknown;
    }
}

TEST(AlertAnnotation, SlurmReasonFromTheLabel) {
    const auto a = AnnotationOf(
        Named("SlurmNodeUnavailable", {{"reason", "drained by admin"}}, {{"reason", "other"}}));
    ASSERT_TRUE(a.slurm_reason);
    EXPECT_EQ(*a.slurm_reason, "drained by admin");
    EXPECT_TRUE(a.xid_events.empty());
}

TEST(AlertAnnotation, SlurmReasonFromTheAnnotationWhenNoLabel) {
    const auto a =
        AnnotationOf(Named("SlurmNodeUnavailable", {}, {{"reason", "Kill task failed"}}));
    ASSERT_TRUE(a.slurm_reason);
    EXPECT_EQ(*a.slurm_reason, "Kill task failed");
}

TEST(AlertAnnotation, SlurmReasonOnlyForSlurmNodeUnavailable) {
    EXPECT_FALSE(AnnotationOf(Named("NpdKernelDeadlock", {{"reason", "x"}})).slurm_reason);
    EXPECT_FALSE(AnnotationOf(Named("DmesgXidError", {{"reason", "x"}})).slurm_reason);
}

}  // namespace
}  // namespace noderepair::model
