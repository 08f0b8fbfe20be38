// Alertmanager's webhook payload (version 4), decoded strictly. Each alert carries its own
// status: a "firing" group can hold resolved alerts (tests/fixtures/alertmanager holds two captured
// ones).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"
#include "model/alert.hpp"

namespace noderepair::health {

using model::IncomingAlert;

// INVALID_ARGUMENT for anything that is not a version 4 payload.
Result<std::vector<IncomingAlert>> ParseAlertmanagerWebhook(std::string_view body);

// Alertmanager's fingerprint is a hash of the label set; payloads without one get ours.
std::string FingerprintOf(const std::map<std::string, std::string>& labels);

}  // namespace noderepair::health
