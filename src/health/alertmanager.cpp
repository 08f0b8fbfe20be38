#include "health/alertmanager.hpp"

#include <openssl/sha.h>

#include <boost/json.hpp>

#include "common/json.hpp"

namespace noderepair::health {
namespace {

namespace json = boost::json;

Result<std::map<std::string, std::string>> StringMap(const json::object& alert,
                                                     std::string_view key, size_t index) {
    std::map<std::string, std::string> out;
    const auto* v = alert.if_contains(json::string_view(key.data(), key.size()));
    if (v == nullptr || v->is_null()) return out;
    if (!v->is_object()) {
        return InvalidArgument("alerts[" + std::to_string(index) + "]." + std::string(key) +
                               " must be an object of strings");
    }
    for (const auto& [k, value] : v->as_object()) {
        if (!value.is_string()) {
            return InvalidArgument("alerts[" + std::to_string(index) + "]." + std::string(key) +
                                   "." + std::string(k) + " must be a string");
        }
        out[std::string(k)] = std::string(value.as_string());
    }
    return out;
}

}  // namespace

std::string FingerprintOf(const std::map<std::string, std::string>& labels) {
    std::string canonical;
    for (const auto& [k, v] : labels) canonical += k + '\x1f' + v + '\x1e';
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(canonical.data()), canonical.size(), digest);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 8; ++i) {
        out.push_back(kHex[digest[i] >> 4]);
        out.push_back(kHex[digest[i] & 0xf]);
    }
    return out;
}

Result<std::vector<IncomingAlert>> ParseAlertmanagerWebhook(std::string_view body) {
    NR_ASSIGN_OR_RETURN(auto doc, ParseStrictJson(body));
    if (!doc.is_object()) return InvalidArgument("webhook payload must be a JSON object");
    const auto& root = doc.as_object();
    if (const auto* version = root.if_contains("version")) {
        if (!version->is_string() || version->as_string() != "4") {
            return InvalidArgument("webhook payload version must be \"4\"");
        }
    }
    const auto* alerts = root.if_contains("alerts");
    if (alerts == nullptr || !alerts->is_array()) {
        return InvalidArgument("webhook payload needs an 'alerts' array");
    }
    std::vector<IncomingAlert> out;
    out.reserve(alerts->as_array().size());
    size_t i = 0;
    for (const auto& a : alerts->as_array()) {
        const std::string where = "alerts[" + std::to_string(i) + "]";
        if (!a.is_object()) return InvalidArgument(where + " must be an object");
        const auto& o = a.as_object();
        IncomingAlert alert;
        const auto* status = o.if_contains("status");
        if (status == nullptr || !status->is_string() ||
            (status->as_string() != "firing" && status->as_string() != "resolved")) {
            return InvalidArgument(where + ".status must be \"firing\" or \"resolved\"");
        }
        alert.firing = status->as_string() == "firing";
        NR_ASSIGN_OR_RETURN(alert.labels, StringMap(o, "labels", i));
        NR_ASSIGN_OR_RETURN(alert.annotations, StringMap(o, "annotations", i));
        if (alert.labels.find("alertname") == alert.labels.end()) {
            return InvalidArgument(where + ".labels needs an alertname");
        }
        const auto* starts = o.if_contains("startsAt");
        std::optional<Timestamp> starts_at;
        if (starts != nullptr && starts->is_string()) {
            starts_at = ParseRfc3339(std::string_view(starts->as_string()));
        }
        if (!starts_at) return InvalidArgument(where + ".startsAt must be an RFC 3339 time");
        alert.starts_at = *starts_at;
        if (const auto* ends = o.if_contains("endsAt"); ends != nullptr && !ends->is_null()) {
            auto ends_at = ends->is_string() ? ParseRfc3339(std::string_view(ends->as_string()))
                                             : std::nullopt;
            if (!ends_at) return InvalidArgument(where + ".endsAt must be an RFC 3339 time");
            // "0001-01-01T00:00:00Z" means "not yet".
            if (ToMicros(*ends_at) > 0) alert.ends_at = ends_at;
        }
        const auto* fingerprint = o.if_contains("fingerprint");
        if (fingerprint != nullptr && !fingerprint->is_string()) {
            return InvalidArgument(where + ".fingerprint must be a string");
        }
        alert.fingerprint = fingerprint != nullptr && !fingerprint->as_string().empty()
                                ? std::string(fingerprint->as_string())
                                : FingerprintOf(alert.labels);
        out.push_back(std::move(alert));
        ++i;
    }
    return out;
}

}  // namespace noderepair::health
