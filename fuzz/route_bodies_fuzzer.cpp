// The bodies the route handlers decode (api/request_bodies.hpp): the first byte picks the
// endpoint, the rest is its body. A refusal is INVALID_ARGUMENT with a message, in a JSON error
// body; what a parser accepts, written back as the SDK or the CLI sends it, reads back as the
// same value, so nothing a client can send is decoded into something it could not have said.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/request_bodies.hpp"
#include "common/json.hpp"
#include "invariants.hpp"

using namespace noderepair;

namespace {

enum Endpoint : uint8_t {
    kClusterAutomation,  // PATCH /v1/compute/clusters/{c}
    kInstancePatch,      // PATCH …/instances/{i}
    kHealthCheck,        // POST …/health_checks
    kFault,              // POST /v1/sim/instances/{i}/faults
    kCreate,             // POST …/remediations
    kApprove,            // POST …/remediations/{r}/approve
    kReject,             // POST …/remediations/{r}/reject
    kEndpoints
};

// Parses `body`; a refusal is checked, an acceptance written back by `write` as a client would
// send it, parsed again and compared by `same`.
template <class Parse, class Write, class Same>
void CheckEndpoint(std::string_view body, Parse parse, Write write, Same same) {
    auto first = parse(body);
    if (!first) return fuzz::CheckRefusal(first.error(), Code::kInvalidArgument, body);
    std::string again;
    JsonWriter w(again);
    w.BeginObject();
    write(w, *first);
    w.EndObject();
    fuzz::CheckWritesStrictJson(again);
    auto second = parse(again);
    if (!second || !same(*first, *second)) {
        fuzz::Broken("an accepted body, written back, reads back as the same value", again);
    }
}

void WriteStrings(JsonWriter& w, const std::vector<std::string>& strings) {
    w.BeginArray();
    for (const auto& s : strings) w.String(s);
    w.EndArray();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % kEndpoints) {
        case kClusterAutomation:
            CheckEndpoint(
                body, &api::ParseClusterAutomationBody,
                [](JsonWriter& w, const model::ClusterAutomation& a) {
                    w.Key("automation").BeginObject();
                    w.Key("policy").String(a.automatic ? "automatic" : "approve");
                    w.Key("automatic_alerts");
                    WriteStrings(w, a.automatic_alerts);
                    w.EndObject();
                },
                [](const model::ClusterAutomation& a, const model::ClusterAutomation& b) {
                    return a.automatic == b.automatic && a.automatic_alerts == b.automatic_alerts;
                });
            break;
        case kInstancePatch:
            CheckEndpoint(
                body, &api::ParseInstancePatchBody,
                [](JsonWriter& w, const api::InstancePatch& patch) {
                    if (patch.auto_repair) w.Key("auto_repair").Bool(*patch.auto_repair);
                    if (patch.clear_attention) w.Key("attention").Null();
                },
                [](const api::InstancePatch& a, const api::InstancePatch& b) {
                    return a.auto_repair == b.auto_repair && a.clear_attention == b.clear_attention;
                });
            break;
        case kHealthCheck:
            CheckEndpoint(
                body, &api::ParseHealthCheckBody,
                [](JsonWriter& w, const std::vector<std::string>& tests) {
                    w.Key("tests");
                    WriteStrings(w, tests);
                },
                [](const auto& a, const auto& b) { return a == b; });
            break;
        case kFault:
            CheckEndpoint(
                body, &api::ParseFaultBody,
                [](JsonWriter& w, const providers::simulated::Fault& f) {
                    w.Key("kind").String(f.kind).Key("xid").Int(f.xid);
                    w.Key("reason").String(f.reason);
                },
                [](const providers::simulated::Fault& a, const providers::simulated::Fault& b) {
                    return a.kind == b.kind && a.xid == b.xid && a.reason == b.reason;
                });
            break;
        case kCreate:
            CheckEndpoint(
                body, &api::ParseCreateBody,
                [](JsonWriter& w, const remediation::CreateRequest& c) {
                    w.Key("mode").String(model::WireName(c.mode)).Key("reason").String(c.reason);
                },
                [](const remediation::CreateRequest& a, const remediation::CreateRequest& b) {
                    return a.mode == b.mode && a.reason == b.reason;
                });
            break;
        case kApprove:
        case kReject: {
            const auto verb = data[0] % kEndpoints == kApprove ? api::ReviewVerb::kApprove
                                                               : api::ReviewVerb::kReject;
            CheckEndpoint(
                body, [verb](std::string_view b) { return api::ParseReviewBody(b, verb); },
                [](JsonWriter& w, const remediation::Review& r) {
                    w.Key("comment").String(r.comment);
                    if (r.mode) w.Key("mode").String(model::WireName(*r.mode));
                },
                [](const remediation::Review& a, const remediation::Review& b) {
                    return a.comment == b.comment && a.mode == b.mode;
                });
            break;
        }
    }
    return 0;
}
