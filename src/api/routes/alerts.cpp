#include <string>
#include <utility>

#include "api/codec.hpp"
#include "api/request_params.hpp"
#include "api/routes/routes.hpp"
#include "common/time.hpp"
#include "health/alertmanager.hpp"
#include "health/service.hpp"
#include "remediation/page_token.hpp"
#include "storage/store.hpp"

namespace noderepair::api {

using auth::Role;

void AddAlertRoutes(Router& router, const ApiServices& services) {
    // Health signals (docs/http-api.md 5).
    router.Add({"POST",
                {"v1", "integrations", "alertmanager"},
                Role::kOperator,
                [&services](Call& call, Responder respond) {
                    auto alerts = health::ParseAlertmanagerWebhook(call.request.body);
                    if (!alerts) return respond(ErrorResponse(alerts.error()));
                    services.health.Ingest(std::move(*alerts), [respond](auto result) {
                        if (!result) return respond(ErrorResponse(result.error()));
                        respond(JsonResponse(IngestJson(*result)));
                    });
                }});
    router.Add({"GET",
                {"v1", "compute", "clusters", "{}", "health", "alerts"},
                Role::kViewer,
                [&services](Call& call, Responder respond) {
                    storage::AlertQuery query;
                    query.cluster_id = call.params[0];
                    auto status = SingleParam(call.request, "status", "status");
                    if (status && *status == "firing") {
                        query.firing = true;
                    } else if (status && *status == "resolved") {
                        query.firing = false;
                    } else if (status && !status->empty()) {
                        return respond(
                            ErrorResponse(InvalidArgument("status must be firing or resolved")));
                    }
                    // This list has always given one message for every bad page_size.
                    auto size = ParsePageSize(call.request, PageSizeOverflow::kRefuse);
                    if (!size) {
                        return respond(ErrorResponse(
                            InvalidArgument("page_size must be a non-negative integer")));
                    }
                    if (*size) query.limit = **size == 0 ? 50 : **size;
                    const std::string fingerprint =
                        "alerts\n" + query.cluster_id + "\n" + (status ? *status : "");
                    if (auto token = SingleParam(call.request, "page_token", "pageToken");
                        token && !token->empty()) {
                        auto cursor = remediation::DecodePageToken(
                            *token, remediation::ShortHash(fingerprint));
                        if (!cursor) return respond(ErrorResponse(cursor.error()));
                        query.after = *cursor;
                    }
                    auto page = services.health.ListAlerts(query);
                    if (!page) return respond(ErrorResponse(page.error()));
                    std::string next;
                    if (page->has_next) {
                        const auto& last = page->alerts.back();
                        next = remediation::EncodePageToken({ToMicros(last.started_at), last.id},
                                                            remediation::ShortHash(fingerprint));
                    }
                    respond(JsonResponse(AlertListJson(*page, next)));
                }});
}

}  // namespace noderepair::api
