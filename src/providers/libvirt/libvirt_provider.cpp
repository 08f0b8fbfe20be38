#include "providers/libvirt/libvirt_provider.hpp"

#include <libvirt/virterror.h>

#include <cctype>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>

#include "common/json.hpp"

namespace noderepair::providers::libvirt {
namespace {

constexpr std::string_view kHandlePrefix = "libvirt:";
constexpr const char* kInstancePrefix = "nr";
// Marks the domains a reboot or power cycle already restarted, under the step's key: the
// hypervisor is the only place that knows, since its effect is not part of our transaction.
constexpr const char* kOperationNs = "https://noderepair.dev/xmlns/operation/1";
constexpr const char* kOperationPrefix = "nrop";
constexpr std::string_view kPhaseRestarting = "restarting";
constexpr std::string_view kPhaseDone = "done";

// How often wait_ready looks at a domain that is not running yet.
constexpr auto kBootRetry = std::chrono::seconds(1);

struct DomainFree {
    void operator()(virDomainPtr domain) const { virDomainFree(domain); }
};
using DomainPtr = std::unique_ptr<virDomain, DomainFree>;

struct MallocFree {
    void operator()(char* text) const { free(text); }  // NOLINT: libvirt allocates with malloc
};
using LibvirtString = std::unique_ptr<char, MallocFree>;

// Callers read the error with virGetLastError; the default handler would also print it.
void IgnoreError(void* /*user_data*/, virErrorPtr /*error*/) {}

Code CodeFor(int libvirt_code) {
    switch (libvirt_code) {
        case VIR_ERR_NO_DOMAIN:
            return Code::kNotFound;
        // The host or the link to it: worth trying again.
        case VIR_ERR_NO_CONNECT:
        case VIR_ERR_INVALID_CONN:
        case VIR_ERR_SYSTEM_ERROR:
        case VIR_ERR_RPC:
        case VIR_ERR_OPERATION_TIMEOUT:
        case VIR_ERR_AGENT_UNRESPONSIVE:
        case VIR_ERR_AUTH_UNAVAILABLE:
        case VIR_ERR_NO_SERVER:
            return Code::kUnavailable;
        case VIR_ERR_NO_SUPPORT:
        case VIR_ERR_OPERATION_INVALID:
        case VIR_ERR_OPERATION_DENIED:
        case VIR_ERR_OPERATION_UNSUPPORTED:
            return Code::kFailedPrecondition;
        default:
            return Code::kUnknown;
    }
}

int LastErrorCode() {
    virErrorPtr error = virGetLastError();
    return error != nullptr ? error->code : VIR_ERR_INTERNAL_ERROR;
}

// The error of the libvirt call that just failed; read it before any other libvirt call
// (virDomainFree among them) resets it.
Error LastError(const std::string& host_name, std::string_view what) {
    virErrorPtr error = virGetLastError();
    const int code = error != nullptr ? error->code : VIR_ERR_INTERNAL_ERROR;
    std::string message = error != nullptr && error->message != nullptr
                              ? error->message
                              : std::string("unknown libvirt error");
    return {CodeFor(code),
            "libvirt on host " + host_name + ": " + std::string(what) + ": " + message};
}

std::string XmlEscape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string XmlUnescape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '&') {
            out += text[i];
            continue;
        }
        const size_t end = text.find(';', i);
        if (end == std::string_view::npos) {
            out += text.substr(i);
            break;
        }
        const std::string_view entity = text.substr(i + 1, end - i - 1);
        if (entity == "amp") {
            out += '&';
        } else if (entity == "lt") {
            out += '<';
        } else if (entity == "gt") {
            out += '>';
        } else if (entity == "quot") {
            out += '"';
        } else if (entity == "apos") {
            out += '\'';
        } else if (entity.size() > 1 && entity[0] == '#') {
            const bool hex = entity[1] == 'x' || entity[1] == 'X';
            const std::string digits(entity.substr(hex ? 2 : 1));
            const long code = std::strtol(digits.c_str(), nullptr, hex ? 16 : 10);
            // Ids are ASCII in practice; anything else is kept as written.
            if (code > 0 && code < 128) {
                out += char(code);
            } else {
                out += text.substr(i, end - i + 1);
            }
        } else {
            out += text.substr(i, end - i + 1);
        }
        i = end;
    }
    return out;
}

// An attribute of the one element libvirt returns for a metadata namespace, as libxml2
// serializes it: `<instance id="i1" gpus="8"/>`.
std::optional<std::string> XmlAttribute(std::string_view element, std::string_view name) {
    size_t from = 0;
    while (true) {
        const size_t at = element.find(name, from);
        if (at == std::string_view::npos) return std::nullopt;
        from = at + name.size();
        const bool starts_word =
            at > 0 && std::isspace(static_cast<unsigned char>(element[at - 1]));
        if (!starts_word || from + 1 >= element.size() || element[from] != '=') continue;
        const char quote = element[from + 1];
        if (quote != '"' && quote != '\'') continue;
        const size_t end = element.find(quote, from + 2);
        if (end == std::string_view::npos) return std::nullopt;
        return XmlUnescape(element.substr(from + 2, end - from - 2));
    }
}

std::string DomainXml(std::string_view domain_type, const std::string& name,
                      const std::string& instance_id, const std::string& instance_name,
                      int num_gpus) {
    // The instance's identity rides in the domain, so a scan of a host finds its VM again.
    // A real fleet's domains also need the root disk and the GPUs passed through.
    return "<domain type='" + std::string(domain_type) + "'>\n  <name>" + XmlEscape(name) +
           "</name>\n  <memory unit='MiB'>1024</memory>\n  <vcpu>1</vcpu>\n"
           "  <os><type>hvm</type></os>\n  <metadata>\n    <" +
           kInstancePrefix + ":instance xmlns:" + kInstancePrefix + "=\"" + kInstanceMetadataNs +
           "\" id=\"" + XmlEscape(instance_id) + "\" name=\"" + XmlEscape(instance_name) +
           "\" gpus=\"" + std::to_string(num_gpus) + "\"/>\n  </metadata>\n</domain>\n";
}

// The test driver calls itself "TEST" and wants type='test'; QEMU hosts run KVM guests.
std::string DomainTypeFor(virConnectPtr connection) {
    const char* type = virConnectGetType(connection);
    std::string lower = type != nullptr ? type : "kvm";
    for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "qemu") return "kvm";
    return lower;
}

Result<std::vector<DomainPtr>> ListDomains(virConnectPtr connection, const std::string& host_name) {
    virDomainPtr* raw = nullptr;
    const int count = virConnectListAllDomains(connection, &raw, 0);
    if (count < 0) return LastError(host_name, "listing domains");
    std::vector<DomainPtr> domains;
    domains.reserve(size_t(count));
    for (int i = 0; i < count; ++i) domains.emplace_back(raw[i]);
    free(raw);  // NOLINT: libvirt allocates with malloc
    return domains;
}

Result<std::optional<DomainPtr>> LookupDomain(virConnectPtr connection,
                                              const std::string& host_name,
                                              const std::string& name) {
    virDomainPtr domain = virDomainLookupByName(connection, name.c_str());
    if (domain == nullptr) {
        if (LastErrorCode() == VIR_ERR_NO_DOMAIN) return std::optional<DomainPtr>();
        return LastError(host_name, "looking up domain " + name);
    }
    return std::optional<DomainPtr>(DomainPtr(domain));
}

// Every libvirt call resets the thread's last error, virDomainGetName too: take a domain's name
// for a message before the call that may fail.
std::string NameOf(virDomainPtr domain) {
    const char* name = virDomainGetName(domain);
    return name != nullptr ? name : "a domain";
}

Result<bool> IsActive(virDomainPtr domain, const std::string& host_name) {
    const int active = virDomainIsActive(domain);
    if (active < 0) return LastError(host_name, "reading the state of a domain");
    return active == 1;
}

Result<bool> IsPersistent(virDomainPtr domain, const std::string& host_name) {
    const int persistent = virDomainIsPersistent(domain);
    if (persistent < 0) return LastError(host_name, "reading the state of a domain");
    return persistent == 1;
}

// The element of `ns` in a domain's metadata; nullopt when it has none (or just went away).
Result<std::optional<std::string>> MetadataOf(virDomainPtr domain, const std::string& host_name,
                                              const char* ns) {
    const std::string what = "reading the metadata of " + NameOf(domain);
    LibvirtString text(virDomainGetMetadata(domain, VIR_DOMAIN_METADATA_ELEMENT, ns, 0));
    if (!text) {
        const int code = LastErrorCode();
        if (code == VIR_ERR_NO_DOMAIN_METADATA || code == VIR_ERR_NO_DOMAIN) {
            return std::optional<std::string>();
        }
        return LastError(host_name, what);
    }
    return std::optional<std::string>(text.get());
}

Result<std::optional<std::string>> InstanceOf(virDomainPtr domain, const std::string& host_name) {
    NR_ASSIGN_OR_RETURN(auto element, MetadataOf(domain, host_name, kInstanceMetadataNs));
    if (!element) return std::optional<std::string>();
    return XmlAttribute(*element, "id");
}

// Every domain of `instance_id` on a host: normally one, none after a delete.
Result<std::vector<DomainPtr>> DomainsOfInstance(virConnectPtr connection,
                                                 const std::string& host_name,
                                                 const std::string& instance_id) {
    NR_ASSIGN_OR_RETURN(auto domains, ListDomains(connection, host_name));
    std::vector<DomainPtr> found;
    for (auto& domain : domains) {
        NR_ASSIGN_OR_RETURN(auto id, InstanceOf(domain.get(), host_name));
        if (id && *id == instance_id) found.push_back(std::move(domain));
    }
    return found;
}

struct Marker {
    std::string key;
    std::string phase;
};

Result<std::optional<Marker>> MarkerOf(virDomainPtr domain, const std::string& host_name) {
    NR_ASSIGN_OR_RETURN(auto element, MetadataOf(domain, host_name, kOperationNs));
    if (!element) return std::optional<Marker>();
    return std::optional<Marker>(Marker{XmlAttribute(*element, "key").value_or(""),
                                        XmlAttribute(*element, "phase").value_or("")});
}

Status SetMarker(virDomainPtr domain, const std::string& host_name, const std::string& key,
                 std::string_view phase) {
    // Live and persistent definitions both: a destroy replaces the live one with the other.
    const std::string what = "marking " + NameOf(domain);
    unsigned int flags = 0;
    NR_ASSIGN_OR_RETURN(bool active, IsActive(domain, host_name));
    NR_ASSIGN_OR_RETURN(bool persistent, IsPersistent(domain, host_name));
    if (active) flags |= VIR_DOMAIN_AFFECT_LIVE;
    if (persistent) flags |= VIR_DOMAIN_AFFECT_CONFIG;
    const std::string element =
        "<operation key=\"" + XmlEscape(key) + "\" phase=\"" + std::string(phase) + "\"/>";
    if (virDomainSetMetadata(domain, VIR_DOMAIN_METADATA_ELEMENT, element.c_str(), kOperationPrefix,
                             kOperationNs, flags) < 0) {
        return LastError(host_name, what);
    }
    return OkStatus();
}

Status Destroy(virDomainPtr domain, const std::string& host_name) {
    const std::string what = "destroying " + NameOf(domain);
    if (virDomainDestroy(domain) < 0 && LastErrorCode() != VIR_ERR_NO_DOMAIN) {
        return LastError(host_name, what);
    }
    return OkStatus();
}

Status Create(virDomainPtr domain, const std::string& host_name) {
    const std::string what = "starting " + NameOf(domain);
    if (virDomainCreate(domain) < 0) return LastError(host_name, what);
    return OkStatus();
}

Status Undefine(virDomainPtr domain, const std::string& host_name) {
    // The VM goes for good, with what libvirt keeps beside its definition. Drivers that know
    // no NVRAM or checkpoints (the test driver) refuse those flags; the rest still applies.
    const unsigned int all = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                             VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                             VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA | VIR_DOMAIN_UNDEFINE_NVRAM;
    const unsigned int basic =
        VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA;
    const std::string what = "undefining " + NameOf(domain);
    if (virDomainUndefineFlags(domain, all) == 0) return OkStatus();
    int code = LastErrorCode();
    if (code == VIR_ERR_INVALID_ARG || code == VIR_ERR_NO_SUPPORT) {
        if (virDomainUndefineFlags(domain, basic) == 0) return OkStatus();
        code = LastErrorCode();
    }
    if (code == VIR_ERR_NO_DOMAIN) return OkStatus();  // gone already
    return LastError(host_name, what);
}

// Characters every driver accepts in a domain name; the rest become '_'. Keys are
// "<remediation id>/<step>", so only the '/' changes and names stay distinct.
std::string DomainNamePart(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        const bool safe = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
        if (!safe) c = c == '/' ? '.' : '_';
    }
    return out;
}

// Everything Poll needs, so it works with a provider object made after a restart.
struct Handle {
    Action action = Action::kWaitReady;
    std::string key;
    std::string instance_id;
    std::string instance_name;
    std::string host;    // where the action happens (a provision's target)
    std::string domain;  // the domain acted on, when there is one
    int num_gpus = 0;
};

std::string EncodeHandle(const Handle& h) {
    std::string out(kHandlePrefix);
    JsonWriter writer(out);
    writer.BeginObject()
        .Key("action")
        .String(ActionName(h.action))
        .Key("key")
        .String(h.key)
        .Key("instance")
        .String(h.instance_id)
        .OptionalString("name", h.instance_name)
        .OptionalString("host", h.host)
        .OptionalString("domain", h.domain)
        .Key("gpus")
        .Int(h.num_gpus)
        .EndObject();
    return out;
}

Result<Handle> DecodeHandle(const std::string& text) {
    if (!text.starts_with(kHandlePrefix)) {
        return InvalidArgument("not a libvirt operation handle: " + text);
    }
    auto parsed = ParseStrictJson(std::string_view(text).substr(kHandlePrefix.size()));
    const boost::json::object* object = parsed ? parsed->if_object() : nullptr;
    if (object == nullptr) return InvalidArgument("malformed libvirt operation handle: " + text);
    auto field = [object](std::string_view name) {
        const boost::json::value* value = object->if_contains(name);
        const boost::json::string* s = value != nullptr ? value->if_string() : nullptr;
        return s != nullptr ? std::string(*s) : std::string();
    };
    auto action = ParseAction(field("action"));
    if (!action) return InvalidArgument("libvirt operation handle with no known action: " + text);
    Handle h;
    h.action = *action;
    h.key = field("key");
    h.instance_id = field("instance");
    h.instance_name = field("name");
    h.host = field("host");
    h.domain = field("domain");
    const boost::json::value* gpus = object->if_contains("gpus");
    if (gpus != nullptr && gpus->is_int64()) h.num_gpus = int(gpus->as_int64());
    return h;
}

// The one domain of an instance on a host, by name.
Result<std::string> FindDomainName(virConnectPtr connection, const std::string& host_name,
                                   const std::string& instance_id) {
    NR_ASSIGN_OR_RETURN(auto domains, DomainsOfInstance(connection, host_name, instance_id));
    if (domains.empty()) {
        return FailedPrecondition("instance " + instance_id + " has no libvirt domain on host " +
                                  host_name);
    }
    if (domains.size() > 1) {
        return FailedPrecondition("instance " + instance_id + " has " +
                                  std::to_string(domains.size()) + " libvirt domains on host " +
                                  host_name + "; expected one");
    }
    return NameOf(domains.front().get());
}

Result<DomainPtr> DomainOf(virConnectPtr connection, const Handle& h) {
    NR_ASSIGN_OR_RETURN(auto found, LookupDomain(connection, h.host, h.domain));
    if (!found) {
        return FailedPrecondition("domain " + h.domain + " of instance " + h.instance_id +
                                  " is gone from host " + h.host);
    }
    return std::move(*found);
}

// delete_vm, evict_vm: every domain of the instance on the host goes; none left is success.
Status RemoveDomains(virConnectPtr connection, const Handle& h) {
    NR_ASSIGN_OR_RETURN(auto domains, DomainsOfInstance(connection, h.host, h.instance_id));
    for (auto& domain : domains) {
        auto persistent = IsPersistent(domain.get(), h.host);
        if (!persistent && persistent.error().code == Code::kNotFound) continue;
        if (!persistent) return persistent.error();
        NR_ASSIGN_OR_RETURN(bool active, IsActive(domain.get(), h.host));
        if (active) NR_RETURN_IF_ERROR(Destroy(domain.get(), h.host));
        if (*persistent) NR_RETURN_IF_ERROR(Undefine(domain.get(), h.host));
    }
    return OkStatus();
}

// provision_vm: the step's domain, defined once (found again by name) and running.
Status EnsureDomain(virConnectPtr connection, const Handle& h) {
    NR_ASSIGN_OR_RETURN(auto existing, LookupDomain(connection, h.host, h.domain));
    DomainPtr domain;
    if (existing) {
        domain = std::move(*existing);
    } else {
        const std::string xml = DomainXml(DomainTypeFor(connection), h.domain, h.instance_id,
                                          h.instance_name, h.num_gpus);
        domain.reset(virDomainDefineXML(connection, xml.c_str()));
        if (!domain) return LastError(h.host, "defining " + h.domain);
    }
    NR_ASSIGN_OR_RETURN(bool active, IsActive(domain.get(), h.host));
    if (!active) return Create(domain.get(), h.host);
    return OkStatus();
}

// reboot_vm: once per key, however often the step is tried.
Status RebootOnce(virConnectPtr connection, const Handle& h) {
    NR_ASSIGN_OR_RETURN(DomainPtr found, DomainOf(connection, h));
    virDomainPtr domain = found.get();
    NR_ASSIGN_OR_RETURN(auto marker, MarkerOf(domain, h.host));
    if (marker && marker->key == h.key) return OkStatus();
    NR_ASSIGN_OR_RETURN(bool active, IsActive(domain, h.host));
    if (!active) {
        NR_RETURN_IF_ERROR(Create(domain, h.host));  // a stopped VM reboots by starting
    } else if (virDomainReboot(domain, 0) < 0) {
        const int code = LastErrorCode();
        if (code != VIR_ERR_NO_SUPPORT && code != VIR_ERR_OPERATION_UNSUPPORTED) {
            return LastError(h.host, "rebooting " + h.domain);
        }
        // A driver without a guest reboot gets a hard one.
        NR_RETURN_IF_ERROR(Destroy(domain, h.host));
        NR_RETURN_IF_ERROR(Create(domain, h.host));
    }
    // Marked after the reboot: a crash in between reboots twice rather than never.
    return SetMarker(domain, h.host, h.key, kPhaseDone);
}

// power_cycle_host: every running domain of the host stops and starts again. Real hosts would
// power-cycle the machine through its BMC (IPMI, Redfish) here; libvirt reaches only the VMs.
// Each domain is marked before and after its restart, so a retry finishes a half-done cycle
// without restarting the domains that are done.
Status PowerCycleOnce(virConnectPtr connection, const Handle& h) {
    NR_ASSIGN_OR_RETURN(auto domains, ListDomains(connection, h.host));
    for (auto& d : domains) {
        virDomainPtr domain = d.get();
        auto persistent = IsPersistent(domain, h.host);
        if (!persistent && persistent.error().code == Code::kNotFound) continue;
        if (!persistent) return persistent.error();
        // A transient domain has no definition to start again from; we never make those.
        if (!*persistent) continue;
        NR_ASSIGN_OR_RETURN(auto marker, MarkerOf(domain, h.host));
        const bool ours = marker && marker->key == h.key;
        if (ours && marker->phase == kPhaseDone) continue;
        NR_ASSIGN_OR_RETURN(bool active, IsActive(domain, h.host));
        if (!ours && !active) continue;  // off before the power cycle: stays off
        if (!ours) NR_RETURN_IF_ERROR(SetMarker(domain, h.host, h.key, kPhaseRestarting));
        if (active) NR_RETURN_IF_ERROR(Destroy(domain, h.host));
        NR_RETURN_IF_ERROR(Create(domain, h.host));
        NR_RETURN_IF_ERROR(SetMarker(domain, h.host, h.key, kPhaseDone));
    }
    return OkStatus();
}

}  // namespace

Result<ConnectionPtr> OpenConnection(const std::string& uri) {
    static std::once_flag initialized;
    std::call_once(initialized, [] {
        // Before any other thread uses libvirt (its documented requirement), and quiet: every
        // error is read and reported by the caller.
        virInitialize();
        virSetErrorFunc(nullptr, IgnoreError);
    });
    virConnectPtr raw = virConnectOpen(uri.c_str());
    if (raw == nullptr) {
        virErrorPtr error = virGetLastError();
        std::string message = error != nullptr && error->message != nullptr
                                  ? error->message
                                  : std::string("unknown libvirt error");
        return Unavailable("cannot connect to libvirt at " + uri + ": " + message);
    }
    virConnSetErrorFunc(raw, nullptr, IgnoreError);
    return ConnectionPtr(raw, [](virConnectPtr c) { virConnectClose(c); });
}

LibvirtProvider::LibvirtProvider(std::vector<HostConnection> hosts) {
    for (auto& host : hosts) {
        std::string name = host.host_name;
        hosts_[std::move(name)] = std::move(host);
    }
}

Result<std::unique_ptr<LibvirtProvider>> LibvirtProvider::Connect(
    const std::vector<HostUri>& hosts) {
    std::vector<HostConnection> connections;
    std::map<std::string, bool, std::less<>> seen;
    for (const auto& host : hosts) {
        if (host.host_name.empty()) return InvalidArgument("a libvirt host has no name");
        if (host.uri.empty()) {
            return InvalidArgument("libvirt host " + host.host_name + " has no URI");
        }
        if (!seen.emplace(host.host_name, true).second) {
            return InvalidArgument("libvirt host " + host.host_name + " is listed twice");
        }
        auto connection = OpenConnection(host.uri);
        if (!connection) {
            return Error{connection.error().code,
                         "libvirt host " + host.host_name + ": " + connection.error().message};
        }
        connections.push_back({host.host_name, host.uri, std::move(connection).value()});
    }
    return std::make_unique<LibvirtProvider>(std::move(connections));
}

std::string LibvirtProvider::DomainNameFor(const std::string& instance_id, const std::string& key) {
    return "nr-" + DomainNamePart(instance_id) + "-" + DomainNamePart(key);
}

Result<virConnectPtr> LibvirtProvider::ConnectionFor(const std::string& host_name) {
    std::lock_guard lock(mu_);
    auto it = hosts_.find(host_name);
    if (it == hosts_.end()) {
        return FailedPrecondition("host " + host_name + " is not one of the libvirt hosts");
    }
    HostConnection& host = it->second;
    // A remote connection that dropped stays dead; open a new one (the engine retries the
    // step while the host does not answer).
    if (!host.connection || virConnectIsAlive(host.connection.get()) != 1) {
        auto reopened = OpenConnection(host.uri);
        if (!reopened) {
            return Unavailable("libvirt host " + host_name + ": " + reopened.error().message);
        }
        host.connection = std::move(reopened).value();
    }
    return host.connection.get();
}

Result<std::string> LibvirtProvider::Start(const Operation& op, const CallContext& /*call*/) {
    // Start only writes down what to do: the handle is a function of the operation and the
    // inventory, so starting again under the same key gives the same handle. Poll acts.
    Handle h;
    h.action = op.action;
    h.key = op.key;
    h.instance_id = op.instance_id;
    h.instance_name = op.instance_name;
    h.host = op.host;
    h.num_gpus = op.num_gpus;
    switch (op.action) {
        case Action::kCordonHost:
        case Action::kUncordonHost:
        case Action::kRejoin:
        // libvirt cannot look inside a guest: verify tests need hooks.health_check.
        case Action::kVerify:
            break;
        case Action::kDrain:
            break;
        case Action::kReserve:
            return FailedPrecondition("libvirt does not reserve slots; placement is the engine's");
        case Action::kDeleteVm:
        case Action::kEvictVm:
            // No host: the instance had no VM when the remediation began; nothing to remove.
            if (!h.host.empty()) NR_RETURN_IF_ERROR(ConnectionFor(h.host));
            break;
        case Action::kProvisionVm:
            if (op.host.empty()) {
                return FailedPrecondition("no host is reserved for instance " + op.instance_id);
            }
            NR_RETURN_IF_ERROR(ConnectionFor(h.host));
            h.domain = DomainNameFor(op.instance_id, op.key);
            break;
        case Action::kRebootVm:
        case Action::kWaitReady: {
            // The engine says where the VM is: the source host, or the new one after a move.
            if (h.host.empty()) {
                return FailedPrecondition("instance " + op.instance_id + " has no VM");
            }
            NR_ASSIGN_OR_RETURN(virConnectPtr connection, ConnectionFor(h.host));
            NR_ASSIGN_OR_RETURN(h.domain, FindDomainName(connection, h.host, op.instance_id));
            break;
        }
        case Action::kPowerCycleHost:
            NR_RETURN_IF_ERROR(ConnectionFor(h.host));
            break;
    }
    return EncodeHandle(h);
}

Result<OperationStatus> LibvirtProvider::Poll(const std::string& handle, const CallContext& call) {
    NR_ASSIGN_OR_RETURN(Handle h, DecodeHandle(handle));
    OperationStatus status;
    status.phase = OperationStatus::Phase::kDone;
    // Cordons, drains and rejoins are the engine's records and hooks: nothing for libvirt.
    switch (h.action) {
        case Action::kCordonHost:
        case Action::kUncordonHost:
        case Action::kDrain:
        case Action::kRejoin:
        case Action::kVerify:
            break;
        case Action::kReserve:
            return FailedPrecondition("libvirt does not reserve slots; placement is the engine's");
        case Action::kDeleteVm:
        case Action::kEvictVm: {
            if (!h.host.empty()) {
                NR_ASSIGN_OR_RETURN(virConnectPtr connection, ConnectionFor(h.host));
                NR_RETURN_IF_ERROR(RemoveDomains(connection, h));
            }
            break;
        }
        case Action::kProvisionVm: {
            NR_ASSIGN_OR_RETURN(virConnectPtr connection, ConnectionFor(h.host));
            NR_RETURN_IF_ERROR(EnsureDomain(connection, h));
            break;
        }
        case Action::kRebootVm: {
            NR_ASSIGN_OR_RETURN(virConnectPtr connection, ConnectionFor(h.host));
            NR_RETURN_IF_ERROR(RebootOnce(connection, h));
            break;
        }
        case Action::kPowerCycleHost: {
            NR_ASSIGN_OR_RETURN(virConnectPtr connection, ConnectionFor(h.host));
            NR_RETURN_IF_ERROR(PowerCycleOnce(connection, h));
            break;
        }
        case Action::kWaitReady: {
            NR_ASSIGN_OR_RETURN(virConnectPtr connection, ConnectionFor(h.host));
            NR_ASSIGN_OR_RETURN(DomainPtr domain, DomainOf(connection, h));
            int state = VIR_DOMAIN_NOSTATE;
            int reason = 0;
            if (virDomainGetState(domain.get(), &state, &reason, 0) < 0) {
                return LastError(h.host, "reading the state of " + h.domain);
            }
            // Running is not ready: the rejoin step puts the node back in service.
            if (state != VIR_DOMAIN_RUNNING) {
                status.phase = OperationStatus::Phase::kRunning;
                status.poll_at = call.Now() + kBootRetry;
            }
            break;
        }
    }
    return status;
}

}  // namespace noderepair::providers::libvirt
