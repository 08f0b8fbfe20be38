#include <string>
#include <utility>
#include <vector>

#include "api/request_params.hpp"
#include "api/routes/routes.hpp"
#include "common/json.hpp"
#include "common/time.hpp"
#include "remediation/page_token.hpp"
#include "storage/store.hpp"

namespace noderepair::api {
namespace {

using auth::Role;

// docs/http-api.md 10: the record's fields as stored, detail as the very text that was hashed,
// so a client can check the chain from these pages alone.
std::string AuditPageJson(const std::vector<storage::AuditRecord>& records, const std::string& head,
                          const std::string& next_page_token) {
    std::string body;
    JsonWriter json(body);
    json.BeginObject().Key("records").BeginArray();
    for (const auto& r : records) {
        json.BeginObject()
            .Key("seq")
            .Int(r.seq)
            .Key("time")
            .String(FormatRfc3339(r.time))
            .Key("actor")
            .String(r.actor)
            .Key("action")
            .String(r.action)
            .Key("target")
            .String(r.target)
            .Key("detail")
            .String(r.detail)
            .Key("hash")
            .String(r.hash)
            .EndObject();
    }
    json.EndArray()
        .Key("head")
        .String(head)
        .Key("has_next")
        .Bool(!next_page_token.empty())
        .Key("next_page_token")
        .String(next_page_token)
        .EndObject();
    return body;
}

}  // namespace

void AddAuditRoutes(Router& router, const ApiServices& services) {
    router.Add({"GET",
                {"v1", "audit"},
                // docs/http-api.md 10: the audit spans every cluster, so a scoped token reads none.
                Access::Token(Role::kAdmin, Scope::kUnscopedOnly),
                [&services](Call& call, Responder respond) {
                    auto size = ParsePageSize(call.request, PageSizeOverflow::kClamp);
                    if (!size) return respond(ErrorResponse(size.error()));
                    const int limit = *size && **size > 0 ? **size : 50;
                    const std::string fingerprint = remediation::ShortHash("audit");
                    int64_t after_seq = 0;
                    if (auto token = SingleParam(call.request, "page_token", "pageToken");
                        token && !token->empty()) {
                        auto cursor = remediation::DecodePageToken(*token, fingerprint);
                        if (!cursor) return respond(ErrorResponse(cursor.error()));
                        after_seq = cursor->time_us;
                    }
                    std::vector<storage::AuditRecord> records;
                    storage::AuditHead head;
                    Status read = services.store.Read([&](storage::Reader& reader) -> Status {
                        // One more than a page tells whether there is a next one.
                        NR_ASSIGN_OR_RETURN(records, reader.Audit().List(after_seq, limit + 1));
                        NR_ASSIGN_OR_RETURN(head, reader.Audit().Head());
                        return OkStatus();
                    });
                    if (!read) return respond(ErrorResponse(read.error()));
                    std::string next;
                    if (int(records.size()) > limit) {
                        records.resize(size_t(limit));
                        next = remediation::EncodePageToken({records.back().seq, ""}, fingerprint);
                    }
                    respond(JsonResponse(AuditPageJson(records, head.hash, next)));
                }});
}

}  // namespace noderepair::api
