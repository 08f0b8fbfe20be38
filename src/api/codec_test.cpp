#include "api/codec.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <set>
#include <string>

#include "common/json.hpp"
#include "health/service.hpp"

namespace noderepair::api {
namespace {

namespace json = boost::json;
using model::Mode;
using model::Remediation;
using model::State;
using model::Trigger;

Timestamp T(int64_t seconds, int64_t micros = 0) {
    return FromMicros(int64_t(1'767'225'600) * 1'000'000 + seconds * 1'000'000 + micros);
}

Remediation Minimal() {
    Remediation r;
    r.id = "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b";
    r.cluster_id = "c1";
    r.instance_id = "i1";
    r.mode = Mode::kRebootVm;
    r.trigger = Trigger::kManual;
    r.state = State::kPending;
    r.create_time = T(0);
    r.update_time = T(0);
    return r;
}

Remediation Full() {
    Remediation r = Minimal();
    r.instance_name = "node-1";
    r.mode = Mode::kHostAware;
    r.requested_mode = Mode::kVmOnly;
    r.trigger = Trigger::kAutomated;
    r.state = State::kFailed;
    r.reason = "gpu \"fell\" off";
    r.active_health_check_run_id = "run-1";
    r.passive_health_check_event_id = "alert-1";
    r.requested_by = "system:health-checks";
    r.reviewed_by = "bob";
    r.review_time = T(1, 500000);
    r.review_comment = "go";
    r.update_time = T(9, 123456);
    r.start_time = T(2);
    r.end_time = T(9, 123456);
    r.error_message = "no capacity";
    return r;
}

json::object Parse(const std::string& text) {
    auto parsed = ParseStrictJson(text);
    EXPECT_TRUE(parsed) << parsed.error().message << " in " << text;
    if (!parsed || !parsed->is_object()) return {};
    return parsed->as_object();
}

std::set<std::string> Keys(const json::object& o) {
    std::set<std::string> keys;
    for (const auto& [k, v] : o) keys.emplace(k);
    return keys;
}

void ExpectNoNullOrEmptyString(const json::object& o) {
    for (const auto& [k, v] : o) {
        EXPECT_FALSE(v.is_null()) << k;
        if (v.is_string()) {
            EXPECT_FALSE(v.as_string().empty()) << k;
        }
    }
}

TEST(RemediationJson, FullRemediationHasExactlyTheContractFields) {
    const json::object o = Parse(RemediationJson(Full()));
    const std::set<std::string> expected = {"id",
                                            "cluster_id",
                                            "instance_id",
                                            "instance_name",
                                            "mode",
                                            "trigger",
                                            "state",
                                            "reason",
                                            "active_health_check_run_id",
                                            "passive_health_check_event_id",
                                            "requested_by",
                                            "reviewed_by",
                                            "review_time",
                                            "review_comment",
                                            "create_time",
                                            "update_time",
                                            "start_time",
                                            "end_time",
                                            "error_message"};
    EXPECT_EQ(Keys(o), expected);
    ExpectNoNullOrEmptyString(o);
}

TEST(RemediationJson, FullRemediationValues) {
    const json::object o = Parse(RemediationJson(Full()));
    EXPECT_EQ(o.at("id").as_string(), "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b");
    EXPECT_EQ(o.at("cluster_id").as_string(), "c1");
    EXPECT_EQ(o.at("instance_id").as_string(), "i1");
    EXPECT_EQ(o.at("instance_name").as_string(), "node-1");
    EXPECT_EQ(o.at("mode").as_string(), "REMEDIATION_MODE_HOST_AWARE");
    EXPECT_EQ(o.at("trigger").as_string(), "REMEDIATION_TRIGGER_AUTOMATED");
    EXPECT_EQ(o.at("state").as_string(), "FAILED");
    EXPECT_EQ(o.at("reason").as_string(), "gpu \"fell\" off");
    EXPECT_EQ(o.at("active_health_check_run_id").as_string(), "run-1");
    EXPECT_EQ(o.at("passive_health_check_event_id").as_string(), "alert-1");
    EXPECT_EQ(o.at("requested_by").as_string(), "system:health-checks");
    EXPECT_EQ(o.at("reviewed_by").as_string(), "bob");
    EXPECT_EQ(o.at("review_time").as_string(), "2026-01-01T00:00:01.5Z");
    EXPECT_EQ(o.at("review_comment").as_string(), "go");
    EXPECT_EQ(o.at("create_time").as_string(), "2026-01-01T00:00:00Z");
    EXPECT_EQ(o.at("update_time").as_string(), "2026-01-01T00:00:09.123456Z");
    EXPECT_EQ(o.at("start_time").as_string(), "2026-01-01T00:00:02Z");
    EXPECT_EQ(o.at("end_time").as_string(), "2026-01-01T00:00:09.123456Z");
    EXPECT_EQ(o.at("error_message").as_string(), "no capacity");
}

TEST(RemediationJson, OmitsUnsetOptionalFields) {
    const json::object o = Parse(RemediationJson(Minimal()));
    EXPECT_EQ(Keys(o), (std::set<std::string>{"id", "cluster_id", "instance_id", "mode", "trigger",
                                              "state", "create_time", "update_time"}));
    ExpectNoNullOrEmptyString(o);
}

TEST(RemediationJson, WritesEveryEnumByItsWireName) {
    Remediation r = Minimal();
    const std::pair<Mode, const char*> modes[] = {
        {Mode::kVmOnly, "REMEDIATION_MODE_VM_ONLY"},
        {Mode::kHostAware, "REMEDIATION_MODE_HOST_AWARE"},
        {Mode::kEvictWithoutReplacement, "REMEDIATION_MODE_EVICT_WITHOUT_REPLACEMENT"},
        {Mode::kRebootVm, "REMEDIATION_MODE_REBOOT_VM"},
        {Mode::kHostPowerCycle, "REMEDIATION_MODE_HOST_POWER_CYCLE"}};
    for (const auto& [mode, name] : modes) {
        r.mode = mode;
        EXPECT_EQ(Parse(RemediationJson(r)).at("mode").as_string(), name);
    }
    const std::pair<State, const char*> states[] = {{State::kPendingApproval, "PENDING_APPROVAL"},
                                                    {State::kPending, "PENDING"},
                                                    {State::kQuarantining, "QUARANTINING"},
                                                    {State::kQuarantined, "QUARANTINED"},
                                                    {State::kRunning, "RUNNING"},
                                                    {State::kSucceeded, "SUCCEEDED"},
                                                    {State::kFailed, "FAILED"},
                                                    {State::kCancelled, "CANCELLED"},
                                                    {State::kAutoResolved, "AUTO_RESOLVED"}};
    for (const auto& [state, name] : states) {
        r.state = state;
        EXPECT_EQ(Parse(RemediationJson(r)).at("state").as_string(), name);
    }
    r.trigger = Trigger::kManual;
    EXPECT_EQ(Parse(RemediationJson(r)).at("trigger").as_string(), "REMEDIATION_TRIGGER_MANUAL");
}

TEST(RemediationJson, TimestampsEndInZWithAtMostMicroseconds) {
    Remediation r = Full();
    r.create_time = T(0, 1);
    const json::object o = Parse(RemediationJson(r));
    for (const char* key :
         {"create_time", "update_time", "start_time", "end_time", "review_time"}) {
        const std::string value(o.at(key).as_string());
        EXPECT_EQ(value.back(), 'Z') << key;
        EXPECT_TRUE(ParseRfc3339(value)) << key << ": " << value;
    }
    EXPECT_EQ(o.at("create_time").as_string(), "2026-01-01T00:00:00.000001Z");
}

TEST(RemediationListJson, EmptyLastPage) {
    remediation::ListResult list;
    const json::object o = Parse(RemediationListJson(list));
    EXPECT_EQ(Keys(o), (std::set<std::string>{"remediations", "has_next", "next_page_token"}));
    EXPECT_TRUE(o.at("remediations").as_array().empty());
    EXPECT_FALSE(o.at("has_next").as_bool());
    EXPECT_EQ(o.at("next_page_token").as_string(), "");
}

TEST(RemediationListJson, PageWithNext) {
    remediation::ListResult list;
    list.remediations = {Minimal(), Full()};
    list.remediations[1].id = "second";
    list.has_next = true;
    list.next_page_token = "tok";
    const json::object o = Parse(RemediationListJson(list));
    const auto& items = o.at("remediations").as_array();
    ASSERT_EQ(items.size(), 2u);
    EXPECT_EQ(items[0].at("id").as_string(), "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b");
    EXPECT_EQ(items[1].at("id").as_string(), "second");
    EXPECT_TRUE(o.at("has_next").as_bool());
    EXPECT_EQ(o.at("next_page_token").as_string(), "tok");
}

TEST(EventsJson, StateChangeAndStepEvents) {
    std::vector<model::RemediationEvent> events = {
        {T(0), "state_change", State::kPending, "", "alice", "created"},
        {T(1, 5), "step", std::nullopt, "cordon", "engine", ""},
    };
    const json::object o = Parse(EventsJson(events));
    const auto& list = o.at("events").as_array();
    ASSERT_EQ(list.size(), 2u);
    const auto& first = list[0].as_object();
    EXPECT_EQ(Keys(first), (std::set<std::string>{"time", "type", "state", "actor", "detail"}));
    EXPECT_EQ(first.at("state").as_string(), "PENDING");
    EXPECT_EQ(first.at("time").as_string(), "2026-01-01T00:00:00Z");
    const auto& second = list[1].as_object();
    EXPECT_EQ(Keys(second), (std::set<std::string>{"time", "type", "step", "actor"}));
    EXPECT_EQ(second.at("step").as_string(), "cordon");
    EXPECT_EQ(second.at("time").as_string(), "2026-01-01T00:00:01.000005Z");
}

TEST(ClusterJson, NodesWithAndWithoutAVm) {
    model::Cluster c{"c1", "one", "Ready", {}};
    model::Instance placed;
    placed.instance_id = "i1";
    placed.instance_name = "node-1";
    placed.num_gpus = 8;
    placed.host_name = "h1";
    placed.status = "Ready";
    placed.latest_remediation = Minimal();
    model::Instance evicted;
    evicted.instance_id = "i2";
    evicted.instance_name = "node-2";
    evicted.num_gpus = 4;
    evicted.status = "Evicted";
    c.gpu_worker_nodes = {placed, evicted};
    const json::object o = Parse(ClusterJson(c));
    EXPECT_EQ(o.at("cluster_id").as_string(), "c1");
    EXPECT_EQ(o.at("cluster_name").as_string(), "one");
    const auto& nodes = o.at("gpu_worker_nodes").as_array();
    ASSERT_EQ(nodes.size(), 2u);
    EXPECT_EQ(nodes[0].at("node_name").as_string(), "node-1");
    EXPECT_EQ(nodes[0].at("host_name").as_string(), "h1");
    EXPECT_EQ(nodes[0].at("num_gpus").as_int64(), 8);
    EXPECT_EQ(nodes[0].at("latest_remediation").at("state").as_string(), "PENDING");
    EXPECT_FALSE(nodes[1].as_object().contains("host_name"));
    EXPECT_FALSE(nodes[1].as_object().contains("latest_remediation"));
    EXPECT_EQ(nodes[1].at("status").as_string(), "Evicted");
}

TEST(HostListJson, HostFields) {
    std::vector<model::Host> hosts = {{"h1", 8, 4, true, {{"i1", "c1"}}}, {"h2", 8, 0, false, {}}};
    const json::object o = Parse(HostListJson(hosts));
    const auto& list = o.at("hosts").as_array();
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(Keys(list[0].as_object()),
              (std::set<std::string>{"host_name", "gpu_slots", "used_gpus", "cordoned", "instances",
                                     "suspect"}));
    EXPECT_EQ(list[0].at("used_gpus").as_int64(), 4);
    EXPECT_TRUE(list[0].at("cordoned").as_bool());
    EXPECT_EQ(list[0].at("instances").as_array().at(0).as_string(), "i1");
    EXPECT_TRUE(list[1].at("instances").as_array().empty());
    EXPECT_FALSE(list[0].at("suspect").as_bool());
}

// docs/http-api.md 11: rack and suspicion in the list; one host adds its ledger, signals apart
// from remediations.
TEST(HostJson, RackSuspicionAndTheLedger) {
    model::Host h{"h1", 8, 8, true, {{"i1", "c1"}}};
    h.rack = "r12";
    h.suspect = "2 different instances";
    const Timestamp t = FromMicros(1'700'000'000'000'000);
    const json::object o = Parse(HostJson(h, {{"h1", "r12", "c1", "i2", "mode-x", "rem-1", t},
                                              {"h1", "r12", "c1", "i1", "DmesgXidError", "", t}}));
    EXPECT_EQ(o.at("rack").as_string(), "r12");
    EXPECT_TRUE(o.at("suspect").as_bool());
    EXPECT_EQ(o.at("suspect_reason").as_string(), "2 different instances");
    const auto& faults = o.at("faults").as_array();
    ASSERT_EQ(faults.size(), 1u);
    EXPECT_EQ(faults[0].at("instance").as_string(), "i1");
    EXPECT_EQ(faults[0].at("instance_id").as_string(), "i1");
    EXPECT_EQ(faults[0].at("alertname").as_string(), "DmesgXidError");
    EXPECT_EQ(faults[0].at("time").as_string(), "2023-11-14T22:13:20Z");
    const auto& remediations = o.at("remediations").as_array();
    ASSERT_EQ(remediations.size(), 1u);
    EXPECT_EQ(remediations[0].at("id").as_string(), "rem-1");
    EXPECT_EQ(remediations[0].at("mode").as_string(), "mode-x");
}

TEST(ParseBodyObject, EmptyOrBlankBodyIsAnEmptyObject) {
    for (const char* body : {"", " ", "\r\n\t "}) {
        auto parsed = ParseBodyObject(body);
        ASSERT_TRUE(parsed) << "'" << body << "': " << parsed.error().message;
        EXPECT_TRUE(parsed->empty());
    }
}

TEST(ParseBodyObject, ObjectIsReturned) {
    auto parsed = ParseBodyObject(R"({"mode": "REMEDIATION_MODE_VM_ONLY", "reason": "r"})");
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->at("reason").as_string(), "r");
}

TEST(ParseBodyObject, RejectsNonObjectsAndBadJson) {
    for (const char* body : {"[]", "[{}]", "null", "\"text\"", "1", "true", "{", "{}}",
                             R"({"a": 1, "a": 2})", R"({"n": 1e400})"}) {
        auto parsed = ParseBodyObject(body);
        ASSERT_FALSE(parsed) << "accepted " << body;
        EXPECT_EQ(parsed.error().code, Code::kInvalidArgument) << body;
    }
}

TEST(IngestJson, CountsAlertsCreationsAndOutOfScopeOnly) {
    health::IngestResult result;
    result.alerts = 3;
    result.remediations_created = 1;
    result.ignored = 2;
    result.out_of_scope = 4;
    EXPECT_EQ(IngestJson(result), R"({"alerts":3,"remediations_created":1,"out_of_scope":4})");
}

json::object Body(const char* text) { return json::parse(text).as_object(); }

TEST(OptionalStringField, MissingOrNullIsEmpty) {
    auto missing = OptionalStringField(Body(R"({"other": 1})"), "reason");
    ASSERT_TRUE(missing);
    EXPECT_EQ(*missing, "");
    auto null = OptionalStringField(Body(R"({"reason": null})"), "reason");
    ASSERT_TRUE(null);
    EXPECT_EQ(*null, "");
}

TEST(OptionalStringField, ReturnsTheString) {
    auto got = OptionalStringField(Body(R"({"reason": "disk \"full\""})"), "reason");
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, "disk \"full\"");
}

TEST(OptionalStringField, RejectsOtherTypes) {
    for (const char* body : {R"({"reason": 1})", R"({"reason": true})", R"({"reason": []})",
                             R"({"reason": {}})", R"({"reason": 1.5})"}) {
        auto got = OptionalStringField(Body(body), "reason");
        ASSERT_FALSE(got) << body;
        EXPECT_EQ(got.error().code, Code::kInvalidArgument);
        EXPECT_NE(got.error().message.find("reason"), std::string::npos);
    }
}

TEST(OptionalModeField, MissingNullEmptyOrUnspecifiedIsUnset) {
    for (const char* body : {R"({})", R"({"mode": null})", R"({"mode": ""})",
                             R"({"mode": "REMEDIATION_MODE_UNSPECIFIED"})"}) {
        auto got = OptionalModeField(Body(body), "mode");
        ASSERT_TRUE(got) << body;
        EXPECT_FALSE(got->has_value()) << body;
    }
}

TEST(OptionalModeField, ParsesEveryMode) {
    const std::pair<const char*, Mode> modes[] = {
        {R"({"mode": "REMEDIATION_MODE_VM_ONLY"})", Mode::kVmOnly},
        {R"({"mode": "REMEDIATION_MODE_HOST_AWARE"})", Mode::kHostAware},
        {R"({"mode": "REMEDIATION_MODE_EVICT_WITHOUT_REPLACEMENT"})",
         Mode::kEvictWithoutReplacement},
        {R"({"mode": "REMEDIATION_MODE_REBOOT_VM"})", Mode::kRebootVm},
        {R"({"mode": "REMEDIATION_MODE_HOST_POWER_CYCLE"})", Mode::kHostPowerCycle}};
    for (const auto& [body, mode] : modes) {
        auto got = OptionalModeField(Body(body), "mode");
        ASSERT_TRUE(got) << body;
        EXPECT_EQ(*got, mode) << body;
    }
}

TEST(OptionalModeField, RejectsUnknownNamesAndOtherTypes) {
    for (const char* body :
         {R"({"mode": "VM_ONLY"})", R"({"mode": "remediation_mode_vm_only"})",
          R"({"mode": "REMEDIATION_MODE_VM_ONLY "})", R"({"mode": 1})", R"({"mode": true})",
          R"({"mode": ["REMEDIATION_MODE_VM_ONLY"]})", R"({"mode": {}})"}) {
        auto got = OptionalModeField(Body(body), "mode");
        ASSERT_FALSE(got) << body;
        EXPECT_EQ(got.error().code, Code::kInvalidArgument) << body;
    }
}

}  // namespace
}  // namespace noderepair::api
