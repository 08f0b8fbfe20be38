// Alertmanager webhook bodies (POST /v1/integrations/alertmanager): the strict decode, then
// what ingestion does with each alert's labels and annotations (the policy rule, the typed
// annotation with its Xid list) and the JSON the alert list shows of it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/codec.hpp"
#include "common/json.hpp"
#include "health/alertmanager.hpp"
#include "health/policy.hpp"
#include "invariants.hpp"

using namespace noderepair;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    auto alerts = health::ParseAlertmanagerWebhook(body);
    if (!alerts) return 0;
    static const health::Policy policy;
    for (const auto& in : *alerts) {
        if (in.fingerprint.empty()) fuzz::Broken("every alert has a fingerprint", body);
        fuzz::CheckTimeRoundTrip(in.starts_at);
        if (in.ends_at) fuzz::CheckTimeRoundTrip(*in.ends_at);
        model::Alert alert;
        alert.fingerprint = in.fingerprint;
        alert.alert_name = in.labels.at("alertname");
        alert.labels = in.labels;
        alert.annotations = in.annotations;
        alert.started_at = in.starts_at;
        alert.resolved_at = in.ends_at;
        alert.severity = policy.RuleFor(alert).severity;
        std::string json;
        JsonWriter writer(json);
        api::WriteLinkedAlert(writer, alert, true);
        fuzz::CheckWritesStrictJson(json);
    }
    return 0;
}
