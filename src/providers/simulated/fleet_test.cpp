#include "providers/simulated/fleet.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <string>

#include "storage/store_contract_test.hpp"

namespace noderepair::providers::simulated {
namespace {

using std::chrono::milliseconds;

constexpr const char* kValidFleet = R"({
  "hosts": [
    {"host_name": "h1", "gpu_slots": 8},
    {"host_name": "h2", "gpu_slots": 8},
    {"host_name": "h3", "gpu_slots": 4}
  ],
  "clusters": [
    {"cluster_id": "c1", "cluster_name": "Cluster One", "instances": [
      {"instance_id": "i1", "instance_name": "node-1", "num_gpus": 8, "host": "h1"},
      {"instance_id": "i2", "instance_name": "node-2", "num_gpus": 4, "host": "h2"},
      {"instance_id": "i3", "instance_name": "node-3", "num_gpus": 4, "host": "h2"}
    ]},
    {"cluster_id": "c2", "instances": [
      {"instance_id": "j1", "num_gpus": 2, "host": "h3"},
      {"instance_id": "j2", "num_gpus": 8},
      {"instance_id": "j3", "num_gpus": 8, "host": null}
    ]}
  ],
  "timing": {"cordon": 0, "drain": 1, "delete_vm": 2, "provision_vm": 3, "boot": 4,
             "reboot": 5, "power_cycle": 6}
})";

void ExpectRejected(const std::string& json, const std::string& why_contains = "") {
    auto parsed = ParseFleet(json);
    ASSERT_FALSE(parsed) << "accepted:\n" << json;
    EXPECT_EQ(parsed.error().code, Code::kInvalidArgument);
    if (!why_contains.empty()) {
        EXPECT_NE(parsed.error().message.find(why_contains), std::string::npos)
            << parsed.error().message;
    }
}

// A fleet with one host h1 (8 slots) and the given instances array of cluster c1.
std::string OneCluster(const std::string& instances, const std::string& extra = "") {
    return R"({"hosts": [{"host_name": "h1", "gpu_slots": 8}], "clusters": [{"cluster_id": "c1",
               "instances": )" +
           instances + "}]" + extra + "}";
}

TEST(ParseFleet, ReadsAValidFleet) {
    auto parsed = ParseFleet(kValidFleet);
    ASSERT_TRUE(parsed) << parsed.error().message;
    const auto& inv = parsed->inventory;
    ASSERT_EQ(inv.hosts.size(), 3u);
    EXPECT_EQ(inv.hosts[0].host_name, "h1");
    EXPECT_EQ(inv.hosts[2].gpu_slots, 4);
    ASSERT_EQ(inv.clusters.size(), 2u);
    const auto& c1 = inv.clusters[0];
    EXPECT_EQ(c1.cluster_id, "c1");
    EXPECT_EQ(c1.cluster_name, "Cluster One");
    ASSERT_EQ(c1.gpu_worker_nodes.size(), 3u);
    const auto& i1 = c1.gpu_worker_nodes[0];
    EXPECT_EQ(i1.instance_id, "i1");
    EXPECT_EQ(i1.instance_name, "node-1");
    EXPECT_EQ(i1.num_gpus, 8);
    EXPECT_EQ(i1.host_name, "h1");
    EXPECT_EQ(i1.cluster_id, "c1");
    EXPECT_EQ(i1.status, "Ready");
}

TEST(ParseFleet, DefaultsNamesToIds) {
    auto parsed = ParseFleet(kValidFleet);
    ASSERT_TRUE(parsed) << parsed.error().message;
    const auto& c2 = parsed->inventory.clusters[1];
    EXPECT_EQ(c2.cluster_name, "c2");
    EXPECT_EQ(c2.gpu_worker_nodes[0].instance_name, "j1");
}

TEST(ParseFleet, InstanceWithoutHostIsEvicted) {
    auto parsed = ParseFleet(kValidFleet);
    ASSERT_TRUE(parsed) << parsed.error().message;
    const auto& nodes = parsed->inventory.clusters[1].gpu_worker_nodes;
    for (size_t i : {size_t(1), size_t(2)}) {
        EXPECT_EQ(nodes[i].host_name, "") << nodes[i].instance_id;
        EXPECT_EQ(nodes[i].status, "Evicted") << nodes[i].instance_id;
    }
}

// docs/http-api.md 11: a host's rack, optional, a string.
TEST(ParseFleet, ReadsAHostsRack) {
    auto parsed = ParseFleet(
        R"({"hosts": [{"host_name": "h1", "gpu_slots": 8, "rack": "r12"},
                      {"host_name": "h2", "gpu_slots": 8}],
            "clusters": []})");
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->inventory.hosts[0].rack, "r12");
    EXPECT_EQ(parsed->inventory.hosts[1].rack, "");
    EXPECT_FALSE(ParseFleet(R"({"hosts": [{"host_name": "h1", "gpu_slots": 8, "rack": 12}],
                                "clusters": []})"));
}

TEST(DemoFleet, PutsEightHostsInEachRack) {
    const Fleet demo = DemoFleet();
    std::map<std::string, int> per_rack;
    for (const auto& h : demo.inventory.hosts) ++per_rack[h.rack];
    EXPECT_EQ(per_rack.size(), 5u);
    for (const auto& [rack, hosts] : per_rack) EXPECT_EQ(hosts, 8) << rack;
}

TEST(ParseFleet, ReadsTiming) {
    auto parsed = ParseFleet(kValidFleet);
    ASSERT_TRUE(parsed) << parsed.error().message;
    const Timing& t = parsed->timing;
    EXPECT_EQ(t.cordon, milliseconds(0));
    EXPECT_EQ(t.drain, milliseconds(1));
    EXPECT_EQ(t.delete_vm, milliseconds(2));
    EXPECT_EQ(t.provision_vm, milliseconds(3));
    EXPECT_EQ(t.boot, milliseconds(4));
    EXPECT_EQ(t.reboot, milliseconds(5));
    EXPECT_EQ(t.power_cycle, milliseconds(6));
}

TEST(ParseFleet, TimingIsOptionalAndPartial) {
    auto none = ParseFleet(OneCluster("[]"));
    ASSERT_TRUE(none) << none.error().message;
    EXPECT_EQ(none->timing.boot, milliseconds(0));
    auto partial = ParseFleet(OneCluster("[]", R"(, "timing": {"boot": 250})"));
    ASSERT_TRUE(partial) << partial.error().message;
    EXPECT_EQ(partial->timing.boot, milliseconds(250));
    EXPECT_EQ(partial->timing.reboot, milliseconds(0));
}

TEST(ParseFleet, HostExactlyFullIsFine) {
    auto parsed = ParseFleet(OneCluster(
        R"([{"instance_id": "a", "num_gpus": 4, "host": "h1"},
            {"instance_id": "b", "num_gpus": 4, "host": "h1"}])"));
    ASSERT_TRUE(parsed) << parsed.error().message;
}

TEST(ParseFleet, RejectsOverfullHost) {
    ExpectRejected(OneCluster(R"([{"instance_id": "a", "num_gpus": 9, "host": "h1"}])"), "h1");
    ExpectRejected(OneCluster(R"([{"instance_id": "a", "num_gpus": 4, "host": "h1"},
                                  {"instance_id": "b", "num_gpus": 5, "host": "h1"}])"),
                   "h1");
}

TEST(ParseFleet, RejectsOverfullHostAcrossClusters) {
    ExpectRejected(R"({"hosts": [{"host_name": "h1", "gpu_slots": 8}], "clusters": [
        {"cluster_id": "c1", "instances": [{"instance_id": "a", "num_gpus": 8, "host": "h1"}]},
        {"cluster_id": "c2", "instances": [{"instance_id": "b", "num_gpus": 1, "host": "h1"}]}
    ]})",
                   "h1");
}

TEST(ParseFleet, RejectsUnknownHost) {
    ExpectRejected(OneCluster(R"([{"instance_id": "a", "num_gpus": 1, "host": "h9"}])"), "h9");
}

TEST(ParseFleet, RejectsDuplicates) {
    ExpectRejected(R"({"hosts": [{"host_name": "h1", "gpu_slots": 8},
                                 {"host_name": "h1", "gpu_slots": 4}], "clusters": []})",
                   "h1");
    ExpectRejected(R"({"hosts": [], "clusters": [{"cluster_id": "c1", "instances": []},
                                                 {"cluster_id": "c1", "instances": []}]})",
                   "c1");
    ExpectRejected(OneCluster(R"([{"instance_id": "a", "num_gpus": 1},
                                  {"instance_id": "a", "num_gpus": 1}])"),
                   "'a'");
    // Instance ids are unique across the whole fleet (docs/http-api.md 4.7).
    ExpectRejected(R"({"hosts": [], "clusters": [
        {"cluster_id": "c1", "instances": [{"instance_id": "a", "num_gpus": 1}]},
        {"cluster_id": "c2", "instances": [{"instance_id": "a", "num_gpus": 1}]}]})",
                   "'a'");
}

TEST(ParseFleet, RejectsDuplicateJsonKeys) {
    ExpectRejected(R"({"hosts": [], "hosts": [], "clusters": []})");
    ExpectRejected(OneCluster(R"([{"instance_id": "a", "instance_id": "b", "num_gpus": 1}])"));
}

TEST(ParseFleet, RejectsBadTypes) {
    ExpectRejected("[]");
    ExpectRejected("{}");
    ExpectRejected(R"({"hosts": [], "clusters": {}})");
    ExpectRejected(R"({"hosts": {}, "clusters": []})");
    ExpectRejected(R"({"hosts": ["h1"], "clusters": []})");
    ExpectRejected(R"({"hosts": [{"host_name": "h1", "gpu_slots": "8"}], "clusters": []})");
    ExpectRejected(R"({"hosts": [{"host_name": "h1", "gpu_slots": 8.5}], "clusters": []})");
    ExpectRejected(R"({"hosts": [{"host_name": "h1", "gpu_slots": -1}], "clusters": []})");
    ExpectRejected(R"({"hosts": [{"host_name": "", "gpu_slots": 8}], "clusters": []})");
    ExpectRejected(R"({"hosts": [{"host_name": 1, "gpu_slots": 8}], "clusters": []})");
    ExpectRejected(R"({"hosts": [{"gpu_slots": 8}], "clusters": []})");
    ExpectRejected(R"({"hosts": [], "clusters": [{"cluster_id": 1, "instances": []}]})");
    ExpectRejected(R"({"hosts": [], "clusters": [{"cluster_id": "c1"}]})");
    ExpectRejected(R"({"hosts": [], "clusters": [{"cluster_id": "c1", "cluster_name": 2,
                                                 "instances": []}]})");
    ExpectRejected(R"({"hosts": [], "clusters": ["c1"]})");
    ExpectRejected(OneCluster(R"(["a"])"));
    ExpectRejected(OneCluster(R"([{"instance_id": 5, "num_gpus": 1}])"));
    ExpectRejected(OneCluster(R"([{"instance_id": "a"}])"));
    ExpectRejected(OneCluster(R"([{"instance_id": "a", "num_gpus": "8"}])"));
    ExpectRejected(OneCluster(R"([{"instance_id": "a", "num_gpus": -1}])"));
    ExpectRejected(OneCluster(R"([{"instance_id": "a", "num_gpus": 1.5}])"));
    ExpectRejected(OneCluster(R"([{"instance_id": "a", "num_gpus": 1, "host": 1}])"));
    ExpectRejected(OneCluster(R"([{"instance_id": "a", "num_gpus": 1, "host": ""}])"));
    ExpectRejected(OneCluster(R"([{"instance_id": "a", "num_gpus": 1, "instance_name": 3}])"));
    ExpectRejected(OneCluster(R"([{"instance_id": "a", "num_gpus": 1e400}])"));
}

// Found by fuzz/fleet_fuzzer: an integer over INT64_MAX made Boost.JSON throw instead of the
// parser refusing it.
TEST(ParseFleet, RejectsIntegersTooLargeForInt64) {
    ExpectRejected(R"({"hosts": [{"host_name": "h1", "gpu_slots": 18446744073709551615}],
                       "clusters": []})",
                   "gpu_slots");
    ExpectRejected(OneCluster(R"([{"instance_id": "a", "num_gpus": 9223372036854775808}])"),
                   "num_gpus");
    ExpectRejected(OneCluster("[]", R"(, "timing": {"boot": 9223372036854775808})"), "boot");
    ExpectRejected(OneCluster(R"([{"instance_id": "a", "num_gpus": 1000001}])"), "num_gpus");
}

TEST(ParseFleet, RejectsBadTiming) {
    ExpectRejected(OneCluster("[]", R"(, "timing": {"teleport": 5})"), "teleport");
    ExpectRejected(OneCluster("[]", R"(, "timing": {"boot": -1})"));
    ExpectRejected(OneCluster("[]", R"(, "timing": {"boot": "1s"})"));
    ExpectRejected(OneCluster("[]", R"(, "timing": {"boot": 1.5})"));
    ExpectRejected(OneCluster("[]", R"(, "timing": [1, 2])"));
    ExpectRejected(OneCluster("[]", R"(, "timing": 5)"));
}

TEST(ParseFleet, RejectsMalformedJson) {
    ExpectRejected("");
    ExpectRejected("{\"hosts\": [");
    ExpectRejected(std::string(kValidFleet) + " trailing");
}

TEST(LoadFleetFile, ReadsAFileAndNamesItInErrors) {
    storage::test_support::ScopedTempDir dir;
    const std::string good = dir.path() + "/fleet.json";
    std::ofstream(good) << kValidFleet;
    auto loaded = LoadFleetFile(good);
    ASSERT_TRUE(loaded) << loaded.error().message;
    EXPECT_EQ(loaded->inventory.clusters.size(), 2u);

    const std::string bad = dir.path() + "/bad.json";
    std::ofstream(bad) << "{}";
    auto failed = LoadFleetFile(bad);
    ASSERT_FALSE(failed);
    EXPECT_NE(failed.error().message.find(bad), std::string::npos) << failed.error().message;
    EXPECT_FALSE(LoadFleetFile(dir.path() + "/missing.json"));
}

TEST(DemoFleet, TwoClustersOfSixteenEightGpuNodesOnFortyHosts) {
    const Fleet fleet = DemoFleet();
    const auto& inv = fleet.inventory;
    ASSERT_EQ(inv.hosts.size(), 40u);
    std::map<std::string, int> free;
    for (const auto& h : inv.hosts) {
        EXPECT_EQ(h.gpu_slots, 8) << h.host_name;
        EXPECT_TRUE(free.emplace(h.host_name, h.gpu_slots).second) << h.host_name;
    }
    ASSERT_EQ(inv.clusters.size(), 2u);
    std::set<std::string> cluster_ids;
    std::set<std::string> instance_ids;
    std::set<std::string> names;
    for (const auto& c : inv.clusters) {
        EXPECT_TRUE(cluster_ids.insert(c.cluster_id).second);
        EXPECT_FALSE(c.cluster_name.empty());
        ASSERT_EQ(c.gpu_worker_nodes.size(), 16u) << c.cluster_id;
        for (const auto& n : c.gpu_worker_nodes) {
            EXPECT_TRUE(instance_ids.insert(n.instance_id).second) << n.instance_id;
            EXPECT_TRUE(names.insert(n.instance_name).second) << n.instance_name;
            EXPECT_EQ(n.cluster_id, c.cluster_id);
            EXPECT_EQ(n.num_gpus, 8);
            EXPECT_EQ(n.status, "Ready");
            ASSERT_TRUE(free.contains(n.host_name)) << n.host_name;
            free[n.host_name] -= n.num_gpus;
            EXPECT_GE(free[n.host_name], 0) << n.host_name << " is overfull";
        }
    }
    int spare_hosts = 0;
    for (const auto& [name, slots] : free) spare_hosts += slots == 8 ? 1 : 0;
    EXPECT_EQ(spare_hosts, 8);  // room for HOST_AWARE replacements
}

TEST(DemoFleet, IsAlsoAValidFleetFile) {
    // The demo must satisfy the same rules as a fleet file: rebuild it as JSON and parse it.
    const Fleet demo = DemoFleet();
    std::string json = R"({"hosts": [)";
    for (size_t i = 0; i < demo.inventory.hosts.size(); ++i) {
        const auto& h = demo.inventory.hosts[i];
        json += (i ? "," : "") + std::string(R"({"host_name": ")") + h.host_name +
                R"(", "gpu_slots": )" + std::to_string(h.gpu_slots) + "}";
    }
    json += R"(], "clusters": [)";
    for (size_t c = 0; c < demo.inventory.clusters.size(); ++c) {
        const auto& cl = demo.inventory.clusters[c];
        json += (c ? "," : "") + std::string(R"({"cluster_id": ")") + cl.cluster_id +
                R"(", "cluster_name": ")" + cl.cluster_name + R"(", "instances": [)";
        for (size_t i = 0; i < cl.gpu_worker_nodes.size(); ++i) {
            const auto& n = cl.gpu_worker_nodes[i];
            json += (i ? "," : "") + std::string(R"({"instance_id": ")") + n.instance_id +
                    R"(", "instance_name": ")" + n.instance_name + R"(", "num_gpus": )" +
                    std::to_string(n.num_gpus) + R"(, "host": ")" + n.host_name + R"("})";
        }
        json += "]}";
    }
    json += "]}";
    auto parsed = ParseFleet(json);
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->inventory.clusters[1].gpu_worker_nodes[15].instance_id,
              demo.inventory.clusters[1].gpu_worker_nodes[15].instance_id);
}

TEST(DemoFleet, HasObservableTimings) {
    const Timing t = DemoFleet().timing;
    for (milliseconds ms :
         {t.cordon, t.drain, t.delete_vm, t.provision_vm, t.boot, t.reboot, t.power_cycle}) {
        EXPECT_GT(ms, milliseconds(0));
    }
}

}  // namespace
}  // namespace noderepair::providers::simulated
