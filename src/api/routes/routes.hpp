// The API's endpoints, one file per resource under routes/. Each function adds its resource's
// routes to the router; the handlers keep a reference to `services`, which must outlive it.
#pragma once

#include <functional>

#include "api/api.hpp"
#include "api/router.hpp"

namespace noderepair::api {

// /healthz, /readyz, /metrics and the web console's files, all open without a token.
void AddSystemRoutes(Router& router, const ApiServices& services);
// Remediations of one instance, or of a whole cluster with instance "-": create, list, get,
// approve, reject, cancel, their timeline, and the remediations:watch event stream.
void AddRemediationRoutes(Router& router, const ApiServices& services);
// Clusters: list and get, the cluster's automation policy and an instance's auto_repair opt-out.
void AddClusterRoutes(Router& router, const ApiServices& services);
// Hosts: list, and :cordon / :uncordon.
void AddHostRoutes(Router& router, const ApiServices& services);
// Passive health signals: the Alertmanager webhook and a cluster's alert list.
void AddAlertRoutes(Router& router, const ApiServices& services);
// The webhook's answer to an ingest, after its commit: the counts, or the error (simulated faults
// answer the same way).
std::function<void(Result<health::IngestResult>)> ReplyWithIngest(Responder respond);
// Active health checks of an instance: start a run, list runs, get one.
void AddHealthCheckRoutes(Router& router, const ApiServices& services);
// docs/http-api.md 11: a cluster's incidents, :release and :dismiss.
void AddIncidentRoutes(Router& router, const ApiServices& services);
// The simulated fleet: faults raised on an instance, and the VMs it runs; only that provider
// has them.
void AddSimulatedFleetRoutes(Router& router, const ApiServices& services);
// The engine's pause switch: status, :pause and :resume.
void AddEngineRoutes(Router& router, const ApiServices& services);
// The audit trail, oldest first, for unscoped admin tokens.
void AddAuditRoutes(Router& router, const ApiServices& services);
// A cluster's overview: remediations per day, time per stage, what needs a person.
void AddOverviewRoutes(Router& router, const ApiServices& services);
// The replicas on this database and the leader, for unscoped admin tokens.
void AddReplicaRoutes(Router& router, const ApiServices& services);

}  // namespace noderepair::api
