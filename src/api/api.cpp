#include "api/api.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <memory>

#include "api/codec.hpp"
#include "api/list_request.hpp"
#include "api/web_assets.hpp"
#include "common/json.hpp"
#include "common/log.hpp"
#include "common/request_context.hpp"
#include "remediation/page_token.hpp"

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

Result<remediation::Review> ParseReview(const std::string& body, bool with_mode) {
    NR_ASSIGN_OR_RETURN(auto object, ParseBodyObject(body));
    remediation::Review review;
    NR_ASSIGN_OR_RETURN(review.comment, OptionalStringField(object, "comment"));
    if (with_mode) {
        NR_ASSIGN_OR_RETURN(review.mode, OptionalModeField(object, "mode"));
    }
    return review;
}

HttpResponse EngineResponse(bool paused) {
    std::string body;
    JsonWriter(body).BeginObject().Key("paused").Bool(paused).EndObject();
    return JsonResponse(std::move(body));
}

std::string IngestJson(const health::IngestResult& result) {
    std::string out;
    JsonWriter(out)
        .BeginObject()
        .Key("alerts")
        .Int(result.alerts)
        .Key("remediations_created")
        .Int(result.remediations_created)
        .EndObject();
    return out;
}

Error NotInScope(const Call& call) {
    return PermissionDenied("token '" + call.principal.name + "' is not allowed on cluster " +
                            call.params[0]);
}

}  // namespace

Api::Api(ApiServices services, int worker_threads)
    : s_(services),
      workers_(worker_threads > 0 ? std::make_unique<WorkerPool>(worker_threads) : nullptr) {
    AddRoutes();
}

void Api::Handle(HttpRequest&& request, Responder respond) {
    RouteMatch match = router_.Match(request.method, request.segments);
    const Route* route = match.route;
    // Every answer is measured and logged, with the route's pattern rather than its path.
    auto call = std::make_shared<Call>(Call{std::move(request), std::move(match.params), {}});
    respond = [this, call, route, started = std::chrono::steady_clock::now(),
               respond = std::move(respond)](HttpResponse response) {
        std::string path;
        if (s_.log_requests) {
            for (const auto& segment : call->request.segments) path.append("/").append(segment);
        }
        Record({call->request.request_id, call->request.method, path.empty() ? "/" : path,
                route ? std::string_view(route->label) : "unmatched", response.status,
                std::chrono::steady_clock::now() - started, call->principal.name});
        respond(std::move(response));
    };
    if (route == nullptr) {
        if (match.path_known) {
            return respond(ErrorResponse(
                {Code::kUnimplemented, "method " + call->request.method + " is not allowed here"}));
        }
        return respond(ErrorResponse(NotFound("no such endpoint")));
    }
    if (!workers_) return Authorize(*route, *call, std::move(respond));
    workers_->Post([this, route, call, respond = std::move(respond)]() mutable {
        Authorize(*route, *call, std::move(respond));
    });
}

void Api::Refused(std::string_view method, int status, std::string_view request_id) {
    Record({request_id, method, "", "(refused)", status, std::chrono::nanoseconds(0), ""});
}

void Api::Record(const Answered& a) {
    s_.metrics.ObserveRequest(a.method, a.route, a.status, a.took);
    if (!s_.log_requests) return;
    LogLine line("request");
    line.Add("request_id", a.request_id).Add("method", a.method);
    if (!a.path.empty()) line.Add("path", a.path);
    line.Add("route", a.route).Add("status", int64_t(a.status));
    if (a.took.count() > 0) {
        line.AddMillis("duration_ms", std::chrono::duration<double, std::milli>(a.took).count());
    }
    if (!a.token.empty()) line.Add("token", a.token);
    WriteLog(line.Finish());
}

void Api::Authorize(const Route& route, Call& call, Responder respond) {
    if (route.role) {
        auto principal = s_.authenticator.Authenticate(call.request.authorization);
        if (!principal) return respond(ErrorResponse(principal.error()));
        call.principal = std::move(*principal);
        if (!s_.rate_limiter.Allow(call.principal.name)) {
            return respond(ErrorResponse(
                {Code::kResourceExhausted,
                 "rate limit of token '" + call.principal.name + "' exceeded; retry shortly"}));
        }
        if (!call.principal.HasRole(*route.role)) {
            return respond(ErrorResponse(
                PermissionDenied("token '" + call.principal.name + "' has role " +
                                 std::string(auth::RoleName(call.principal.role)) +
                                 "; this needs " + std::string(auth::RoleName(*route.role)))));
        }
        // Every route under /v1/compute/clusters/{cluster_id} is scoped to that cluster.
        const auto& seg = call.request.segments;
        if (seg.size() >= 4 && seg[1] == "compute" && seg[2] == "clusters" &&
            !call.principal.CanSeeCluster(call.params[0])) {
            return respond(ErrorResponse(NotInScope(call)));
        }
    }
    // What this request causes further down (a commit, a transition) is logged with its id.
    ScopedRequestId request_id(call.request.request_id);
    // The last-resort catch of DESIGN.md 4: our code returns errors as values, but a library
    // that throws must cost one request a 500, never the server.
    try {
        route.handler(call, respond);
    } catch (const std::exception& e) {
        respond(ErrorResponse(Internal(std::string("unhandled exception: ") + e.what())));
    } catch (...) {
        respond(ErrorResponse(Internal("unhandled exception")));
    }
}

void Api::AddRoutes() {
    const std::vector<std::string> kRemediations = {"v1",        "compute", "clusters",    "{}",
                                                    "instances", "{}",      "remediations"};
    auto remediation_path = [&](std::initializer_list<std::string> tail) {
        std::vector<std::string> p = kRemediations;
        p.insert(p.end(), tail);
        return p;
    };

    router_.Add({"GET", {"healthz"}, std::nullopt, [](Call&, Responder respond) {
                     respond(JsonResponse(R"({"status":"ok"})"));
                 }});
    router_.Add({"GET", {"readyz"}, std::nullopt, [this](Call&, Responder respond) {
                     Status readable = s_.store.Read([](storage::Reader& reader) -> Status {
                         return reader.GetSetting("engine.paused") ? OkStatus()
                                                                   : Status(Unavailable(""));
                     });
                     if (!readable) {
                         return respond(ErrorResponse(Unavailable("storage is not readable")));
                     }
                     respond(JsonResponse(R"({"status":"ready"})"));
                 }});

    // Remediations (API.md 4.1-4.6, 4.8).
    router_.Add({"POST", kRemediations, Role::kOperator, [this](Call& call, Responder respond) {
                     auto body = ParseBodyObject(call.request.body);
                     if (!body) return respond(ErrorResponse(body.error()));
                     remediation::CreateRequest create;
                     create.cluster_id = call.params[0];
                     create.instance_id = call.params[1];
                     auto mode = OptionalModeField(*body, "mode");
                     if (!mode) return respond(ErrorResponse(mode.error()));
                     if (!*mode) {
                         return respond(ErrorResponse(InvalidArgument("mode is required")));
                     }
                     create.mode = **mode;
                     auto reason = OptionalStringField(*body, "reason");
                     if (!reason) return respond(ErrorResponse(reason.error()));
                     create.reason = std::move(*reason);
                     if (auto id = SingleParam(call.request, "remediation_id", "remediationId")) {
                         create.remediation_id = *id;
                     }
                     s_.remediations.Create(call.principal, std::move(create),
                                            ReplyWithRemediation(std::move(respond)));
                 }});
    router_.Add({"GET", kRemediations, Role::kViewer, [this](Call& call, Responder respond) {
                     auto list = ParseListRequest(call);
                     if (!list) return respond(ErrorResponse(list.error()));
                     auto page = s_.remediations.List(*list);
                     if (!page) return respond(ErrorResponse(page.error()));
                     respond(JsonResponse(RemediationListJson(*page)));
                 }});
    router_.Add(
        {"GET", remediation_path({"{}"}), Role::kViewer, [this](Call& call, Responder respond) {
             auto r = s_.remediations.Get(AddressOf(call));
             if (!r) return respond(ErrorResponse(r.error()));
             respond(JsonResponse(RemediationJson(*r)));
         }});
    router_.Add({"POST", remediation_path({"{}", "approve"}), Role::kApprover,
                 [this](Call& call, Responder respond) {
                     auto review = ParseReview(call.request.body, true);
                     if (!review) return respond(ErrorResponse(review.error()));
                     s_.remediations.Approve(call.principal, AddressOf(call), *review,
                                             ReplyWithRemediation(std::move(respond)));
                 }});
    router_.Add({"POST", remediation_path({"{}", "reject"}), Role::kApprover,
                 [this](Call& call, Responder respond) {
                     auto review = ParseReview(call.request.body, false);
                     if (!review) return respond(ErrorResponse(review.error()));
                     s_.remediations.Reject(call.principal, AddressOf(call), *review,
                                            ReplyWithRemediation(std::move(respond)));
                 }});
    router_.Add({"POST", remediation_path({"{}", "cancel"}), Role::kOperator,
                 [this](Call& call, Responder respond) {
                     // No body is defined; a JSON one is still checked so garbage is refused.
                     auto body = ParseBodyObject(call.request.body);
                     if (!body) return respond(ErrorResponse(body.error()));
                     s_.remediations.Cancel(call.principal, AddressOf(call),
                                            ReplyWithRemediation(std::move(respond)));
                 }});
    // Live updates (README "Live updates"): server-sent events of remediation changes.
    auto watch_path = kRemediations;
    watch_path.back() = "remediations:watch";
    router_.Add(
        {"GET", watch_path, Role::kViewer, [this](Call& call, Responder respond) {
             WatchFilter filter{call.params[0], call.params[1] == "-" ? "" : call.params[1], ""};
             if (auto id = SingleParam(call.request, "remediation_id", "remediationId")) {
                 filter.remediation_id = *id;
             }
             Status known = s_.store.Read([&](storage::Reader& reader) -> Status {
                 NR_ASSIGN_OR_RETURN(bool cluster, reader.HasCluster(filter.cluster_id));
                 if (!cluster) return NotFound("cluster " + filter.cluster_id + " not found");
                 if (filter.instance_id.empty()) return OkStatus();
                 NR_ASSIGN_OR_RETURN(auto instance, reader.GetInstance(filter.instance_id));
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
             r.headers = {{"cache-control", "no-cache"}, {"x-accel-buffering", "no"}};
             r.stream = StreamingBody{
                 [this, filter, last_event_id](std::shared_ptr<ResponseStream> stream) {
                     s_.watch.Subscribe(filter, last_event_id, std::move(stream));
                 },
                 ": keepalive\n\n"};
             respond(std::move(r));
         }});
    router_.Add({"GET", remediation_path({"{}", "events"}), Role::kViewer,
                 [this](Call& call, Responder respond) {
                     auto events = s_.remediations.Events(AddressOf(call));
                     if (!events) return respond(ErrorResponse(events.error()));
                     respond(JsonResponse(EventsJson(*events)));
                 }});

    // Inventory (API.md 4.7).
    router_.Add({"GET",
                 {"v1", "compute", "clusters"},
                 Role::kViewer,
                 [this](Call& call, Responder respond) {
                     auto clusters = s_.inventory.ListClusters(call.principal);
                     if (!clusters) return respond(ErrorResponse(clusters.error()));
                     respond(JsonResponse(ClusterListJson(*clusters)));
                 }});
    router_.Add({"GET",
                 {"v1", "compute", "clusters", "{}"},
                 Role::kViewer,
                 [this](Call& call, Responder respond) {
                     auto cluster = s_.inventory.GetCluster(call.params[0]);
                     if (!cluster) return respond(ErrorResponse(cluster.error()));
                     respond(JsonResponse(ClusterJson(*cluster)));
                 }});
    router_.Add(
        {"GET", {"v1", "compute", "hosts"}, Role::kViewer, [this](Call& call, Responder respond) {
             auto hosts = s_.inventory.ListHosts(call.principal);
             if (!hosts) return respond(ErrorResponse(hosts.error()));
             respond(JsonResponse(HostListJson(*hosts)));
         }});

    for (bool cordon : {true, false}) {
        router_.Add({"POST",
                     {"v1", "compute", "hosts", cordon ? "{}:cordon" : "{}:uncordon"},
                     Role::kAdmin,
                     [this, cordon](Call& call, Responder respond) {
                         std::string host = call.params[0];
                         s_.inventory.SetCordoned(host, cordon, [host, cordon, respond](Status s) {
                             if (!s) return respond(ErrorResponse(s.error()));
                             std::string body;
                             JsonWriter(body)
                                 .BeginObject()
                                 .Key("host_name")
                                 .String(host)
                                 .Key("cordoned")
                                 .Bool(cordon)
                                 .EndObject();
                             respond(JsonResponse(std::move(body)));
                         });
                     }});
    }

    // Health signals (API.md 5).
    router_.Add({"POST",
                 {"v1", "integrations", "alertmanager"},
                 Role::kOperator,
                 [this](Call& call, Responder respond) {
                     auto alerts = health::ParseAlertmanagerWebhook(call.request.body);
                     if (!alerts) return respond(ErrorResponse(alerts.error()));
                     s_.health.Ingest(std::move(*alerts), [respond](auto result) {
                         if (!result) return respond(ErrorResponse(result.error()));
                         respond(JsonResponse(IngestJson(*result)));
                     });
                 }});
    router_.Add({"GET",
                 {"v1", "compute", "clusters", "{}", "health", "alerts"},
                 Role::kViewer,
                 [this](Call& call, Responder respond) {
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
                     remediation::ListRequest sizes;
                     auto size = SingleParam(call.request, "page_size", "pageSize");
                     if (size && !size->empty()) {
                         long long value = -1;
                         auto [end, ec] =
                             std::from_chars(size->data(), size->data() + size->size(), value);
                         if (ec != std::errc() || end != size->data() + size->size() || value < 0) {
                             return respond(ErrorResponse(
                                 InvalidArgument("page_size must be a non-negative integer")));
                         }
                         query.limit = value == 0 ? 50 : int(std::min<long long>(value, 1000));
                     }
                     const std::string fingerprint =
                         "alerts\n" + query.cluster_id + "\n" + (status ? *status : "");
                     if (auto token = SingleParam(call.request, "page_token", "pageToken");
                         token && !token->empty()) {
                         auto cursor = remediation::DecodePageToken(
                             *token, remediation::ShortHash(fingerprint));
                         if (!cursor) return respond(ErrorResponse(cursor.error()));
                         query.after = *cursor;
                     }
                     auto page = s_.health.ListAlerts(query);
                     if (!page) return respond(ErrorResponse(page.error()));
                     std::string next;
                     if (page->has_next) {
                         const auto& last = page->alerts.back();
                         next = remediation::EncodePageToken({ToMicros(last.started_at), last.id},
                                                             remediation::ShortHash(fingerprint));
                     }
                     respond(JsonResponse(AlertListJson(*page, next)));
                 }});
    router_.Add(
        {"PATCH",
         {"v1", "compute", "clusters", "{}"},
         Role::kAdmin,
         [this](Call& call, Responder respond) {
             auto body = ParseBodyObject(call.request.body);
             if (!body) return respond(ErrorResponse(body.error()));
             const auto* automation = body->if_contains("automation");
             if (automation == nullptr || !automation->is_object()) {
                 return respond(
                     ErrorResponse(InvalidArgument("body needs an 'automation' object")));
             }
             model::ClusterAutomation a;
             auto policy = OptionalStringField(automation->as_object(), "policy");
             if (!policy) return respond(ErrorResponse(policy.error()));
             if (*policy != "automatic" && *policy != "approve") {
                 return respond(ErrorResponse(
                     InvalidArgument("automation.policy must be approve or automatic")));
             }
             a.automatic = *policy == "automatic";
             if (const auto* names = automation->as_object().if_contains("automatic_alerts")) {
                 if (!names->is_array()) {
                     return respond(ErrorResponse(InvalidArgument(
                         "automation.automatic_alerts must be an array of alert names")));
                 }
                 for (const auto& name : names->as_array()) {
                     if (!name.is_string() || name.as_string().empty()) {
                         return respond(ErrorResponse(InvalidArgument(
                             "automation.automatic_alerts must be an array of alert names")));
                     }
                     a.automatic_alerts.emplace_back(name.as_string());
                 }
             }
             std::string cluster_id = call.params[0];
             s_.health.SetClusterAutomation(cluster_id, a, [respond, cluster_id, a](Status s) {
                 if (!s) return respond(ErrorResponse(s.error()));
                 std::string out;
                 JsonWriter w(out);
                 w.BeginObject().Key("cluster_id").String(cluster_id);
                 w.Key("automation").BeginObject();
                 w.Key("policy").String(a.automatic ? "automatic" : "approve");
                 w.Key("automatic_alerts").BeginArray();
                 for (const auto& name : a.automatic_alerts) w.String(name);
                 w.EndArray().EndObject().EndObject();
                 respond(JsonResponse(std::move(out)));
             });
         }});
    router_.Add({"PATCH",
                 {"v1", "compute", "clusters", "{}", "instances", "{}"},
                 Role::kOperator,
                 [this](Call& call, Responder respond) {
                     auto body = ParseBodyObject(call.request.body);
                     if (!body) return respond(ErrorResponse(body.error()));
                     const auto* flag = body->if_contains("auto_repair");
                     if (flag == nullptr || !flag->is_bool()) {
                         return respond(
                             ErrorResponse(InvalidArgument("body needs a boolean 'auto_repair'")));
                     }
                     const bool auto_repair = flag->as_bool();
                     std::string instance_id = call.params[1];
                     s_.health.SetAutoRepair(call.params[0], instance_id, auto_repair,
                                             [respond, instance_id, auto_repair](Status s) {
                                                 if (!s) return respond(ErrorResponse(s.error()));
                                                 std::string out;
                                                 JsonWriter(out)
                                                     .BeginObject()
                                                     .Key("instance_id")
                                                     .String(instance_id)
                                                     .Key("auto_repair")
                                                     .Bool(auto_repair)
                                                     .EndObject();
                                                 respond(JsonResponse(std::move(out)));
                                             });
                 }});
    // Active health checks (API.md 5).
    const std::vector<std::string> kChecks = {"v1",        "compute", "clusters",     "{}",
                                              "instances", "{}",      "health_checks"};
    router_.Add({"POST", kChecks, Role::kOperator, [this](Call& call, Responder respond) {
                     auto body = ParseBodyObject(call.request.body);
                     if (!body) return respond(ErrorResponse(body.error()));
                     const auto* tests = body->if_contains("tests");
                     if (tests == nullptr || !tests->is_array()) {
                         return respond(ErrorResponse(
                             InvalidArgument("body needs 'tests': an array of test names")));
                     }
                     std::vector<std::string> names;
                     for (const auto& t : tests->as_array()) {
                         if (!t.is_string()) {
                             return respond(ErrorResponse(
                                 InvalidArgument("'tests' must be an array of test names")));
                         }
                         names.emplace_back(t.as_string());
                     }
                     s_.health.StartHealthCheck(call.params[0], call.params[1], std::move(names),
                                                [respond](Result<model::HealthCheckRun> run) {
                                                    if (!run)
                                                        return respond(ErrorResponse(run.error()));
                                                    respond(JsonResponse(HealthCheckJson(*run)));
                                                });
                 }});
    router_.Add({"GET", kChecks, Role::kViewer, [this](Call& call, Responder respond) {
                     auto runs = s_.health.ListHealthChecks(call.params[0], call.params[1]);
                     if (!runs) return respond(ErrorResponse(runs.error()));
                     respond(JsonResponse(HealthCheckListJson(*runs)));
                 }});
    auto one_check = kChecks;
    one_check.push_back("{}");
    router_.Add({"GET", one_check, Role::kViewer, [this](Call& call, Responder respond) {
                     auto run =
                         s_.health.GetHealthCheck(call.params[0], call.params[1], call.params[2]);
                     if (!run) return respond(ErrorResponse(run.error()));
                     respond(JsonResponse(HealthCheckJson(*run)));
                 }});

    if (s_.simulated_faults) {
        router_.Add({"POST",
                     {"v1", "sim", "instances", "{}", "faults"},
                     Role::kOperator,
                     [this](Call& call, Responder respond) {
                         auto body = ParseBodyObject(call.request.body);
                         if (!body) return respond(ErrorResponse(body.error()));
                         health::SimulatedFault fault;
                         auto kind = OptionalStringField(*body, "kind");
                         if (!kind) return respond(ErrorResponse(kind.error()));
                         fault.kind = std::move(*kind);
                         if (const auto* xid = body->if_contains("xid")) {
                             if (!xid->is_int64()) {
                                 return respond(ErrorResponse(
                                     InvalidArgument("'xid' must be a positive integer")));
                             }
                             fault.xid = xid->as_int64();
                         }
                         auto reason = OptionalStringField(*body, "reason");
                         if (!reason) return respond(ErrorResponse(reason.error()));
                         fault.reason = std::move(*reason);
                         s_.health.RaiseSimulatedFault(
                             call.params[0], std::move(fault), [respond](auto result) {
                                 if (!result) return respond(ErrorResponse(result.error()));
                                 respond(JsonResponse(IngestJson(*result)));
                             });
                     }});
    }

    // Prometheus metrics (README "Metrics"): open like /healthz, for scrapers.
    router_.Add({"GET", {"metrics"}, std::nullopt, [this](Call&, Responder respond) {
                     telemetry::Snapshot snapshot;
                     Status read = s_.store.Read([&](storage::Reader& reader) -> Status {
                         NR_ASSIGN_OR_RETURN(snapshot.remediations, reader.CountRemediations());
                         NR_ASSIGN_OR_RETURN(auto paused, reader.GetSetting("engine.paused"));
                         snapshot.engine_paused = paused && *paused == "true";
                         return OkStatus();
                     });
                     if (!read) return respond(ErrorResponse(read.error()));
                     snapshot.engine_in_flight = s_.engine_in_flight ? s_.engine_in_flight() : 0;
                     snapshot.watch_streams = s_.watch.Subscribers();
                     HttpResponse r;
                     r.body = s_.metrics.Render(snapshot);
                     r.content_type = "text/plain; version=0.0.4; charset=utf-8";
                     respond(std::move(r));
                 }});

    // Engine pause (API.md 6).
    router_.Add({"GET", {"v1", "engine"}, Role::kViewer, [this](Call&, Responder respond) {
                     auto paused = s_.engine.IsPaused();
                     if (!paused) return respond(ErrorResponse(paused.error()));
                     respond(EngineResponse(*paused));
                 }});
    for (bool pause : {true, false}) {
        router_.Add({"POST",
                     {"v1", pause ? "engine:pause" : "engine:resume"},
                     Role::kAdmin,
                     [this, pause](Call&, Responder respond) {
                         s_.engine.SetPaused(pause, [respond](Result<bool> paused) {
                             if (!paused) return respond(ErrorResponse(paused.error()));
                             respond(EngineResponse(*paused));
                         });
                     }});
    }

    // The web console's static files.
    for (const auto& asset : WebAssets()) {
        std::string name(asset.path.substr(1));
        std::vector<std::vector<std::string>> paths = {{name}};
        if (name == "index.html") paths.push_back({});
        std::string type = name.ends_with(".html")  ? "text/html; charset=utf-8"
                           : name.ends_with(".js")  ? "text/javascript; charset=utf-8"
                           : name.ends_with(".css") ? "text/css; charset=utf-8"
                           : name.ends_with(".svg") ? "image/svg+xml"
                                                    : "application/octet-stream";
        for (auto& path : paths) {
            router_.Add({"GET", path, std::nullopt, [asset, type](Call&, Responder respond) {
                             HttpResponse r;
                             r.body = std::string(asset.content);
                             r.content_type = type;
                             respond(std::move(r));
                         }});
        }
    }
}

}  // namespace noderepair::api
