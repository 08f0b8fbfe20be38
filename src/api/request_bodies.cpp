#include "api/request_bodies.hpp"

#include <utility>

#include "api/codec.hpp"

namespace noderepair::api {

Result<model::ClusterAutomation> ParseClusterAutomationBody(std::string_view body) {
    NR_ASSIGN_OR_RETURN(auto object, ParseBodyObject(body));
    const auto* automation = object.if_contains("automation");
    if (automation == nullptr || !automation->is_object()) {
        return InvalidArgument("body needs an 'automation' object");
    }
    model::ClusterAutomation out;
    NR_ASSIGN_OR_RETURN(auto policy, OptionalStringField(automation->as_object(), "policy"));
    if (policy != "automatic" && policy != "approve") {
        return InvalidArgument("automation.policy must be approve or automatic");
    }
    out.automatic = policy == "automatic";
    if (const auto* names = automation->as_object().if_contains("automatic_alerts")) {
        const Error not_names =
            InvalidArgument("automation.automatic_alerts must be an array of alert names");
        if (!names->is_array()) return not_names;
        for (const auto& name : names->as_array()) {
            if (!name.is_string() || name.as_string().empty()) return not_names;
            out.automatic_alerts.emplace_back(name.as_string());
        }
    }
    return out;
}

Result<InstancePatch> ParseInstancePatchBody(std::string_view body) {
    NR_ASSIGN_OR_RETURN(auto object, ParseBodyObject(body));
    InstancePatch patch;
    const auto* attention = object.if_contains("attention");
    if (attention != nullptr) {
        // noderepair sets it; a person can only say they have seen it.
        if (!attention->is_null()) return InvalidArgument("'attention' can only be set to null");
        patch.clear_attention = true;
    }
    const auto* flag = object.if_contains("auto_repair");
    if (flag != nullptr || !patch.clear_attention) {
        if (flag == nullptr || !flag->is_bool()) {
            return InvalidArgument("body needs a boolean 'auto_repair' (or 'attention': null)");
        }
        patch.auto_repair = flag->as_bool();
    }
    return patch;
}

Result<std::vector<std::string>> ParseHealthCheckBody(std::string_view body) {
    NR_ASSIGN_OR_RETURN(auto object, ParseBodyObject(body));
    const auto* tests = object.if_contains("tests");
    if (tests == nullptr || !tests->is_array()) {
        return InvalidArgument("body needs 'tests': an array of test names");
    }
    std::vector<std::string> names;
    for (const auto& test : tests->as_array()) {
        if (!test.is_string()) return InvalidArgument("'tests' must be an array of test names");
        names.emplace_back(test.as_string());
    }
    return names;
}

Result<providers::simulated::Fault> ParseFaultBody(std::string_view body) {
    NR_ASSIGN_OR_RETURN(auto object, ParseBodyObject(body));
    providers::simulated::Fault fault;
    NR_ASSIGN_OR_RETURN(fault.kind, OptionalStringField(object, "kind"));
    if (const auto* xid = object.if_contains("xid")) {
        if (!xid->is_int64()) return InvalidArgument("'xid' must be a positive integer");
        fault.xid = xid->as_int64();
    }
    NR_ASSIGN_OR_RETURN(fault.reason, OptionalStringField(object, "reason"));
    return fault;
}

Result<remediation::CreateRequest> ParseCreateBody(std::string_view body) {
    NR_ASSIGN_OR_RETURN(auto object, ParseBodyObject(body));
    remediation::CreateRequest create;
    NR_ASSIGN_OR_RETURN(auto mode, OptionalModeField(object, "mode"));
    if (!mode) return InvalidArgument("mode is required");
    create.mode = *mode;
    NR_ASSIGN_OR_RETURN(create.reason, OptionalStringField(object, "reason"));
    return create;
}

Result<remediation::Review> ParseReviewBody(std::string_view body, ReviewVerb verb) {
    NR_ASSIGN_OR_RETURN(auto object, ParseBodyObject(body));
    remediation::Review review;
    NR_ASSIGN_OR_RETURN(review.comment, OptionalStringField(object, "comment"));
    if (verb == ReviewVerb::kApprove) {
        NR_ASSIGN_OR_RETURN(review.mode, OptionalModeField(object, "mode"));
    }
    return review;
}

Result<BatchApproveBody> ParseBatchApproveBody(std::string_view body) {
    NR_ASSIGN_OR_RETURN(auto object, ParseBodyObject(body));
    BatchApproveBody out;
    const auto* ids = object.if_contains("ids");
    const Error not_ids = InvalidArgument("body needs 'ids': an array of remediation ids");
    if (ids == nullptr || !ids->is_array()) return not_ids;
    out.ids.reserve(ids->as_array().size());
    for (const auto& id : ids->as_array()) {
        if (!id.is_string() || id.as_string().empty()) return not_ids;
        out.ids.emplace_back(id.as_string());
    }
    NR_ASSIGN_OR_RETURN(out.review, ParseReviewBody(body, ReviewVerb::kApprove));
    return out;
}

}  // namespace noderepair::api
