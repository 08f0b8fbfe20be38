// The bodies of the API's POST and PATCH requests, decoded into what the services take. They
// are parsers of outside input kept apart from the handlers, so the fuzzers in fuzz/ reach them
// without the services. Every refusal is INVALID_ARGUMENT with the message clients have always
// had; an empty body reads as `{}`.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "model/inventory.hpp"
#include "providers/simulated/faults.hpp"
#include "remediation/service.hpp"

namespace noderepair::api {

// PATCH /v1/compute/clusters/{c} (docs/http-api.md 5, "Cluster automation policy"):
// `{"automation": {"policy": "approve"|"automatic", "automatic_alerts": ["Name", ...]}}`.
Result<model::ClusterAutomation> ParseClusterAutomationBody(std::string_view body);

// PATCH /v1/compute/clusters/{c}/instances/{i}: `{"auto_repair": true|false}` and/or
// `{"attention": null}` (a person took note: docs/http-api.md 11).
struct InstancePatch {
    std::optional<bool> auto_repair;
    bool clear_attention = false;
};
Result<InstancePatch> ParseInstancePatchBody(std::string_view body);

// POST …/health_checks: `{"tests": ["dcgm_diag", ...]}`. The names are checked by the health
// service, which knows the tests.
Result<std::vector<std::string>> ParseHealthCheckBody(std::string_view body);

// POST /v1/sim/instances/{i}/faults: `{"kind", "xid", "reason"}`, each optional here (a missing
// xid is 0); the simulated fleet checks that the kind is known and an xid fault's xid positive.
Result<providers::simulated::Fault> ParseFaultBody(std::string_view body);

// POST …/remediations: the mode (required) and reason; the cluster, instance and idempotency
// key come from the path and query and are left empty.
Result<remediation::CreateRequest> ParseCreateBody(std::string_view body);

// POST …/remediations/{r}:approve and :reject: the comment and, for an approval only, the mode
// to carry it out in instead (a reject ignores a `mode` member).
enum class ReviewVerb { kApprove, kReject };
Result<remediation::Review> ParseReviewBody(std::string_view body, ReviewVerb verb);

// POST …/clusters/{c}/remediations:batchApprove: `{"ids": [...], "comment", "mode"}`; the ids
// must be strings (how many is the service's rule).
struct BatchApproveBody {
    std::vector<std::string> ids;
    remediation::Review review;
};
Result<BatchApproveBody> ParseBatchApproveBody(std::string_view body);

}  // namespace noderepair::api
