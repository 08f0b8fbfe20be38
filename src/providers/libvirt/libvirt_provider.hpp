// The libvirt provider (config `provider: libvirt`): each host is a libvirt connection and an
// instance's VM is a domain carrying the instance id in its <metadata>. Placement (slots,
// cordons, reservations) stays in the database as with the simulated provider; libvirt has no
// notion of either. Start() only records what to do in the handle; Poll() makes libvirt match
// it, idempotently, so a retry or a resume after a crash never makes a second VM. Owned by
// `serve`; the engine's call pool calls it from several threads (libvirt connections are
// thread-safe; reopening one is guarded).
#pragma once

#include <libvirt/libvirt.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "providers/provider.hpp"

namespace noderepair::providers::libvirt {

// One libvirt connection, closed when its last owner lets go. The test:/// driver keeps its
// whole fake hypervisor in the connection, so tests share one between provider objects.
using ConnectionPtr = std::shared_ptr<virConnect>;

// Opens a read-write connection ("qemu+ssh://gpu-17/system", "test:///abs/path/host.xml").
// Failures are Unavailable: a host that is down now may answer later.
Result<ConnectionPtr> OpenConnection(const std::string& uri);

struct HostUri {
    std::string host_name;  // as in the fleet (model::Host::host_name)
    std::string uri;
};

struct HostConnection {
    std::string host_name;
    std::string uri;           // for reopening a connection that died
    ConnectionPtr connection;  // null: opened on first use
};

// The namespace of the element that ties a domain to its instance:
// <nr:instance xmlns:nr="https://noderepair.dev/xmlns/instance/1" id="..." gpus="8"/>.
inline constexpr const char* kInstanceMetadataNs = "https://noderepair.dev/xmlns/instance/1";

class LibvirtProvider final : public Provider {
public:
    explicit LibvirtProvider(std::vector<HostConnection> hosts);
    // One connection per host; the first host that cannot be reached fails it, named.
    static Result<std::unique_ptr<LibvirtProvider>> Connect(const std::vector<HostUri>& hosts);

    Result<std::string> Start(const Operation& op, const CallContext& call) override;
    Result<OperationStatus> Poll(const std::string& handle, const CallContext& call) override;

    // The domain a provision step makes: the same name for the same instance and step key, so
    // the step finds it again instead of defining a second one.
    static std::string DomainNameFor(const std::string& instance_id, const std::string& key);

private:
    // The host's connection, reopened when it died.
    Result<virConnectPtr> ConnectionFor(const std::string& host_name);

    std::mutex mu_;  // guards the connections while one is reopened
    std::map<std::string, HostConnection, std::less<>> hosts_;
};

}  // namespace noderepair::providers::libvirt
