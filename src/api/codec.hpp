// JSON forms of the API's resources (docs/http-api.md 2, 4.7, 4.8) and the decoding of request
// bodies.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "model/health_check.hpp"
#include "model/inventory.hpp"
#include "model/remediation.hpp"
#include "remediation/service.hpp"
#include "storage/store.hpp"

namespace noderepair {
class JsonWriter;
}

namespace noderepair::health {
struct IngestResult;
}

namespace noderepair::api {

void WriteRemediation(JsonWriter& w, const model::Remediation& r);
std::string RemediationJson(const model::Remediation& r);
std::string RemediationListJson(const remediation::ListResult& list);
// POST …/remediations:batchApprove (docs/http-api.md 11): per id, in request order, the
// remediation or a google.rpc Status.
std::string BatchApproveJson(const std::vector<remediation::BatchOutcome>& outcomes);
std::string EventsJson(const std::vector<model::RemediationEvent>& events);
std::string ClusterJson(const model::Cluster& cluster);
std::string ClusterListJson(const std::vector<model::Cluster>& clusters);
std::string HostListJson(const std::vector<model::Host>& hosts);
// One host with its fault ledger (docs/http-api.md 11): `faults` the signals, newest first,
// `remediations` the remediations recorded against it.
std::string HostJson(const model::Host& host, const std::vector<model::HostFault>& faults);
// A passive alert as docs/http-api.md 5 shows it; `with_labels` adds what the alert list shows.
void WriteLinkedAlert(JsonWriter& w, const model::Alert& alert, bool with_labels);
std::string HealthCheckJson(const model::HealthCheckRun& run);
std::string HealthCheckListJson(const std::vector<model::HealthCheckRun>& runs);
std::string AlertListJson(const storage::AlertPage& page, const std::string& next_page_token);
// What a batch of alerts (the webhook or a simulated fault) led to.
std::string IngestJson(const health::IngestResult& result);

// A request body as a JSON object: an empty body is `{}`; anything else must be an object.
Result<boost::json::object> ParseBodyObject(std::string_view body);
// An optional string member; INVALID_ARGUMENT when present with another type.
Result<std::string> OptionalStringField(const boost::json::object& body, std::string_view key);
// An optional mode member; INVALID_ARGUMENT for another type or an unknown name.
Result<std::optional<model::Mode>> OptionalModeField(const boost::json::object& body,
                                                     std::string_view key);

}  // namespace noderepair::api
