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

std::function<void(Result<health::IngestResult>)> ReplyWithIngest(Responder respond) {
    return [respond = std::move(respond)](Result<health::IngestResult> result) {
        if (!result) return respond(ErrorResponse(result.error()));
        respond(JsonResponse(IngestJson(*result)));
    };
}

void AddAlertRoutes(Router& router, const ApiServices& services) {
    // Health signals (docs/http-api.md 5).
    router.Add({"POST",
                {"v1", "integrations", "alertmanager"},
                Access::Token(Role::kOperator, Scope::kAlertInstances),
                [&services](Call& call, Responder respond) {
                    auto alerts = health::ParseAlertmanagerWebhook(call.request.body);
                    if (!alerts) return respond(ErrorResponse(alerts.error()));
                    // docs/http-api.md 10: alerts outside the token's clusters are dropped.
                    services.health.Ingest(std::move(*alerts), call.principal.ClusterFilter(),
                                           ReplyWithIngest(std::move(respond)));
                }});
    router.Add({"GET",
                {"v1", "compute", "clusters", "{}", "health", "alerts"},
                Access::Token(Role::kViewer, Scope::kPathCluster),
                [&services](Call& call, Responder respond) {
                    auto list = ParseAlertListRequest(call);
                    if (!list) return respond(ErrorResponse(list.error()));
                    auto page = services.health.ListAlerts(list->query);
                    if (!page) return respond(ErrorResponse(page.error()));
                    std::string next;
                    if (page->has_next) {
                        const auto& last = page->alerts.back();
                        next = remediation::EncodePageToken({ToMicros(last.started_at), last.id},
                                                            list->token_fingerprint);
                    }
                    respond(JsonResponse(AlertListJson(*page, next)));
                }});
}

}  // namespace noderepair::api
