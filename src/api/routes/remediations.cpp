#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "api/codec.hpp"
#include "api/request_bodies.hpp"
#include "api/request_params.hpp"
#include "api/routes/routes.hpp"
#include "api/watch_hub.hpp"
#include "remediation/service.hpp"
#include "storage/store.hpp"

namespace noderepair::api {
namespace {

using auth::Role;
using model::Remediation;

remediation::Address AddressOf(const Call& call) {
    return {call.params[0], call.params[1], call.params[2]};
}

// Turns a service's reply into an HTTP response.
remediation::Reply<Remediation> ReplyWithRemediation(Responder respond) {
    return [respond = std::move(respond)](Result<Remediation> result) {
        if (!result) return respond(ErrorResponse(result.error()));
        respond(JsonResponse(RemediationJson(*result)));
    };
}

}  // namespace

void AddRemediationRoutes(Router& router, const ApiServices& services) {
    // Every remediation route is scoped by the cluster in its path.
    constexpr Access kView = Access::Token(Role::kViewer, Scope::kPathCluster);
    constexpr Access kOperate = Access::Token(Role::kOperator, Scope::kPathCluster);
    constexpr Access kReview = Access::Token(Role::kApprover, Scope::kPathCluster);
    const std::vector<std::string> kRemediations = {"v1",        "compute", "clusters",    "{}",
                                                    "instances", "{}",      "remediations"};
    auto remediation_path = [&](std::initializer_list<std::string> tail) {
        std::vector<std::string> p = kRemediations;
        p.insert(p.end(), tail);
        return p;
    };

    // Remediations (docs/http-api.md 4.1-4.6, 4.8).
    router.Add({.method = "POST",
                .pattern = kRemediations,
                .access = kOperate,
                .handler =
                    [&services](Call& call, Responder respond) {
                        auto body = ParseCreateBody(call.request.body);
                        if (!body) return respond(ErrorResponse(body.error()));
                        remediation::CreateRequest create = std::move(*body);
                        create.cluster_id = call.params[0];
                        create.instance_id = call.params[1];
                        if (auto id =
                                SingleParam(call.request, "remediation_id", "remediationId")) {
                            create.remediation_id = *id;
                        }
                        services.remediations.Create(call.principal, std::move(create),
                                                     ReplyWithRemediation(std::move(respond)));
                    },
                .queues_write = true});
    router.Add({.method = "GET",
                .pattern = kRemediations,
                .access = kView,
                .handler =
                    [&services](Call& call, Responder respond) {
                        auto list = ParseListRequest(call);
                        if (!list) return respond(ErrorResponse(list.error()));
                        services.remediations.List(
                            *list,
                            [respond = std::move(respond)](Result<remediation::ListResult> page) {
                                if (!page) return respond(ErrorResponse(page.error()));
                                respond(JsonResponse(RemediationListJson(*page)));
                            });
                    },
                .reads_coalesced = true});
    router.Add({.method = "GET",
                .pattern = remediation_path({"{}"}),
                .access = kView,
                .handler =
                    [&services](Call& call, Responder respond) {
                        services.remediations.Get(
                            AddressOf(call), [respond = std::move(respond)](Result<Remediation> r) {
                                if (!r) return respond(ErrorResponse(r.error()));
                                respond(JsonResponse(RemediationJson(*r)));
                            });
                    },
                .reads_coalesced = true});
    router.Add({"POST", remediation_path({"{}", "approve"}), kReview,
                [&services](Call& call, Responder respond) {
                    auto review = ParseReviewBody(call.request.body, ReviewVerb::kApprove);
                    if (!review) return respond(ErrorResponse(review.error()));
                    services.remediations.Approve(call.principal, AddressOf(call), *review,
                                                  ReplyWithRemediation(std::move(respond)));
                }});
    router.Add({"POST", remediation_path({"{}", "reject"}), kReview,
                [&services](Call& call, Responder respond) {
                    auto review = ParseReviewBody(call.request.body, ReviewVerb::kReject);
                    if (!review) return respond(ErrorResponse(review.error()));
                    services.remediations.Reject(call.principal, AddressOf(call), *review,
                                                 ReplyWithRemediation(std::move(respond)));
                }});
    router.Add({"POST", remediation_path({"{}", "cancel"}), kOperate,
                [&services](Call& call, Responder respond) {
                    // No body is defined; a JSON one is still checked so garbage is refused.
                    auto body = ParseBodyObject(call.request.body);
                    if (!body) return respond(ErrorResponse(body.error()));
                    services.remediations.Cancel(call.principal, AddressOf(call),
                                                 ReplyWithRemediation(std::move(respond)));
                }});
    // Batch approve (docs/http-api.md 11): each id by the rules of approve, on its own.
    router.Add({"POST",
                {"v1", "compute", "clusters", "{}", "remediations:batchApprove"},
                kReview,
                [&services](Call& call, Responder respond) {
                    auto body = ParseBatchApproveBody(call.request.body);
                    if (!body) return respond(ErrorResponse(body.error()));
                    services.remediations.BatchApprove(
                        call.principal, call.params[0], std::move(body->ids),
                        std::move(body->review),
                        [respond = std::move(respond)](
                            Result<std::vector<remediation::BatchOutcome>> outcomes) {
                            if (!outcomes) return respond(ErrorResponse(outcomes.error()));
                            respond(JsonResponse(BatchApproveJson(*outcomes)));
                        });
                }});
    // Live updates (README "Live updates"): server-sent events of remediation changes.
    auto watch_path = kRemediations;
    watch_path.back() = "remediations:watch";
    router.Add(
        {"GET", watch_path, kView, [&services](Call& call, Responder respond) {
             WatchFilter filter{call.params[0], call.params[1] == "-" ? "" : call.params[1], ""};
             if (auto id = SingleParam(call.request, "remediation_id", "remediationId")) {
                 filter.remediation_id = *id;
             }
             Status known = services.store.Read([&](storage::Reader& reader) -> Status {
                 NR_ASSIGN_OR_RETURN(bool cluster,
                                     reader.Inventory().HasCluster(filter.cluster_id));
                 if (!cluster) return NotFound("cluster " + filter.cluster_id + " not found");
                 if (filter.instance_id.empty()) return OkStatus();
                 NR_ASSIGN_OR_RETURN(auto instance,
                                     reader.Inventory().GetInstance(filter.instance_id));
                 if (!instance || instance->cluster_id != filter.cluster_id) {
                     return NotFound("instance " + filter.instance_id + " not found in cluster " +
                                     filter.cluster_id);
                 }
                 return OkStatus();
             });
             if (!known) return respond(ErrorResponse(known.error()));
             std::string last_event_id = call.request.last_event_id;
             if (auto id = SingleParam(call.request, "last_event_id", "lastEventId")) {
                 last_event_id = *id;
             }
             HttpResponse r;
             r.content_type = "text/event-stream";
             r.headers = {{"x-accel-buffering", "no"}};
             r.stream = StreamingBody{
                 [&services, filter, last_event_id](std::shared_ptr<ResponseStream> stream) {
                     services.watch.Subscribe(filter, last_event_id, std::move(stream));
                 },
                 ": keepalive\n\n"};
             respond(std::move(r));
         }});
    router.Add({"GET", remediation_path({"{}", "events"}), kView,
                [&services](Call& call, Responder respond) {
                    auto events = services.remediations.Events(AddressOf(call));
                    if (!events) return respond(ErrorResponse(events.error()));
                    respond(JsonResponse(EventsJson(*events)));
                }});
}

}  // namespace noderepair::api
