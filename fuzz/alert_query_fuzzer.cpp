// The query string of a cluster's alert list (GET …/clusters/{c}/health/alerts?status=...):
// percent-decoding by the target parser, then ParseAlertListRequest. A refusal is a JSON error
// body that reads back; an accepted list has a page of 1 to 1000, and the next-page token the
// server writes for it is accepted by the same list, at the same place, and refused by the list
// of another status.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "api/request_params.hpp"
#include "api/request_target.hpp"
#include "invariants.hpp"
#include "remediation/page_token.hpp"

using namespace noderepair;

namespace {

// `call` with the last `key` pair set to `value` (appended when absent).
api::Call WithParam(api::Call call, const std::string& key, const std::string& value) {
    auto& query = call.request.query;
    for (auto it = query.rbegin(); it != query.rend(); ++it) {
        if (it->first == key) {
            it->second = value;
            return call;
        }
    }
    query.emplace_back(key, value);
    return call;
}

// The request's page tokens removed, then `token` as page_token.
api::Call WithPageToken(api::Call call, const std::string& token) {
    std::erase_if(call.request.query, [](const auto& pair) {
        return pair.first == "page_token" || pair.first == "pageToken";
    });
    call.request.query.emplace_back("page_token", token);
    return call;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string target = "/v1/compute/clusters/c/health/alerts?";
    target.append(reinterpret_cast<const char*>(data), size);
    api::HttpRequest request;
    if (Status parsed = api::ParseRequestTarget(target, request); !parsed) {
        fuzz::CheckRefusal(parsed.error(), Code::kInvalidArgument, target);
        return 0;
    }
    api::Call call{std::move(request), {"c"}, {}};
    auto list = api::ParseAlertListRequest(call);
    if (!list) {
        fuzz::CheckRefusal(list.error(), Code::kInvalidArgument, target);
        return 0;
    }
    const storage::AlertQuery& query = list->query;
    if (query.cluster_id != "c") fuzz::Broken("the list is of the path's cluster", target);
    if (query.limit < 1 || query.limit > 1000) fuzz::Broken("a page holds 1 to 1000", target);

    // The token of the next page, after an alert of the input's first bytes.
    storage::Cursor cursor{0, "alert-1"};
    std::memcpy(&cursor.time_us, data, std::min(size, sizeof cursor.time_us));
    const std::string token = remediation::EncodePageToken(cursor, list->token_fingerprint);
    auto next = api::ParseAlertListRequest(WithPageToken(call, token));
    if (!next || !next->query.after || next->query.after->time_us != cursor.time_us ||
        next->query.after->id != cursor.id || next->query.firing != query.firing ||
        next->query.limit != query.limit || next->token_fingerprint != list->token_fingerprint) {
        fuzz::Broken("the next page's token reads back as the same list after the cursor", token);
    }
    const bool firing = query.firing.value_or(false);
    auto other = WithParam(WithPageToken(call, token), "status", firing ? "resolved" : "firing");
    if (api::ParseAlertListRequest(other)) {
        fuzz::Broken("a token is refused by the list of another status", target);
    }
    return 0;
}
