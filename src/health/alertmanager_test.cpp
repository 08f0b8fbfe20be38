#include "health/alertmanager.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace noderepair::health {
namespace {

// Verbatim copies of tests/fixtures/alertmanager, captured from a real Alertmanager 0.25.
constexpr const char* kFiringFixture = R"json({
  "receiver": "remediation",
  "status": "firing",
  "alerts": [
    {
      "status": "firing",
      "labels": {
        "alertname": "GPUXidError",
        "node": "gpu-node-01",
        "severity": "critical",
        "xid": "79"
      },
      "annotations": {
        "remediation": "reboot",
        "summary": "XID 79 on gpu-node-01"
      },
      "startsAt": "2026-11-28T17:51:21Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=xid",
      "fingerprint": "6756b5c067b78a81"
    }
  ],
  "groupLabels": {
    "alertname": "GPUXidError",
    "node": "gpu-node-01"
  },
  "commonLabels": {
    "alertname": "GPUXidError",
    "node": "gpu-node-01",
    "severity": "critical",
    "xid": "79"
  },
  "commonAnnotations": {
    "remediation": "reboot",
    "summary": "XID 79 on gpu-node-01"
  },
  "externalURL": "http://vm:19093",
  "version": "4",
  "groupKey": "{}:{alertname=\"GPUXidError\", node=\"gpu-node-01\"}",
  "truncatedAlerts": 0
}
)json";

constexpr const char* kFiringGroupWithResolvedFixture = R"json({
  "receiver": "remediation",
  "status": "firing",
  "alerts": [
    {
      "status": "firing",
      "labels": {
        "alertname": "NodeDown",
        "node": "n1"
      },
      "annotations": {},
      "startsAt": "2026-11-28T17:52:00Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "",
      "fingerprint": "9a824ff0fc9ac0b5"
    },
    {
      "status": "resolved",
      "labels": {
        "alertname": "NodeDown",
        "node": "n2"
      },
      "annotations": {},
      "startsAt": "2026-11-28T17:52:00Z",
      "endsAt": "2026-11-28T17:52:03Z",
      "generatorURL": "",
      "fingerprint": "9a8c4ff0fca3153a"
    }
  ],
  "groupLabels": {
    "alertname": "NodeDown"
  },
  "commonLabels": {
    "alertname": "NodeDown"
  },
  "commonAnnotations": {},
  "externalURL": "http://vm:19093",
  "version": "4",
  "groupKey": "{}:{alertname=\"NodeDown\"}",
  "truncatedAlerts": 0
}
)json";

// 2026-11-28 at h:m:s UTC.
Timestamp Nov28(int h, int m, int s) {
    using namespace std::chrono;
    return time_point_cast<microseconds>(sys_days(year(2026) / November / 28) + hours(h) +
                                         minutes(m) + seconds(s));
}

// A version 4 payload whose only alert is `alert` (a JSON object's text).
std::string WithAlert(const std::string& alert) {
    return R"({"version": "4", "status": "firing", "alerts": [)" + alert + "]}";
}

void ExpectInvalid(const std::string& body) {
    auto parsed = ParseAlertmanagerWebhook(body);
    ASSERT_FALSE(parsed) << "accepted: " << body;
    EXPECT_EQ(parsed.error().code, Code::kInvalidArgument) << body;
    EXPECT_FALSE(parsed.error().message.empty());
}

TEST(AlertmanagerWebhook, ParsesTheFiringFixture) {
    auto parsed = ParseAlertmanagerWebhook(kFiringFixture);
    ASSERT_TRUE(parsed) << parsed.error().message;
    ASSERT_EQ(parsed->size(), 1u);
    const IncomingAlert& a = (*parsed)[0];
    EXPECT_TRUE(a.firing);
    const std::map<std::string, std::string> labels = {{"alertname", "GPUXidError"},
                                                       {"node", "gpu-node-01"},
                                                       {"severity", "critical"},
                                                       {"xid", "79"}};
    EXPECT_EQ(a.labels, labels);
    const std::map<std::string, std::string> annotations = {{"remediation", "reboot"},
                                                            {"summary", "XID 79 on gpu-node-01"}};
    EXPECT_EQ(a.annotations, annotations);
    EXPECT_EQ(a.starts_at, Nov28(17, 51, 21));
    EXPECT_FALSE(a.ends_at) << "0001-01-01T00:00:00Z means not yet";
    EXPECT_EQ(a.fingerprint, "6756b5c067b78a81");
}

TEST(AlertmanagerWebhook, HonoursEachAlertsOwnStatusInAFiringGroup) {
    auto parsed = ParseAlertmanagerWebhook(kFiringGroupWithResolvedFixture);
    ASSERT_TRUE(parsed) << parsed.error().message;
    ASSERT_EQ(parsed->size(), 2u);
    const IncomingAlert& firing = (*parsed)[0];
    const IncomingAlert& resolved = (*parsed)[1];
    EXPECT_TRUE(firing.firing);
    EXPECT_EQ(firing.labels.at("node"), "n1");
    EXPECT_EQ(firing.starts_at, Nov28(17, 52, 0));
    EXPECT_FALSE(firing.ends_at);
    EXPECT_EQ(firing.fingerprint, "9a824ff0fc9ac0b5");
    EXPECT_TRUE(firing.annotations.empty());

    EXPECT_FALSE(resolved.firing);
    EXPECT_EQ(resolved.labels.at("node"), "n2");
    EXPECT_EQ(resolved.starts_at, Nov28(17, 52, 0));
    ASSERT_TRUE(resolved.ends_at);
    EXPECT_EQ(*resolved.ends_at, Nov28(17, 52, 3));
    EXPECT_EQ(resolved.fingerprint, "9a8c4ff0fca3153a");
}

TEST(AlertmanagerWebhook, ResolvedStatusOfAGroupDoesNotResolveFiringAlerts) {
    auto parsed = ParseAlertmanagerWebhook(
        R"({"version":"4","status":"resolved","alerts":[{"status":"firing",)"
        R"("labels":{"alertname":"A"},"startsAt":"2026-11-28T17:52:00Z"}]})");
    ASSERT_TRUE(parsed) << parsed.error().message;
    ASSERT_EQ(parsed->size(), 1u);
    EXPECT_TRUE((*parsed)[0].firing);
}

TEST(AlertmanagerWebhook, EmptyAlertsIsWellFormed) {
    auto parsed = ParseAlertmanagerWebhook(R"({"version":"4","alerts":[]})");
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_TRUE(parsed->empty());
}

TEST(AlertmanagerWebhook, MinimalAlertParses) {
    auto parsed =
        ParseAlertmanagerWebhook(WithAlert(R"({"status":"firing","labels":{"alertname":"A"},)"
                                           R"("startsAt":"2026-11-28T17:52:00.5+01:00"})"));
    ASSERT_TRUE(parsed) << parsed.error().message;
    ASSERT_EQ(parsed->size(), 1u);
    EXPECT_TRUE((*parsed)[0].annotations.empty());
    EXPECT_EQ((*parsed)[0].starts_at, Nov28(16, 52, 0) + std::chrono::milliseconds(500));
    EXPECT_FALSE((*parsed)[0].ends_at);
}

TEST(AlertmanagerWebhook, FiringAlertWithAFutureEndsAtKeepsIt) {
    // Alertmanager sets endsAt to its resolve timeout on firing alerts; the status decides.
    auto parsed = ParseAlertmanagerWebhook(
        WithAlert(R"({"status":"firing","labels":{"alertname":"A"},)"
                  R"("startsAt":"2026-11-28T17:52:00Z","endsAt":"2026-11-28T17:57:00Z"})"));
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_TRUE((*parsed)[0].firing);
    ASSERT_TRUE((*parsed)[0].ends_at);
    EXPECT_EQ(*(*parsed)[0].ends_at, Nov28(17, 57, 0));
}

TEST(AlertmanagerWebhook, ResolvedAlertWithoutEndsAtHasNoEnd) {
    auto parsed = ParseAlertmanagerWebhook(
        WithAlert(R"({"status":"resolved","labels":{"alertname":"A"},)"
                  R"("startsAt":"2026-11-28T17:52:00Z","endsAt":"0001-01-01T00:00:00Z"})"));
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_FALSE((*parsed)[0].firing);
    EXPECT_FALSE((*parsed)[0].ends_at);
}

TEST(AlertmanagerWebhook, MalformedDocumentsAreInvalidArgument) {
    for (const char* body : {"", "not json", "{", "[]", "null", "\"alerts\"", "4",
                             R"({"version":"4","alerts":[]} trailing)",
                             R"({"version":"4","alerts":[],"alerts":[]})"}) {
        SCOPED_TRACE(body);
        ExpectInvalid(body);
    }
}

TEST(AlertmanagerWebhook, WrongVersionIsInvalidArgument) {
    for (const char* body : {R"({"version":"3","alerts":[]})", R"({"version":4,"alerts":[]})",
                             R"({"version":null,"alerts":[]})", R"({"version":"","alerts":[]})",
                             R"({"version":"4.0","alerts":[]})"}) {
        SCOPED_TRACE(body);
        ExpectInvalid(body);
    }
}

TEST(AlertmanagerWebhook, MissingOrNonArrayAlertsIsInvalidArgument) {
    for (const char* body : {R"({"version":"4"})", R"({"version":"4","alerts":null})",
                             R"({"version":"4","alerts":{}})", R"({"version":"4","alerts":"a"})",
                             R"({"version":"4","alerts":1})"}) {
        SCOPED_TRACE(body);
        ExpectInvalid(body);
    }
}

TEST(AlertmanagerWebhook, MalformedAlertsAreInvalidArgument) {
    const std::string ok_start = R"("startsAt":"2026-11-28T17:52:00Z")";
    const std::string ok_labels = R"("labels":{"alertname":"A"})";
    const std::vector<std::string> bad_alerts = {
        "1",
        "\"alert\"",
        "null",
        "[]",
        // status
        "{" + ok_labels + "," + ok_start + "}",
        R"({"status":"pending",)" + ok_labels + "," + ok_start + "}",
        R"({"status":"FIRING",)" + ok_labels + "," + ok_start + "}",
        R"({"status":1,)" + ok_labels + "," + ok_start + "}",
        R"({"status":null,)" + ok_labels + "," + ok_start + "}",
        // labels
        R"({"status":"firing",)" + ok_start + "}",
        R"({"status":"firing","labels":{},)" + ok_start + "}",
        R"({"status":"firing","labels":null,)" + ok_start + "}",
        R"({"status":"firing","labels":[],)" + ok_start + "}",
        R"({"status":"firing","labels":"alertname=A",)" + ok_start + "}",
        R"({"status":"firing","labels":{"alertname":1},)" + ok_start + "}",
        R"({"status":"firing","labels":{"alertname":"A","xid":79},)" + ok_start + "}",
        R"({"status":"firing","labels":{"alertname":"A","node":null},)" + ok_start + "}",
        R"({"status":"firing","labels":{"alertname":"A","n":{}},)" + ok_start + "}",
        // annotations
        R"({"status":"firing",)" + ok_labels + R"(,"annotations":[],)" + ok_start + "}",
        R"({"status":"firing",)" + ok_labels + R"(,"annotations":"x",)" + ok_start + "}",
        R"({"status":"firing",)" + ok_labels + R"(,"annotations":{"summary":1},)" + ok_start + "}",
        R"({"status":"firing",)" + ok_labels + R"(,"annotations":{"s":true},)" + ok_start + "}",
        // startsAt
        R"({"status":"firing",)" + ok_labels + "}",
        R"({"status":"firing",)" + ok_labels + R"(,"startsAt":null})",
        R"({"status":"firing",)" + ok_labels + R"(,"startsAt":1764352320})",
        R"({"status":"firing",)" + ok_labels + R"(,"startsAt":""})",
        R"({"status":"firing",)" + ok_labels + R"(,"startsAt":"yesterday"})",
        R"({"status":"firing",)" + ok_labels + R"(,"startsAt":"2026-11-28 17:52:00"})",
        R"({"status":"firing",)" + ok_labels + R"(,"startsAt":"2026-13-28T17:52:00Z"})",
        // fingerprint
        R"({"status":"firing",)" + ok_labels + "," + ok_start + R"(,"fingerprint":42})",
        R"({"status":"firing",)" + ok_labels + "," + ok_start + R"(,"fingerprint":{}})",
    };
    for (const auto& alert : bad_alerts) {
        SCOPED_TRACE(alert);
        ExpectInvalid(WithAlert(alert));
    }
}

TEST(AlertmanagerWebhook, OneMalformedAlertRejectsTheWholePayload) {
    ExpectInvalid(R"({"version":"4","alerts":[)"
                  R"({"status":"firing","labels":{"alertname":"A"},)"
                  R"("startsAt":"2026-11-28T17:52:00Z"},)"
                  R"({"status":"firing","labels":{"alertname":"B"}}]})");
}

TEST(AlertmanagerWebhook, MalformedEndsAtIsInvalidArgument) {
    for (const char* ends : {R"("yesterday")", "1764352323", "{}", R"("2026-11-28")"}) {
        SCOPED_TRACE(ends);
        ExpectInvalid(WithAlert(std::string(R"({"status":"resolved","labels":{"alertname":"A"},)") +
                                R"("startsAt":"2026-11-28T17:52:00Z","endsAt":)" + ends + "}"));
    }
}

TEST(AlertmanagerWebhook, MissingFingerprintIsTheFingerprintOfTheLabels) {
    const std::string body =
        WithAlert(R"({"status":"firing","labels":{"alertname":"NodeDown","node":"n1"},)"
                  R"("startsAt":"2026-11-28T17:52:00Z"})");
    auto parsed = ParseAlertmanagerWebhook(body);
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ((*parsed)[0].fingerprint, FingerprintOf({{"alertname", "NodeDown"}, {"node", "n1"}}));

    auto empty = ParseAlertmanagerWebhook(
        WithAlert(R"({"status":"firing","labels":{"alertname":"NodeDown","node":"n1"},)"
                  R"("startsAt":"2026-11-28T17:52:00Z","fingerprint":""})"));
    ASSERT_TRUE(empty) << empty.error().message;
    EXPECT_EQ((*empty)[0].fingerprint, (*parsed)[0].fingerprint);
}

TEST(AlertmanagerWebhook, DerivedFingerprintIgnoresLabelOrderAnnotationsAndTimes) {
    auto a = ParseAlertmanagerWebhook(WithAlert(
        R"({"status":"firing","labels":{"alertname":"NodeDown","node":"n1","severity":"critical"},)"
        R"("annotations":{"summary":"one"},"startsAt":"2026-11-28T17:52:00Z"})"));
    auto b = ParseAlertmanagerWebhook(WithAlert(
        R"({"status":"resolved","labels":{"severity":"critical","node":"n1","alertname":"NodeDown"},)"
        R"("annotations":{"summary":"two"},"startsAt":"2026-11-28T18:00:00Z",)"
        R"("endsAt":"2026-11-28T18:05:00Z"})"));
    ASSERT_TRUE(a) << a.error().message;
    ASSERT_TRUE(b) << b.error().message;
    EXPECT_EQ((*a)[0].fingerprint, (*b)[0].fingerprint);
}

TEST(AlertmanagerFingerprint, IsStableAcrossReleases) {
    // Stored alerts are found again by it: the derivation must never change.
    EXPECT_EQ(FingerprintOf({{"alertname", "NodeDown"}, {"node", "n1"}}), "18672d0e1ddfd9b7");
}

TEST(AlertmanagerFingerprint, IsSixteenLowercaseHexDigits) {
    for (const auto& labels : std::vector<std::map<std::string, std::string>>{
             {}, {{"alertname", "A"}}, {{"alertname", "A"}, {"node", "n\xc3\xa9"}}}) {
        const std::string fp = FingerprintOf(labels);
        ASSERT_EQ(fp.size(), 16u);
        for (char c : fp) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << fp;
        EXPECT_EQ(FingerprintOf(labels), fp);
    }
}

TEST(AlertmanagerFingerprint, DiffersForDifferentLabelSets) {
    const std::vector<std::map<std::string, std::string>> sets = {
        {{"alertname", "NodeDown"}, {"node", "n1"}},
        {{"alertname", "NodeDown"}, {"node", "n2"}},
        {{"alertname", "NodeDown"}},
        {{"alertname", "NodeDown"}, {"node", "n1"}, {"severity", "critical"}},
        {{"ab", "c"}},
        {{"a", "bc"}},
        {{"a", ""}, {"b", ""}},
        {{"a", "b"}},
    };
    for (size_t i = 0; i < sets.size(); ++i) {
        for (size_t j = i + 1; j < sets.size(); ++j) {
            EXPECT_NE(FingerprintOf(sets[i]), FingerprintOf(sets[j])) << i << " vs " << j;
        }
    }
}

}  // namespace
}  // namespace noderepair::health
