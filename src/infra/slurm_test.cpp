#include "infra/slurm.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "infra/command.hpp"
#include "infra/fleet_infra.hpp"
#include "infra/slurm_listing_conf.hpp"
#include "infra/slurm_watcher.hpp"

namespace noderepair::infra {
namespace {

constexpr const char* kShow =
    "NodeName=node01 Arch=x86_64 CoresPerSocket=1  CPUAlloc=0 State=IDLE ThreadsPerCore=1 "
    "OS=Linux 6.1 #1 SMP PREEMPT_DYNAMIC @0  SlurmdStartTime=2024-05-01T10:11:12 "
    "CurrentWatts=0 ExtSensorsTemp=n/s\n"
    "NodeName=node02 Arch=x86_64 State=IDLE+DRAIN SlurmdStartTime=2024-05-01T10:11:12 "
    "ExtSensorsTemp=n/s Reason=maint window [root@2024-05-01T10:12:00]\n"
    "NodeName=node03 State=DOWN+NOT_RESPONDING SlurmdStartTime=None Reason=Not responding "
    "[slurm@2024-05-01T10:13:00]\n"
    "NodeName=node04 State=IDLE+DRAIN+INVALID_REG SlurmdStartTime=2024-05-01T10:11:12 "
    "Reason=gres/gpu count reported lower than configured (1 < 2) [slurm@2024-05-01T10:14:00]\n"
    "NodeName=node05 State=MIXED+DRAIN Reason=noderepair 0190abc: Xid 79 "
    "[root@2024-05-01T10:15:00]\n"
    "NodeName=node06 State=IDLE+DRAIN Reason=NHC: nvidia-smi failed [root@2024-05-01T10:15:00]\n";

TEST(SlurmTest, ParsesStatesFlagsReasonsAndStartTimes) {
    auto nodes = ParseShowNodes(kShow);
    ASSERT_EQ(nodes.size(), 6u);
    EXPECT_EQ(nodes[0].name, "node01");
    EXPECT_TRUE(nodes[0].Healthy());
    EXPECT_EQ(nodes[0].slurmd_start, ParseSlurmTime("2024-05-01T10:11:12"));
    EXPECT_GT(nodes[0].slurmd_start, 0);
    EXPECT_EQ(nodes[1].reason, "maint window");
    EXPECT_TRUE(nodes[1].Drained());
    EXPECT_TRUE(nodes[1].HeldBySomeoneElse());
    EXPECT_EQ(nodes[2].state, "DOWN");
    EXPECT_FALSE(nodes[2].Responding());
    EXPECT_FALSE(nodes[2].HeldBySomeoneElse());  // Slurm's own: noderepair may take it over
    EXPECT_EQ(nodes[2].slurmd_start, 0);
    EXPECT_TRUE(nodes[3].Has("INVALID_REG"));
    EXPECT_FALSE(nodes[3].HeldBySomeoneElse());
    EXPECT_TRUE(nodes[4].OurReason());
    EXPECT_FALSE(nodes[4].Drained());  // a job still runs: draining
}

TEST(SlurmTest, WatcherRaisesForSlurmsFaultsAndMatchingReasonsOnly) {
    auto patterns = SlurmWatcher::CompilePatterns({"^NHC", "(?i)xid", "(?i)gpu", "(?i)ecc"});
    ASSERT_TRUE(patterns);
    SlurmClient slurm("", std::chrono::seconds(1));
    SystemClock clock;
    SlurmWatcher watcher(slurm, *patterns, clock, [](auto) {});
    auto nodes = ParseShowNodes(kShow);
    const Timestamp now = clock.Now();
    EXPECT_EQ(watcher.UnavailableReason(nodes[0], now), "");
    EXPECT_EQ(watcher.UnavailableReason(nodes[1], now), "");  // an operator's maintenance drain
    EXPECT_EQ(watcher.UnavailableReason(nodes[2], now), "Not responding");
    EXPECT_EQ(watcher.UnavailableReason(nodes[3], now),
              "gres/gpu count reported lower than configured (1 < 2)");
    EXPECT_EQ(watcher.UnavailableReason(nodes[4], now), "");  // ours, though it says Xid
    EXPECT_EQ(watcher.UnavailableReason(nodes[5], now), "NHC: nvidia-smi failed");
}

// Just after noderepair resumed a node it had power-cycled, slurmctld may still show it not
// responding (a ping of the slurmd the cycle killed): that is noderepair's own doing, for a
// while; a node still not responding after the grace is a fault again.
TEST(SlurmTest, WatcherIgnoresNotRespondingJustAfterOurResumeForAWhile) {
    auto patterns = SlurmWatcher::CompilePatterns({"(?i)gpu"});
    ASSERT_TRUE(patterns);
    SlurmClient slurm("", std::chrono::seconds(1));
    FakeClock clock(FromMicros(1'700'000'000'000'000));
    const Timestamp resumed = clock.Now();
    SlurmWatcher watcher(
        slurm, *patterns, clock, [](auto) {},
        [&](const std::string& node) -> std::optional<Timestamp> {
            if (node == "node01" || node == "node04") return resumed;
            return std::nullopt;
        });
    auto nodes = ParseShowNodes(
        "NodeName=node01 State=IDLE+NOT_RESPONDING SlurmdStartTime=2024-05-01T10:11:12\n"
        "NodeName=node02 State=IDLE+NOT_RESPONDING SlurmdStartTime=2024-05-01T10:11:12\n"
        "NodeName=node04 State=IDLE+DRAIN+INVALID_REG Reason=gres/gpu count reported lower "
        "than configured (1 < 2) [slurm@2024-05-01T10:14:00]\n");
    ASSERT_EQ(nodes.size(), 3u);
    clock.Advance(std::chrono::seconds(2));
    EXPECT_EQ(watcher.UnavailableReason(nodes[0], clock.Now()), "");  // just resumed by us
    EXPECT_EQ(watcher.UnavailableReason(nodes[1], clock.Now()), "Not responding");  // not ours
    // Fewer GPUs after the cycle is a fault at once, resumed or not.
    EXPECT_EQ(watcher.UnavailableReason(nodes[2], clock.Now()),
              "gres/gpu count reported lower than configured (1 < 2)");
    clock.Set(resumed + kSettleAfterResume);
    EXPECT_EQ(watcher.UnavailableReason(nodes[0], clock.Now()), "Not responding");
}

TEST(SlurmTest, BadSignalPatternIsRefused) {
    auto patterns = SlurmWatcher::CompilePatterns({"(unclosed"});
    ASSERT_FALSE(patterns);
    EXPECT_NE(patterns.error().message.find("(unclosed"), std::string::npos);
}

TEST(SlurmListingConfTest, StripsNodeDeclarationsKeepsTheRest) {
    const std::string conf =
        "ClusterName=big\n"
        "SlurmctldHost=localhost\n"
        "NodeName=node[0001-1000] CPUs=1 State=UNKNOWN\n"
        "  nodename=odd CPUs=2 \\\n"
        "    RealMemory=100\n"
        "PartitionName=gpu Nodes=ALL Default=YES\n"
        "NodeSet=ns Feature=gpu\n"
        "DownNodes=node0001 State=DOWN\n"
        "NodeNameIsNotAKey=1\n"
        "Include extra.conf\n"
        "Include /abs/other.conf\n"
        "SlurmdTimeout=10\n";
    EXPECT_EQ(StripNodeLines(conf, "/etc/slurm"),
              "ClusterName=big\n"
              "SlurmctldHost=localhost\n"
              "NodeNameIsNotAKey=1\n"
              "Include /etc/slurm/extra.conf\n"
              "Include /abs/other.conf\n"
              "SlurmdTimeout=10\n");
}

TEST(SlurmListingConfTest, WrittenOnceRewrittenWhenTheOriginalChangesRemovedAtTheEnd) {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("nr-listing-" + std::to_string(getpid()));
    fs::create_directories(dir);
    const fs::path original = dir / "slurm.conf";
    const auto write = [&](const std::string& text) { std::ofstream(original) << text; };
    const auto read = [](const std::string& path) {
        std::stringstream text;
        text << std::ifstream(path).rdbuf();
        return text.str();
    };
    write("ClusterName=a\nNodeName=n1\n");
    std::string copy;
    {
        SlurmListingConf listing(original.string());
        auto path = listing.Path();
        ASSERT_TRUE(path) << path.error().message;
        copy = *path;
        EXPECT_NE(fs::path(copy).parent_path(), dir);
        EXPECT_EQ(read(copy), "ClusterName=a\n");
        write("ClusterName=b\nNodeName=n1\n");
        fs::last_write_time(original, fs::last_write_time(original) + std::chrono::seconds(5));
        ASSERT_TRUE(listing.Path());
        EXPECT_EQ(read(copy), "ClusterName=b\n");
    }
    EXPECT_FALSE(fs::exists(fs::path(copy).parent_path()));
    // A copy left by a process killed with SIGKILL goes when the next one makes its own.
    const fs::path stale = fs::temp_directory_path() / "noderepair-slurm-2147483646-abcdef";
    fs::create_directories(stale);
    {
        SlurmListingConf listing(original.string());
        ASSERT_TRUE(listing.Path());
        EXPECT_FALSE(fs::exists(stale));
    }
    {
        SlurmListingConf missing((dir / "absent.conf").string());
        EXPECT_FALSE(missing.Path());
    }
    fs::remove_all(dir);
}

// More than a pipe holds, written faster than we read: all of it arrives (scontrol's listing
// of 1,000 nodes is about 535 KB).
TEST(CommandTest, ReadsAnOutputLargerThanThePipeWhole) {
    auto ran = RunCommand({"sh", "-c", "head -c 4000000 /dev/zero && echo done >&2"}, {},
                          std::chrono::seconds(20));
    ASSERT_TRUE(ran) << ran.error().message;
    EXPECT_EQ(ran->exit_status, 0) << ran->err;
    EXPECT_EQ(ran->out.size(), 4000000u);
    EXPECT_EQ(ran->err, "done\n");
}

TEST(FleetInfraTest, ReadsBmcsAndWorkloads) {
    auto infra = ParseFleetInfra(R"({"hosts": [{"host_name": "h1", "gpu_slots": 8,
        "bmc": {"address": "127.0.0.1:9701", "username": "admin", "password_file": "/p"}},
        {"host_name": "h2", "gpu_slots": 8}],
      "clusters": [{"cluster_id": "c1", "instances": [],
        "workload": {"manager": "slurm", "slurm_conf": "/etc/slurm-c1/slurm.conf"}}]})");
    ASSERT_TRUE(infra) << infra.error().message;
    ASSERT_EQ(infra->bmcs.size(), 1u);
    EXPECT_EQ(infra->bmcs.at("h1").address, "127.0.0.1:9701");
    EXPECT_EQ(infra->workloads.at("c1").slurm_conf, "/etc/slurm-c1/slurm.conf");
}

TEST(FleetInfraTest, APasswordInTheFleetFileIsRefused) {
    auto infra = ParseFleetInfra(R"({"hosts": [{"host_name": "h1",
        "bmc": {"address": "x", "username": "admin", "password": "secret"}}], "clusters": []})");
    ASSERT_FALSE(infra);
    EXPECT_NE(infra.error().message.find("password_file"), std::string::npos);
}

}  // namespace
}  // namespace noderepair::infra
