#include "api/request_bodies.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace noderepair::api {
namespace {

using model::Mode;

// The message of a refusal, which must be INVALID_ARGUMENT.
template <class T>
std::string Refusal(const Result<T>& result) {
    if (result) return "(accepted)";
    EXPECT_EQ(result.error().code, Code::kInvalidArgument) << result.error().message;
    return result.error().message;
}

TEST(ParseClusterAutomationBody, ReadsThePolicyAndItsAlerts) {
    auto automatic = ParseClusterAutomationBody(
        R"({"automation": {"policy": "automatic", "automatic_alerts": ["DmesgXidError", "X"]}})");
    ASSERT_TRUE(automatic) << automatic.error().message;
    EXPECT_TRUE(automatic->automatic);
    EXPECT_EQ(automatic->automatic_alerts, (std::vector<std::string>{"DmesgXidError", "X"}));
    auto approve = ParseClusterAutomationBody(R"({"automation": {"policy": "approve"}})");
    ASSERT_TRUE(approve) << approve.error().message;
    EXPECT_FALSE(approve->automatic);
    EXPECT_TRUE(approve->automatic_alerts.empty());
}

TEST(ParseClusterAutomationBody, RefusesWithTheMessagesClientsKnow) {
    const std::pair<const char*, const char*> cases[] = {
        {"", "body needs an 'automation' object"},
        {R"({"automation": "automatic"})", "body needs an 'automation' object"},
        {R"({"automation": {}})", "automation.policy must be approve or automatic"},
        {R"({"automation": {"policy": "Automatic"}})",
         "automation.policy must be approve or automatic"},
        {R"({"automation": {"policy": 1}})", "field 'policy' must be a string"},
        {R"({"automation": {"policy": "automatic", "automatic_alerts": "X"}})",
         "automation.automatic_alerts must be an array of alert names"},
        {R"({"automation": {"policy": "automatic", "automatic_alerts": ["X", ""]}})",
         "automation.automatic_alerts must be an array of alert names"},
        {R"({"automation": {"policy": "automatic", "automatic_alerts": [1]}})",
         "automation.automatic_alerts must be an array of alert names"},
        {"[]", "request body must be a JSON object"},
    };
    for (const auto& [body, message] : cases) {
        EXPECT_EQ(Refusal(ParseClusterAutomationBody(body)), message) << body;
    }
}

TEST(ParseInstancePatchBody, ReadsTheFlag) {
    auto off = ParseInstancePatchBody(R"({"auto_repair": false})");
    ASSERT_TRUE(off);
    EXPECT_EQ(off->auto_repair, false);
    EXPECT_FALSE(off->clear_attention);
    auto on = ParseInstancePatchBody(R"({"auto_repair": true, "other": 1})");
    ASSERT_TRUE(on);
    EXPECT_EQ(on->auto_repair, true);
}

TEST(ParseInstancePatchBody, ClearsAttentionWithNullOnly) {
    auto clear = ParseInstancePatchBody(R"({"attention": null})");
    ASSERT_TRUE(clear);
    EXPECT_TRUE(clear->clear_attention);
    EXPECT_FALSE(clear->auto_repair.has_value());
    auto both = ParseInstancePatchBody(R"({"attention": null, "auto_repair": true})");
    ASSERT_TRUE(both);
    EXPECT_TRUE(both->clear_attention);
    EXPECT_EQ(both->auto_repair, true);
    for (const char* body : {R"({"attention": "seen"})", R"({"attention": ""})",
                             R"({"attention": false, "auto_repair": true})"}) {
        EXPECT_EQ(Refusal(ParseInstancePatchBody(body)), "'attention' can only be set to null")
            << body;
    }
}

TEST(ParseInstancePatchBody, RefusesAnythingButABoolean) {
    for (const char* body :
         {"", "{}", R"({"auto_repair": "false"})", R"({"auto_repair": 0})",
          R"({"auto_repair": null})", R"({"attention": null, "auto_repair": 1})"}) {
        EXPECT_EQ(Refusal(ParseInstancePatchBody(body)),
                  "body needs a boolean 'auto_repair' (or 'attention': null)")
            << body;
    }
}

TEST(ParseHealthCheckBody, ReadsTheTestNamesInOrder) {
    auto tests = ParseHealthCheckBody(R"({"tests": ["gpu_burn", "dcgm_diag", "gpu_burn"]})");
    ASSERT_TRUE(tests) << tests.error().message;
    EXPECT_EQ(*tests, (std::vector<std::string>{"gpu_burn", "dcgm_diag", "gpu_burn"}));
    auto none = ParseHealthCheckBody(R"({"tests": []})");
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());
}

TEST(ParseHealthCheckBody, RefusesWithTheMessagesClientsKnow) {
    for (const char* body : {"", R"({"tests": "gpu_burn"})", R"({"tests": null})"}) {
        EXPECT_EQ(Refusal(ParseHealthCheckBody(body)), "body needs 'tests': an array of test names")
            << body;
    }
    EXPECT_EQ(Refusal(ParseHealthCheckBody(R"({"tests": ["gpu_burn", 7]})")),
              "'tests' must be an array of test names");
}

TEST(ParseFaultBody, ReadsKindXidAndReason) {
    auto xid = ParseFaultBody(R"({"kind": "xid", "xid": 79})");
    ASSERT_TRUE(xid) << xid.error().message;
    EXPECT_EQ(xid->kind, "xid");
    EXPECT_EQ(xid->xid, 79);
    EXPECT_EQ(xid->reason, "");
    auto drain = ParseFaultBody(R"({"kind": "slurm_drain", "reason": "NHC: gpu"})");
    ASSERT_TRUE(drain) << drain.error().message;
    EXPECT_EQ(drain->xid, 0);
    EXPECT_EQ(drain->reason, "NHC: gpu");
}

TEST(ParseFaultBody, LeavesTheKindAndTheXidsSignToTheSimulatedFleet) {
    auto empty = ParseFaultBody("");
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->kind, "");
    auto negative = ParseFaultBody(R"({"kind": "xid", "xid": -1})");
    ASSERT_TRUE(negative);
    EXPECT_EQ(negative->xid, -1);
}

TEST(ParseFaultBody, RefusesAnXidThatIsNoInt64AndKindsThatAreNoStrings) {
    for (const char* body : {R"({"xid": 79.0})", R"({"xid": "79"})", R"({"xid": null})",
                             R"({"xid": 18446744073709551615})"}) {
        EXPECT_EQ(Refusal(ParseFaultBody(body)), "'xid' must be a positive integer") << body;
    }
    EXPECT_EQ(Refusal(ParseFaultBody(R"({"kind": 1})")), "field 'kind' must be a string");
    EXPECT_EQ(Refusal(ParseFaultBody(R"({"reason": []})")), "field 'reason' must be a string");
}

TEST(ParseCreateBody, ReadsModeAndReasonOnly) {
    auto create = ParseCreateBody(R"({"mode": "REMEDIATION_MODE_HOST_AWARE", "reason": "Xid 79"})");
    ASSERT_TRUE(create) << create.error().message;
    EXPECT_EQ(create->mode, Mode::kHostAware);
    EXPECT_EQ(create->reason, "Xid 79");
    EXPECT_EQ(create->cluster_id, "");
    EXPECT_EQ(create->remediation_id, "");
}

TEST(ParseCreateBody, NeedsAMode) {
    for (const char* body : {"", "{}", R"({"mode": null})", R"({"mode": ""})",
                             R"({"mode": "REMEDIATION_MODE_UNSPECIFIED", "reason": "r"})"}) {
        EXPECT_EQ(Refusal(ParseCreateBody(body)), "mode is required") << body;
    }
    EXPECT_EQ(Refusal(ParseCreateBody(R"({"mode": "VM_ONLY"})")), "unknown mode 'VM_ONLY'");
    EXPECT_EQ(Refusal(ParseCreateBody(R"({"mode": "REMEDIATION_MODE_VM_ONLY", "reason": 1})")),
              "field 'reason' must be a string");
}

TEST(ParseReviewBody, AnApprovalMayChangeTheMode) {
    auto review = ParseReviewBody(R"({"comment": "go", "mode": "REMEDIATION_MODE_REBOOT_VM"})",
                                  ReviewVerb::kApprove);
    ASSERT_TRUE(review) << review.error().message;
    EXPECT_EQ(review->comment, "go");
    EXPECT_EQ(review->mode, Mode::kRebootVm);
    auto keep = ParseReviewBody(R"({"comment": "", "mode": ""})", ReviewVerb::kApprove);
    ASSERT_TRUE(keep);
    EXPECT_EQ(keep->mode, std::nullopt);
    EXPECT_EQ(Refusal(ParseReviewBody(R"({"mode": "SIDEWAYS"})", ReviewVerb::kApprove)),
              "unknown mode 'SIDEWAYS'");
}

TEST(ParseReviewBody, ARejectionIgnoresAMode) {
    auto review =
        ParseReviewBody(R"({"comment": "not now", "mode": "SIDEWAYS"})", ReviewVerb::kReject);
    ASSERT_TRUE(review) << review.error().message;
    EXPECT_EQ(review->comment, "not now");
    EXPECT_EQ(review->mode, std::nullopt);
    EXPECT_EQ(Refusal(ParseReviewBody(R"({"comment": 1})", ReviewVerb::kReject)),
              "field 'comment' must be a string");
    EXPECT_EQ(Refusal(ParseReviewBody("{", ReviewVerb::kReject)).rfind("malformed JSON", 0), 0u);
}

}  // namespace
}  // namespace noderepair::api
