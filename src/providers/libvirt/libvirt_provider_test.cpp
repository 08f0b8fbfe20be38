#include "providers/libvirt/libvirt_provider.hpp"

#include <gtest/gtest.h>
#include <libvirt/virterror.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/control.hpp"
#include "engine/executor.hpp"
#include "storage/open.hpp"
#include "storage/store_contract_test.hpp"

namespace noderepair::providers::libvirt {
namespace {

using storage::test_support::ScopedTempDir;
using storage::test_support::TestEpoch;
using storage::test_support::TestInstance;

// h1 runs i1 and a domain that is no instance's; h2 runs i2; h3 is empty with room for two.
storage::FleetImport Fleet() {
    storage::FleetImport fleet;
    fleet.hosts = {{"h1", 8, 0, false, {}}, {"h2", 8, 0, false, {}}, {"h3", 16, 0, false, {}}};
    model::Cluster c1{"c1", "cluster one", "Ready", {}};
    c1.gpu_worker_nodes = {TestInstance("i1", "c1", "h1"), TestInstance("i2", "c1", "h2")};
    fleet.clusters = {c1};
    return fleet;
}

std::string TestDomainXml(const std::string& name, const std::string& instance_id) {
    std::string xml = "<domain type='test'><name>" + name +
                      "</name><memory unit='MiB'>512</memory><vcpu>1</vcpu>"
                      "<os><type>hvm</type></os>";
    if (!instance_id.empty()) {
        xml += "<metadata><nr:instance xmlns:nr='" + std::string(kInstanceMetadataNs) + "' id='" +
               instance_id + "' gpus='8'/></metadata>";
    }
    return xml + "</domain>";
}

struct DomainView {
    std::string name;
    std::string instance_id;  // empty: not an instance's
    bool active = false;
    unsigned int id = 0;  // changes with every start
};

// Every domain of a host, as libvirt reports it (not through the provider).
std::vector<DomainView> DomainsOn(virConnectPtr connection) {
    std::vector<DomainView> views;
    virDomainPtr* raw = nullptr;
    const int count = virConnectListAllDomains(connection, &raw, 0);
    EXPECT_GE(count, 0);
    for (int i = 0; i < count; ++i) {
        DomainView view;
        view.name = virDomainGetName(raw[i]);
        view.active = virDomainIsActive(raw[i]) == 1;
        view.id = virDomainGetID(raw[i]);
        char* metadata =
            virDomainGetMetadata(raw[i], VIR_DOMAIN_METADATA_ELEMENT, kInstanceMetadataNs, 0);
        if (metadata != nullptr) {
            std::string element = metadata;
            free(metadata);  // NOLINT: libvirt allocates with malloc
            const size_t at = element.find(" id=\"");
            if (at != std::string::npos) {
                const size_t from = at + 5;
                view.instance_id = element.substr(from, element.find('"', from) - from);
            }
        }
        virDomainFree(raw[i]);
        views.push_back(view);
    }
    free(raw);  // NOLINT: libvirt allocates with malloc
    std::sort(views.begin(), views.end(),
              [](const DomainView& a, const DomainView& b) { return a.name < b.name; });
    return views;
}

class LibvirtProviderTest : public ::testing::Test {
protected:
    void SetUp() override {
        WriteHost("h1", {TestDomainXml("vm-i1", "i1"), TestDomainXml("bystander", "")});
        WriteHost("h2", {TestDomainXml("vm-i2", "i2")});
        WriteHost("h3", {});
        // One connection per host for the whole test: the test driver's hypervisor lives in
        // it, and outlives every provider object the way a real hypervisor outlives a crash.
        for (const auto& [host, uri] : uris_) {
            auto connection = OpenConnection(uri);
            ASSERT_TRUE(connection) << connection.error().message;
            connections_[host] = *connection;
        }
        auto opened = storage::OpenStore("sqlite:" + dir_.path() + "/libvirt.db");
        ASSERT_TRUE(opened) << opened.error().message;
        store_ = std::move(opened).value();
        Status imported = store_->WriteAndWait(
            [](storage::Txn& txn) { return txn.Inventory().ImportFleet(Fleet()); });
        ASSERT_TRUE(imported) << imported.error().message;
        provider_ = NewProvider();
    }

    void TearDown() override {
        if (store_) store_->Close();
    }

    void WriteHost(const std::string& host, const std::vector<std::string>& domains) {
        const std::string path = dir_.path() + "/" + host + ".xml";
        std::ofstream out(path);
        out << "<node>\n";
        for (const auto& domain : domains) out << domain << "\n";
        out << "</node>\n";
        uris_[host] = "test://" + path;
    }

    // A provider object on the test's connections, as a restarted server would make one.
    std::unique_ptr<LibvirtProvider> NewProvider() {
        std::vector<HostConnection> hosts;
        for (const auto& [host, connection] : connections_) {
            hosts.push_back({host, uris_[host], connection});
        }
        return std::make_unique<LibvirtProvider>(std::move(hosts));
    }

    static Operation Op(Action action, const std::string& key, const std::string& instance_id,
                        const std::string& host) {
        Operation op;
        op.action = action;
        op.key = key;
        op.remediation_id = key.substr(0, key.find('/'));
        op.cluster_id = "c1";
        op.instance_id = instance_id;
        op.instance_name = instance_id + "-name";
        op.host = host;
        op.num_gpus = 8;
        return op;
    }

    providers::CallContext Call() {
        return {clock_, clock_.Now() + std::chrono::hours(1),
                std::make_shared<providers::Cancellation>()};
    }

    // Start, then Poll once: what the engine does for a step.
    Result<OperationStatus> Run(const Operation& op, Provider* provider = nullptr) {
        Provider& p = provider != nullptr ? *provider : *provider_;
        auto handle = p.Start(op, Call());
        if (!handle) return handle.error();
        last_handle_ = *handle;
        return p.Poll(*handle, Call());
    }

    Result<OperationStatus> PollAgain(const std::string& handle, Provider& provider) {
        return provider.Poll(handle, Call());
    }

    Status Write(const storage::TxnWork& work) { return store_->WriteAndWait(work); }

    model::Instance InstanceNamed(const std::string& id) {
        auto got = storage::test_support::ReadValue<std::optional<model::Instance>>(
            *store_, [&](storage::Reader& r) { return r.Inventory().GetInstance(id); });
        EXPECT_TRUE(got && *got) << id;
        return got && *got ? **got : model::Instance{};
    }

    model::Host HostNamed(const std::string& name) {
        auto hosts = storage::test_support::ReadValue<std::vector<model::Host>>(
            *store_, [](storage::Reader& r) { return r.Inventory().ListHosts(); });
        EXPECT_TRUE(hosts);
        for (const auto& host : *hosts) {
            if (host.host_name == name) return host;
        }
        ADD_FAILURE() << "no host " << name;
        return {};
    }

    std::vector<DomainView> Domains(const std::string& host) {
        return DomainsOn(connections_.at(host).get());
    }

    // Where the instance has domains: host -> their names.
    std::map<std::string, std::vector<std::string>> DomainsOfInstance(const std::string& id) {
        std::map<std::string, std::vector<std::string>> found;
        for (const auto& [host, connection] : connections_) {
            for (const auto& domain : DomainsOn(connection.get())) {
                if (domain.instance_id == id) found[host].push_back(domain.name);
            }
        }
        return found;
    }

    std::optional<DomainView> DomainNamed(const std::string& host, const std::string& name) {
        for (const auto& domain : Domains(host)) {
            if (domain.name == name) return domain;
        }
        return std::nullopt;
    }

    // Stops a domain behind the provider's back, as a crashed guest would be.
    void StopDomain(const std::string& host, const std::string& name) {
        virDomainPtr domain = virDomainLookupByName(connections_.at(host).get(), name.c_str());
        ASSERT_NE(domain, nullptr);
        EXPECT_EQ(virDomainDestroy(domain), 0);
        virDomainFree(domain);
    }

    ScopedTempDir dir_;
    FakeClock clock_{TestEpoch()};
    remediation::Lifecycle lifecycle_{clock_};
    std::map<std::string, std::string> uris_;
    std::map<std::string, ConnectionPtr> connections_;
    std::unique_ptr<storage::Store> store_;
    std::unique_ptr<LibvirtProvider> provider_;
    std::string last_handle_;
};

bool IsDone(const Result<OperationStatus>& status) {
    return status && status->phase == OperationStatus::Phase::kDone;
}

// ---- Connecting -----------------------------------------------------------------------------

TEST(LibvirtConnectTest, OpensEveryHostAndNamesTheOneThatFails) {
    ScopedTempDir dir;
    const std::string path = dir.path() + "/h1.xml";
    std::ofstream(path) << "<node/>\n";
    auto ok = LibvirtProvider::Connect({{"h1", "test://" + path}});
    ASSERT_TRUE(ok) << ok.error().message;

    auto failed = LibvirtProvider::Connect(
        {{"h1", "test://" + path}, {"gpu-17", "test://" + dir.path() + "/missing.xml"}});
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().code, Code::kUnavailable);
    EXPECT_NE(failed.error().message.find("gpu-17"), std::string::npos) << failed.error().message;

    auto twice = LibvirtProvider::Connect({{"h1", "test://" + path}, {"h1", "test://" + path}});
    ASSERT_FALSE(twice);
    EXPECT_EQ(twice.error().code, Code::kInvalidArgument);
}

TEST_F(LibvirtProviderTest, AHostThatCannotBeReachedIsTransientAndNamed) {
    LibvirtProvider provider({{"h9", "test://" + dir_.path() + "/missing.xml", nullptr}});
    auto status = Run(Op(Action::kDeleteVm, "r1/0", "i1", "h9"), &provider);
    ASSERT_FALSE(status);
    EXPECT_TRUE(IsTransient(status.error().code)) << status.error().message;
    EXPECT_NE(status.error().message.find("h9"), std::string::npos) << status.error().message;
    EXPECT_NE(status.error().message.find("failed to parse xml"), std::string::npos)
        << "libvirt's own message: " << status.error().message;

    auto unknown = Run(Op(Action::kDeleteVm, "r1/0", "i1", "h7"));
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, Code::kFailedPrecondition);

    auto foreign = PollAgain("r1/0", *provider_);  // a simulated provider's handle
    ASSERT_FALSE(foreign);
    EXPECT_EQ(foreign.error().code, Code::kInvalidArgument);
}

// ---- Actions --------------------------------------------------------------------------------

// Cordons, drains and rejoins are noderepair's own records (and hooks): libvirt is not
// touched, and the engine's database is not the provider's to write.
TEST_F(LibvirtProviderTest, CordonDrainAndRejoinFinishAtOnceAndTouchNoDomain) {
    const auto before = Domains("h1");
    const auto instance = InstanceNamed("i1");
    for (Action action :
         {Action::kCordonHost, Action::kDrain, Action::kRejoin, Action::kUncordonHost}) {
        ASSERT_TRUE(IsDone(Run(Op(action, "r1/" + std::string(ActionName(action)), "i1", "h1"))))
            << ActionName(action);
    }
    const auto after = Domains("h1");
    ASSERT_EQ(after.size(), before.size());
    for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].id, before[i].id);
    EXPECT_EQ(InstanceNamed("i1").status, instance.status);
    EXPECT_FALSE(HostNamed("h1").cordoned);
}

TEST_F(LibvirtProviderTest, ReservationsAreTheEnginesNotLibvirts) {
    auto refused = Run(Op(Action::kReserve, "r1/reserve_capacity", "i1", "h1"));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, Code::kFailedPrecondition);
}

// libvirt cannot look inside a guest: verify passes at once (the tests themselves need
// hooks.health_check), touches no domain, and its handle survives a restart.
TEST_F(LibvirtProviderTest, VerifyFinishesAtOnceAndTouchesNothing) {
    const auto before = Domains("h1");
    const std::string status = InstanceNamed("i1").status;
    Operation op = Op(Action::kVerify, "r1/5", "i1", "h1");
    op.tests = {"dcgm-diag-r2"};
    ASSERT_TRUE(IsDone(Run(op)));
    EXPECT_EQ(InstanceNamed("i1").status, status);
    EXPECT_EQ(InstanceNamed("i1").host_name, "h1");
    const auto after = Domains("h1");
    ASSERT_EQ(after.size(), before.size());
    for (size_t i = 0; i < after.size(); ++i) {
        EXPECT_EQ(after[i].id, before[i].id);
        EXPECT_EQ(after[i].active, before[i].active);
    }
    auto restarted = NewProvider();
    EXPECT_TRUE(IsDone(PollAgain(last_handle_, *restarted)));
}

TEST_F(LibvirtProviderTest, DeleteVmDestroysAndUndefinesOnlyTheInstancesDomain) {
    ASSERT_TRUE(IsDone(Run(Op(Action::kDeleteVm, "r1/3", "i1", "h1"))));
    const auto left = Domains("h1");
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left[0].name, "bystander");
    EXPECT_TRUE(left[0].active);
}

TEST_F(LibvirtProviderTest, DeleteOfAMissingDomainSucceeds) {
    ASSERT_TRUE(IsDone(Run(Op(Action::kDeleteVm, "r1/3", "i1", "h1"))));
    const std::string handle = last_handle_;
    EXPECT_TRUE(IsDone(PollAgain(handle, *provider_)));
    EXPECT_TRUE(IsDone(Run(Op(Action::kDeleteVm, "r1/3", "i1", "h1"))));  // a retry
    EXPECT_TRUE(IsDone(Run(Op(Action::kDeleteVm, "r2/3", "i1", "h3"))));  // never was there
    EXPECT_TRUE(IsDone(Run(Op(Action::kDeleteVm, "r3/3", "i1", ""))));    // no VM at all
    EXPECT_TRUE(DomainsOfInstance("i1").empty());
    EXPECT_EQ(Domains("h1").size(), 1u);
}

TEST_F(LibvirtProviderTest, DeleteOfAStoppedDomainUndefinesIt) {
    StopDomain("h1", "vm-i1");
    ASSERT_TRUE(IsDone(Run(Op(Action::kDeleteVm, "r1/3", "i1", "h1"))));
    EXPECT_TRUE(DomainsOfInstance("i1").empty());
}

TEST_F(LibvirtProviderTest, EvictVmLeavesTheInstanceWithoutAVm) {
    ASSERT_TRUE(IsDone(Run(Op(Action::kEvictVm, "r1/1", "i2", "h2"))));
    EXPECT_TRUE(Domains("h2").empty());
}

TEST_F(LibvirtProviderTest, ProvisionMakesOneDomainPerKeyWhateverTheRetries) {
    ASSERT_TRUE(IsDone(Run(Op(Action::kDeleteVm, "r1/3", "i1", "h1"))));

    const Operation provision = Op(Action::kProvisionVm, "r1/4", "i1", "h3");
    ASSERT_TRUE(IsDone(Run(provision)));
    const std::string name = LibvirtProvider::DomainNameFor("i1", "r1/4");
    auto made = DomainNamed("h3", name);
    ASSERT_TRUE(made);
    EXPECT_TRUE(made->active);
    EXPECT_EQ(made->instance_id, "i1");

    // A retry with the same provider, and a resume with a new one on the same hypervisor.
    ASSERT_TRUE(IsDone(Run(provision)));
    auto restarted = NewProvider();
    ASSERT_TRUE(IsDone(Run(provision, restarted.get())));
    // A domain that stopped in between is started again, not defined twice.
    StopDomain("h3", name);
    ASSERT_TRUE(IsDone(Run(provision, restarted.get())));

    const auto where = DomainsOfInstance("i1");
    ASSERT_EQ(where.size(), 1u);
    ASSERT_EQ(where.count("h3"), 1u);
    EXPECT_EQ(where.at("h3"), std::vector<std::string>{name});
    EXPECT_TRUE(DomainNamed("h3", name)->active);
}

TEST_F(LibvirtProviderTest, ProvisionNeedsAReservedLibvirtHost) {
    auto nowhere = Run(Op(Action::kProvisionVm, "r1/4", "i1", ""));
    ASSERT_FALSE(nowhere);
    EXPECT_EQ(nowhere.error().code, Code::kFailedPrecondition);

    auto refused = Run(Op(Action::kProvisionVm, "r1/4", "i1", "not-libvirt"));
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("not-libvirt"), std::string::npos);
}

TEST_F(LibvirtProviderTest, RebootVmRestartsTheDomainOncePerKey) {
    // The test driver's reboot leaves no trace, so the guest is stopped first: a reboot
    // brings it back.
    StopDomain("h1", "vm-i1");
    ASSERT_TRUE(IsDone(Run(Op(Action::kRebootVm, "r1/1", "i1", "h1"))));
    EXPECT_TRUE(DomainNamed("h1", "vm-i1")->active);

    StopDomain("h1", "vm-i1");
    auto restarted = NewProvider();
    ASSERT_TRUE(IsDone(Run(Op(Action::kRebootVm, "r1/1", "i1", "h1"), restarted.get())));
    EXPECT_FALSE(DomainNamed("h1", "vm-i1")->active) << "the same step does not reboot twice";

    ASSERT_TRUE(IsDone(Run(Op(Action::kRebootVm, "r2/1", "i1", "h1"))));
    EXPECT_TRUE(DomainNamed("h1", "vm-i1")->active);

    // A running guest takes the test driver's reboot.
    ASSERT_TRUE(IsDone(Run(Op(Action::kRebootVm, "r3/1", "i1", "h1"))));
    EXPECT_TRUE(DomainNamed("h1", "vm-i1")->active);
}

TEST_F(LibvirtProviderTest, RebootOfAnInstanceWithoutADomainFailsNamingIt) {
    // The engine's records say h1, but the domain is gone: a stale record.
    ASSERT_TRUE(IsDone(Run(Op(Action::kDeleteVm, "r1/3", "i1", "h1"))));
    auto failed = Run(Op(Action::kRebootVm, "r2/1", "i1", "h1"));
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().code, Code::kFailedPrecondition);
    EXPECT_NE(failed.error().message.find("i1"), std::string::npos) << failed.error().message;
    EXPECT_NE(failed.error().message.find("h1"), std::string::npos) << failed.error().message;
}

TEST_F(LibvirtProviderTest, PowerCycleRestartsEveryRunningDomainOfTheHostOnce) {
    const unsigned int i1_before = DomainNamed("h1", "vm-i1")->id;
    const unsigned int bystander_before = DomainNamed("h1", "bystander")->id;
    const unsigned int i2_before = DomainNamed("h2", "vm-i2")->id;
    ASSERT_TRUE(IsDone(Run(Op(Action::kPowerCycleHost, "r1/2", "i1", "h1"))));
    auto i1 = DomainNamed("h1", "vm-i1");
    auto bystander = DomainNamed("h1", "bystander");
    EXPECT_TRUE(i1->active);
    EXPECT_TRUE(bystander->active);
    EXPECT_NE(i1->id, i1_before);
    EXPECT_NE(bystander->id, bystander_before);
    EXPECT_EQ(DomainNamed("h2", "vm-i2")->id, i2_before) << "other hosts are untouched";

    // The same step again (a retry, a resume) restarts nothing more.
    auto restarted = NewProvider();
    ASSERT_TRUE(IsDone(Run(Op(Action::kPowerCycleHost, "r1/2", "i1", "h1"), restarted.get())));
    EXPECT_EQ(DomainNamed("h1", "vm-i1")->id, i1->id);
    EXPECT_EQ(DomainNamed("h1", "bystander")->id, bystander->id);

    // A domain that was off before the power cycle stays off.
    StopDomain("h1", "bystander");
    ASSERT_TRUE(IsDone(Run(Op(Action::kPowerCycleHost, "r2/2", "i1", "h1"))));
    EXPECT_FALSE(DomainNamed("h1", "bystander")->active);
    EXPECT_NE(DomainNamed("h1", "vm-i1")->id, i1->id);
}

TEST_F(LibvirtProviderTest, PowerCycleFinishesACycleACrashInterrupted) {
    // The crash came after vm-i1 was marked and stopped, before it started again.
    virDomainPtr domain = virDomainLookupByName(connections_.at("h1").get(), "vm-i1");
    ASSERT_NE(domain, nullptr);
    ASSERT_EQ(virDomainSetMetadata(domain, VIR_DOMAIN_METADATA_ELEMENT,
                                   "<operation key='r1/2' phase='restarting'/>", "nrop",
                                   "https://noderepair.dev/xmlns/operation/1",
                                   VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG),
              0);
    ASSERT_EQ(virDomainDestroy(domain), 0);
    virDomainFree(domain);
    const unsigned int bystander_before = DomainNamed("h1", "bystander")->id;

    ASSERT_TRUE(IsDone(Run(Op(Action::kPowerCycleHost, "r1/2", "i1", "h1"))));
    EXPECT_TRUE(DomainNamed("h1", "vm-i1")->active) << "started again, not left off";
    EXPECT_TRUE(DomainNamed("h1", "bystander")->active);
    EXPECT_NE(DomainNamed("h1", "bystander")->id, bystander_before);
}

TEST_F(LibvirtProviderTest, WaitReadyWaitsUntilTheDomainRuns) {
    StopDomain("h1", "vm-i1");
    auto waiting = Run(Op(Action::kWaitReady, "r1/2", "i1", "h1"));
    ASSERT_TRUE(waiting) << waiting.error().message;
    EXPECT_EQ(waiting->phase, OperationStatus::Phase::kRunning);
    EXPECT_GT(waiting->poll_at, clock_.Now());
    const std::string handle = last_handle_;

    virDomainPtr domain = virDomainLookupByName(connections_.at("h1").get(), "vm-i1");
    ASSERT_NE(domain, nullptr);
    ASSERT_EQ(virDomainCreate(domain), 0);
    virDomainFree(domain);
    auto restarted = NewProvider();
    ASSERT_TRUE(IsDone(PollAgain(handle, *restarted)));
}

// ---- The engine over libvirt ----------------------------------------------------------------

class LibvirtEngineTest : public LibvirtProviderTest {
protected:
    void SetUp() override {
        LibvirtProviderTest::SetUp();
        if (HasFatalFailure()) return;
        control_ = std::make_unique<engine::EngineControl>(*store_);
        model::Remediation r = storage::test_support::MakeRemediation(
            kRemediation, "i1", model::State::kPending, lifecycle_.NextTimestamp());
        r.mode = r.requested_mode = model::Mode::kHostAware;
        r.reason = "xid 79";
        ASSERT_TRUE(Write([r](storage::Txn& txn) {
            return txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(), r);
        }));
    }

    std::unique_ptr<engine::Executor> NewExecutor(Provider& provider,
                                                  engine::ExecutorOptions options = {}) {
        auto executor = std::make_unique<engine::Executor>(*store_, provider, *control_, clock_,
                                                           lifecycle_, options);
        Status resumed = executor->Resume();
        EXPECT_TRUE(resumed) << resumed.error().message;
        return executor;
    }

    model::Remediation Stored() {
        auto r = storage::test_support::GetStored(*store_, kRemediation);
        EXPECT_TRUE(r);
        return r ? *r : model::Remediation{};
    }

    // Scheduling rounds one simulated second apart, until `done` or a bound.
    template <class Done>
    bool RunUntil(engine::Executor& executor, Done done) {
        for (int round = 0; round < 60; ++round) {
            Status ran = executor.RunOnce();
            EXPECT_TRUE(ran) << ran.error().message;
            if (done()) return true;
            clock_.Advance(std::chrono::seconds(1));
        }
        return false;
    }

    bool Finished() { return model::IsTerminal(Stored().state); }

    // The move's outcome: one domain for the instance, on the new host, and the inventory
    // agreeing with libvirt.
    void ExpectMovedToH3() {
        const auto r = Stored();
        EXPECT_EQ(r.state, model::State::kSucceeded) << r.error_message;
        const std::string name =
            LibvirtProvider::DomainNameFor("i1", std::string(kRemediation) + "/provision_vm");
        const auto where = DomainsOfInstance("i1");
        ASSERT_EQ(where.size(), 1u);
        ASSERT_EQ(where.count("h3"), 1u);
        EXPECT_EQ(where.at("h3"), std::vector<std::string>{name});
        EXPECT_TRUE(DomainNamed("h3", name)->active);
        EXPECT_TRUE(DomainNamed("h1", "bystander")->active) << "other VMs of h1 keep running";
        const auto instance = InstanceNamed("i1");
        EXPECT_EQ(instance.host_name, "h3");
        EXPECT_EQ(instance.status, "Ready");
        EXPECT_TRUE(HostNamed("h1").cordoned)
            << "the suspect host stays cordoned (docs/http-api.md 2.1)";
        EXPECT_EQ(HostNamed("h3").used_gpus, 8) << "no reservation is left behind";
    }

    static constexpr const char* kRemediation = "move-i1";
    std::unique_ptr<engine::EngineControl> control_;
};

TEST_F(LibvirtEngineTest, HostAwareMovesTheVmToAnotherHost) {
    auto executor = NewExecutor(*provider_);
    ASSERT_TRUE(RunUntil(*executor, [&] { return Finished(); }));
    executor.reset();
    ExpectMovedToH3();
}

TEST_F(LibvirtEngineTest, HostAwareFinishesAfterARestartInTheMiddle) {
    // The first server dies right after libvirt made the new domain, before the provision's
    // outcome was recorded.
    auto first_provider = NewProvider();
    engine::ExecutorOptions crashing;
    crashing.crash_at = [](engine::Boundary boundary, const std::string&, const std::string& step) {
        return boundary == engine::Boundary::kAfterCall && step == "provision_vm";
    };
    auto first = NewExecutor(*first_provider, crashing);
    ASSERT_TRUE(RunUntil(*first, [&] { return first->Crashed(); }));
    EXPECT_EQ(Stored().state, model::State::kRunning);
    EXPECT_EQ(DomainsOfInstance("i1").size(), 1u) << "libvirt kept what the database lost";
    EXPECT_EQ(InstanceNamed("i1").host_name, "") << "the engine never recorded the new VM";
    first.reset();
    first_provider.reset();

    // The restarted server: new provider and executor objects, the same hypervisors.
    auto second_provider = NewProvider();
    auto second = NewExecutor(*second_provider);
    ASSERT_TRUE(RunUntil(*second, [&] { return Finished(); }));
    second.reset();
    ExpectMovedToH3();
}

}  // namespace
}  // namespace noderepair::providers::libvirt
