// How the client verbs show the API's JSON as text: one function per resource, JSON in,
// text out, so a change of layout is tested without a server. Modes and triggers are shown
// short (VM_ONLY); times without their fraction.
#pragma once

#include <boost/json/value.hpp>
#include <string>

#include "cli/table.hpp"

namespace noderepair::cli {

// `remediations list`: ID INSTANCE MODE STATE TRIGGER CREATED REASON.
TableRow RemediationHeader();
TableRow RemediationRow(const boost::json::value& remediation);
std::string RemediationTable(const boost::json::value& list);

// `--watch`: one row per change, UPDATED first; DETAIL is the error of a failed one, else
// the reason.
TableRow WatchHeader();
TableRow WatchRow(const boost::json::value& remediation);

// `remediations get|create|approve|reject|cancel`: every set field, one per line.
std::string RemediationDetail(const boost::json::value& remediation);

// `remediations approve` of several ids: ID INSTANCE MODE STATE ERROR, one row per id.
std::string BatchApproveTable(const boost::json::value& results);

// `remediations events`: TIME TYPE STATE STEP ACTOR DETAIL.
std::string EventTable(const boost::json::value& events);

// `clusters list`: CLUSTER NAME STATUS.
std::string ClusterTable(const boost::json::value& clusters);
// `clusters get`: the cluster's fields, then INSTANCE NODE HOST STATUS GPUS LATEST-REMEDIATION.
std::string ClusterDetail(const boost::json::value& cluster);
// `hosts list`: HOST SLOTS USED CORDONED INSTANCES.
std::string HostTable(const boost::json::value& hosts);
// One host (docs/http-api.md 11): its fields, then its fault ledger.
std::string HostDetail(const boost::json::value& host);
// A cluster's incidents (docs/http-api.md 11).
std::string IncidentTable(const boost::json::value& incidents);
// `alerts list`: STARTED ALERT INSTANCE SEVERITY STATUS REMEDIATION.
std::string AlertTable(const boost::json::value& alerts);
// `health-checks run|get`: the run's fields, then NAME STATE DETAIL per test.
std::string HealthCheckDetail(const boost::json::value& run);
// `health-checks list`: ID STATE TESTS CREATED ENDED REMEDIATION.
std::string HealthCheckTable(const boost::json::value& runs);
// `engine pause|resume|status`: "engine: paused" or "engine: running".
std::string EngineLine(const boost::json::value& engine);

// After one page of `remediations list` or `alerts list` (printed to stderr): how to ask for
// the next, "next page: --page-token <token>\n"; "" after the last.
std::string NextPageHint(const boost::json::value& list);

}  // namespace noderepair::cli
