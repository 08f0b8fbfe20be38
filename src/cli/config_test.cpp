#include "cli/config.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "storage/store_contract_test.hpp"

namespace noderepair::cli {
namespace {

void ExpectRejected(const std::string& yaml) {
    auto parsed = ParseConfig(yaml);
    ASSERT_FALSE(parsed) << "accepted:\n" << yaml;
    EXPECT_EQ(parsed.error().code, Code::kInvalidArgument) << yaml;
    EXPECT_FALSE(parsed.error().message.empty());
}

void ExpectDefaults(const Config& c) {
    EXPECT_EQ(c.listen, "127.0.0.1:8080");
    EXPECT_EQ(c.db, "sqlite:./noderepair.db");
    EXPECT_FALSE(c.engine.paused);
    EXPECT_EQ(c.engine.capacity_wait_s, 600);
    EXPECT_EQ(c.engine.step_timeout_s, 900);
    EXPECT_EQ(c.engine.lease_s, 15);
    EXPECT_TRUE(c.engine.verify_tests.empty());
    EXPECT_EQ(c.automation.auto_resolve_ttl_s, 300);
    EXPECT_EQ(c.automation.cooldown_s, 1800);
    EXPECT_DOUBLE_EQ(c.automation.max_active_fraction, 0.10);
    EXPECT_EQ(c.automation.max_active, 0);
    EXPECT_DOUBLE_EQ(c.server.rate_limit_per_token_rps, 0);
    EXPECT_EQ(c.hooks.drain, "");
    EXPECT_EQ(c.hooks.rejoin, "");
    EXPECT_EQ(c.hooks.health_check, "");
}

// docs/http-api.md 7: every key is optional; the defaults are the ones shown there.
TEST(ParseConfig, EmptyDocumentGivesTheContractDefaults) {
    for (const char* text : {"", "\n", "# only a comment\n", "---\n"}) {
        auto parsed = ParseConfig(text);
        ASSERT_TRUE(parsed) << "'" << text << "': " << parsed.error().message;
        ExpectDefaults(*parsed);
    }
}

TEST(ParseConfig, DefaultConfigStructMatchesTheContract) { ExpectDefaults(Config{}); }

TEST(ParseConfig, ReadsEveryContractKey) {
    auto parsed = ParseConfig(R"(
listen: 0.0.0.0:9090
db: sqlite:/var/lib/noderepair.db
engine:
  paused: true
  capacity_wait_s: 5
  step_timeout_s: 60
  verify_tests: [dcgm_diag, nccl_single_node]
automation:
  auto_resolve_ttl_s: 30
  cooldown_s: 0
  max_active_fraction: 0.5
  max_active: 3
server:
  rate_limit_per_token_rps: 12.5
hooks:
  drain: scontrol update NodeName=$NODEREPAIR_NODE State=DRAIN Reason=repair
  rejoin: /usr/local/bin/rejoin
  health_check: "/usr/local/bin/check --test=$NODEREPAIR_TEST"
)");
    ASSERT_TRUE(parsed) << parsed.error().message;
    const Config& c = *parsed;
    EXPECT_EQ(c.listen, "0.0.0.0:9090");
    EXPECT_EQ(c.db, "sqlite:/var/lib/noderepair.db");
    EXPECT_TRUE(c.engine.paused);
    EXPECT_EQ(c.engine.capacity_wait_s, 5);
    EXPECT_EQ(c.engine.step_timeout_s, 60);
    EXPECT_EQ(c.engine.verify_tests, (std::vector<std::string>{"dcgm_diag", "nccl_single_node"}));
    EXPECT_EQ(c.automation.auto_resolve_ttl_s, 30);
    EXPECT_EQ(c.automation.cooldown_s, 0);
    EXPECT_DOUBLE_EQ(c.automation.max_active_fraction, 0.5);
    EXPECT_EQ(c.automation.max_active, 3);
    EXPECT_DOUBLE_EQ(c.server.rate_limit_per_token_rps, 12.5);
    EXPECT_EQ(c.hooks.drain, "scontrol update NodeName=$NODEREPAIR_NODE State=DRAIN Reason=repair");
    EXPECT_EQ(c.hooks.rejoin, "/usr/local/bin/rejoin");
    EXPECT_EQ(c.hooks.health_check, "/usr/local/bin/check --test=$NODEREPAIR_TEST");
}

TEST(ParseConfig, ReadsTheExtensionKeys) {
    auto parsed =
        ParseConfig("server: {io_threads: 4, worker_threads: 3}\nstorage: {max_batch: 1}\n");
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->server.io_threads, 4);
    EXPECT_EQ(parsed->server.worker_threads, 3);
    EXPECT_EQ(parsed->WorkerThreads(), 3);
    EXPECT_EQ(parsed->storage.max_batch, 1);
}

// docs/http-api.md 10: TLS and the overload bounds.
TEST(ParseConfig, ReadsTheSecurityKeys) {
    auto parsed = ParseConfig(
        "server:\n  max_connections: 100\n  max_queued_requests: 8\n  request_deadline_s: 5\n"
        "  tls: {cert_file: /etc/nr/cert.pem, key_file: /etc/nr/key.pem}\n"
        "storage: {max_queued_writes: 16}\n");
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->server.max_connections, 100);
    EXPECT_EQ(parsed->server.max_queued_requests, 8);
    EXPECT_EQ(parsed->server.request_deadline_s, 5);
    EXPECT_EQ(parsed->server.tls.cert_file, "/etc/nr/cert.pem");
    EXPECT_EQ(parsed->server.tls.key_file, "/etc/nr/key.pem");
    EXPECT_EQ(parsed->storage.max_queued_writes, 16);
    const Config defaults;
    EXPECT_EQ(defaults.server.max_connections, 4096);
    EXPECT_TRUE(defaults.server.tls.cert_file.empty());
}

TEST(ParseConfig, RejectsHalfATlsConfigurationAndBoundsBelowOne) {
    ExpectRejected("server: {tls: {cert_file: /etc/nr/cert.pem}}\n");
    ExpectRejected("server: {tls: {key_file: /etc/nr/key.pem}}\n");
    ExpectRejected("server: {tls: {ca_file: /etc/nr/ca.pem}}\n");
    ExpectRejected("server: {max_connections: 0}\n");
    ExpectRejected("server: {max_queued_requests: 0}\n");
    ExpectRejected("server: {request_deadline_s: 0}\n");
    ExpectRejected("storage: {max_queued_writes: -1}\n");
}

// docs/http-api.md 9: PostgreSQL's writer connections.
TEST(ParseConfig, ReadsTheStorageWritersAndRejectsNone) {
    auto parsed = ParseConfig("storage: {writers: 8}\n");
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->storage.writers, 8);
    EXPECT_EQ(Config{}.storage.writers, 1);
    ExpectRejected("storage: {writers: 0}\n");
}

TEST(ParseConfig, KeysNotGivenKeepTheirDefaults) {
    auto parsed = ParseConfig("engine:\n  paused: true\n");
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_TRUE(parsed->engine.paused);
    EXPECT_EQ(parsed->engine.capacity_wait_s, 600);
    EXPECT_EQ(parsed->automation.cooldown_s, 1800);
    EXPECT_EQ(parsed->listen, "127.0.0.1:8080");
}

TEST(ParseConfig, AcceptsJson) {
    auto parsed = ParseConfig(
        R"({"listen": "127.0.0.1:0", "engine": {"paused": true, "verify_tests": ["gpu_burn"]},
            "automation": {"max_active_fraction": 1}})");
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->listen, "127.0.0.1:0");
    EXPECT_TRUE(parsed->engine.paused);
    EXPECT_EQ(parsed->engine.verify_tests, std::vector<std::string>{"gpu_burn"});
    EXPECT_DOUBLE_EQ(parsed->automation.max_active_fraction, 1.0);
}

TEST(ParseConfig, AcceptsBoundaryValues) {
    auto parsed = ParseConfig(
        "engine: {capacity_wait_s: 0, step_timeout_s: 1}\n"
        "server: {io_threads: 1, worker_threads: 0, rate_limit_per_token_rps: 0}\n"
        "storage: {max_batch: 1}\n"
        "automation: {auto_resolve_ttl_s: 0, cooldown_s: 0, max_active_fraction: 0, "
        "max_active: 0}\n");
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->engine.capacity_wait_s, 0);
    EXPECT_EQ(parsed->engine.step_timeout_s, 1);
    EXPECT_DOUBLE_EQ(parsed->automation.max_active_fraction, 0.0);
    EXPECT_EQ(parsed->server.worker_threads, 0);  // 0: handlers run on the I/O threads
}

TEST(ParseConfig, RejectsUnknownKeys) {
    ExpectRejected("bogus: 1\n");
    ExpectRejected("engine:\n  paused: false\n  pasued: true\n");
    ExpectRejected("automation:\n  cooldown: 5\n");
    ExpectRejected("hooks:\n  drain: x\n  pre_drain: y\n");
    ExpectRejected("unknown_section:\n  nested: 1\n");
    ExpectRejected("engine:\n  paused:\n    deeper: true\n");
}

// Found by review, and fuzz/config_fuzzer timed out on it: every map was walked into, so an
// unknown empty section passed unnoticed and aliases of aliases took exponential time.
TEST(ParseConfig, RejectsUnknownSectionsEvenEmptyOrAliased) {
    ExpectRejected("engin: {}\n");
    std::string laughs = "l0: &l0 {}\n";
    for (int level = 1; level <= 12; ++level) {
        laughs += "l" + std::to_string(level) + ": &l" + std::to_string(level) + " {";
        for (int i = 0; i < 10; ++i) {
            laughs += (i ? ", k" : "k") + std::to_string(i) + ": *l" + std::to_string(level - 1);
        }
        laughs += "}\n";
    }
    auto parsed = ParseConfig(laughs);  // before the fix: 10^12 walks
    ASSERT_FALSE(parsed);
    EXPECT_NE(parsed.error().message.find("'l0'"), std::string::npos) << parsed.error().message;
    ExpectRejected("engine: &e {paused: true}\nautomation: *e\n");
}

// Found by the finiteness check of fuzz/config_fuzzer: YAML's .nan and .inf were accepted as a
// rate limit.
TEST(ParseConfig, RejectsRatesAndFractionsThatAreNoNumbers) {
    ExpectRejected("server: {rate_limit_per_token_rps: .nan}\n");
    ExpectRejected("server: {rate_limit_per_token_rps: .inf}\n");
    ExpectRejected("server: {rate_limit_per_token_rps: -.inf}\n");
    ExpectRejected("automation: {max_active_fraction: .nan}\n");
    ExpectRejected("automation: {max_active_fraction: .inf}\n");
    auto parsed = ParseConfig("server: {rate_limit_per_token_rps: 2.5}\n");
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_DOUBLE_EQ(parsed->server.rate_limit_per_token_rps, 2.5);
}

TEST(ParseConfig, UnknownKeyErrorNamesTheKey) {
    auto parsed = ParseConfig("engine:\n  pasued: true\n");
    ASSERT_FALSE(parsed);
    EXPECT_NE(parsed.error().message.find("engine.pasued"), std::string::npos)
        << parsed.error().message;
}

TEST(ParseConfig, RejectsWrongTypes) {
    ExpectRejected("engine: {paused: maybe}\n");
    ExpectRejected("engine: {paused: [true]}\n");
    ExpectRejected("engine: {capacity_wait_s: soon}\n");
    ExpectRejected("engine: {capacity_wait_s: 1.5}\n");
    ExpectRejected("engine: {step_timeout_s: {a: 1}}\n");
    ExpectRejected("engine: {verify_tests: dcgm_diag}\n");
    ExpectRejected("engine: {verify_tests: [[a]]}\n");
    ExpectRejected("automation: {max_active_fraction: ten}\n");
    ExpectRejected("automation: {max_active: [1]}\n");
    ExpectRejected("server: {rate_limit_per_token_rps: fast}\n");
    ExpectRejected("listen: [127.0.0.1, 8080]\n");
    ExpectRejected("db: {sqlite: x}\n");
    ExpectRejected("hooks: {drain: [a, b]}\n");
    ExpectRejected("engine: 5\n");
    ExpectRejected("engine: [paused]\n");
}

TEST(ParseConfig, RejectsIntegersThatDoNotFit) {
    ExpectRejected("engine: {capacity_wait_s: 99999999999}\n");
    ExpectRejected("automation: {cooldown_s: -99999999999}\n");
}

TEST(ParseConfig, RejectsOutOfRangeValues) {
    ExpectRejected("engine: {capacity_wait_s: -1}\n");
    ExpectRejected("engine: {step_timeout_s: 0}\n");
    ExpectRejected("engine: {step_timeout_s: -5}\n");
    ExpectRejected("automation: {auto_resolve_ttl_s: -1}\n");
    ExpectRejected("automation: {cooldown_s: -1}\n");
    ExpectRejected("automation: {max_active: -1}\n");
    ExpectRejected("automation: {max_active_fraction: 1.01}\n");
    ExpectRejected("automation: {max_active_fraction: -0.1}\n");
    ExpectRejected("automation: {max_active_fraction: .nan}\n");
    ExpectRejected("automation: {max_active_fraction: .inf}\n");
    ExpectRejected("server: {rate_limit_per_token_rps: -1}\n");
    ExpectRejected("server: {io_threads: 0}\n");
    ExpectRejected("server: {worker_threads: -2}\n");
    ExpectRejected("storage: {max_batch: 0}\n");
}

TEST(ParseConfig, RejectsDocumentsThatAreNotMappings) {
    ExpectRejected("- listen\n- db\n");
    ExpectRejected("just a string\n");
    ExpectRejected("42\n");
}

TEST(ParseConfig, RejectsMalformedYaml) {
    ExpectRejected("engine: {paused: true\n");
    ExpectRejected("listen: [\n");
    ExpectRejected("a: b: c\n");
}

TEST(LoadConfigFile, ReadsAFile) {
    storage::test_support::ScopedTempDir dir;
    const std::string path = dir.path() + "/config.yaml";
    std::ofstream(path) << "listen: 127.0.0.1:0\nengine:\n  paused: true\n";
    auto loaded = LoadConfigFile(path);
    ASSERT_TRUE(loaded) << loaded.error().message;
    EXPECT_EQ(loaded->listen, "127.0.0.1:0");
    EXPECT_TRUE(loaded->engine.paused);
}

TEST(LoadConfigFile, ErrorsNameTheFile) {
    storage::test_support::ScopedTempDir dir;
    const std::string path = dir.path() + "/bad.yaml";
    std::ofstream(path) << "bogus: 1\n";
    auto loaded = LoadConfigFile(path);
    ASSERT_FALSE(loaded);
    EXPECT_EQ(loaded.error().code, Code::kInvalidArgument);
    EXPECT_NE(loaded.error().message.find(path), std::string::npos) << loaded.error().message;
    auto missing = LoadConfigFile(dir.path() + "/missing.yaml");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, Code::kInvalidArgument);
}

TEST(ParseConfig, WorkerThreadsFollowTheBackendUnlessSet) {
    Config config;
    EXPECT_EQ(config.server.worker_threads, -1);
    EXPECT_EQ(config.WorkerThreads(), 2);  // sqlite:./noderepair.db
    config.db = "postgres://noderepair@db.example.com:5432/noderepair";
    EXPECT_EQ(config.WorkerThreads(), 16);
    config.server.worker_threads = 0;  // 0: handlers on the I/O threads, whatever the backend
    EXPECT_EQ(config.WorkerThreads(), 0);
}

// docs/http-api.md 11: the fleet-intelligence keys, their defaults and their checks.
TEST(ParseConfig, ReadsTheFleetIntelligenceKeys) {
    const Config defaults;
    EXPECT_EQ(defaults.automation.ladder,
              (std::vector<std::string>{"REMEDIATION_MODE_REBOOT_VM", "REMEDIATION_MODE_VM_ONLY",
                                        "REMEDIATION_MODE_HOST_AWARE"}));
    EXPECT_EQ(defaults.automation.ladder_window_s, 86400);
    EXPECT_EQ(defaults.automation.suspect_host_instances, 0);
    EXPECT_EQ(defaults.automation.suspect_host_faults, 0);
    EXPECT_EQ(defaults.automation.suspect_host_window_s, 604800);
    EXPECT_TRUE(defaults.automation.cordon_suspect_hosts);
    EXPECT_EQ(defaults.automation.max_active_per_rack, 0);
    EXPECT_EQ(defaults.automation.incident_threshold, 0);
    EXPECT_EQ(defaults.automation.incident_window_s, 120);

    auto parsed = ParseConfig(
        "automation:\n  ladder: [REBOOT_VM, HOST_AWARE]\n  ladder_window_s: 60\n"
        "  suspect_host_instances: 2\n  suspect_host_faults: 3\n  suspect_host_window_s: 10\n"
        "  cordon_suspect_hosts: false\n  max_active_per_rack: 4\n  incident_threshold: 5\n"
        "  incident_window_s: 30\n");
    ASSERT_TRUE(parsed) << parsed.error().message;
    const auto& a = parsed->automation;
    EXPECT_EQ(a.ladder, (std::vector<std::string>{"REBOOT_VM", "HOST_AWARE"}));
    EXPECT_EQ(a.ladder_window_s, 60);
    EXPECT_EQ(a.suspect_host_instances, 2);
    EXPECT_EQ(a.suspect_host_faults, 3);
    EXPECT_EQ(a.suspect_host_window_s, 10);
    EXPECT_FALSE(a.cordon_suspect_hosts);
    EXPECT_EQ(a.max_active_per_rack, 4);
    EXPECT_EQ(a.incident_threshold, 5);
    EXPECT_EQ(a.incident_window_s, 30);
    EXPECT_TRUE(ParseConfig("automation: {ladder: []}\n")) << "an empty ladder turns it off";

    for (const char* bad :
         {"automation: {ladder: [REBOOT_VM, FOO]}\n", "automation: {ladder: [VM_ONLY, VM_ONLY]}\n",
          "automation: {max_active_per_rack: -1}\n", "automation: {incident_threshold: -1}\n",
          "automation: {suspect_host_faults: -2}\n"}) {
        auto refused = ParseConfig(bad);
        ASSERT_FALSE(refused) << bad;
        EXPECT_NE(refused.error().message.find("automation."), std::string::npos)
            << refused.error().message;
    }
}

}  // namespace
}  // namespace noderepair::cli

namespace noderepair::cli {
namespace {

// docs/http-api.md 11, "Notifications": off unless a URL is given; approval_after_s 600.
TEST(ParseConfig, ReadsTheNotifyKeys) {
    const Config defaults;
    EXPECT_EQ(defaults.notify.alertmanager_url, "");
    EXPECT_EQ(defaults.notify.approval_after_s, 600);
    auto parsed = ParseConfig(
        "notify:\n  alertmanager_url: http://127.0.0.1:9093\n  approval_after_s: 5\n"
        "  interval_s: 2\n  timeout_s: 3\n");
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->notify.alertmanager_url, "http://127.0.0.1:9093");
    EXPECT_EQ(parsed->notify.approval_after_s, 5);
    EXPECT_EQ(parsed->notify.interval_s, 2);
    EXPECT_EQ(parsed->notify.timeout_s, 3);
    ExpectRejected("notify:\n  interval_s: 0\n");
    ExpectRejected("notify:\n  approval_after_s: -1\n");
    ExpectRejected("notify:\n  alertmanager_url: alertmanager:9093\n");
}

// docs/http-api.md 11: two-person approval, modes by wire name or short name.
TEST(ParseConfig, ReadsTwoPersonModesAndRejectsUnknownOnes) {
    EXPECT_TRUE(Config{}.approval.two_person_modes.empty());
    auto parsed = ParseConfig(
        "approval:\n  two_person_modes: [HOST_AWARE, "
        "REMEDIATION_MODE_EVICT_WITHOUT_REPLACEMENT]\n");
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(
        parsed->approval.two_person_modes,
        (std::vector<std::string>{"HOST_AWARE", "REMEDIATION_MODE_EVICT_WITHOUT_REPLACEMENT"}));
    EXPECT_EQ(ConfigMode("HOST_AWARE"), model::Mode::kHostAware);
    EXPECT_EQ(ConfigMode("REMEDIATION_MODE_VM_ONLY"), model::Mode::kVmOnly);
    EXPECT_FALSE(ConfigMode("REBOOT"));
    auto unknown = ParseConfig("approval:\n  two_person_modes: [REBOOT]\n");
    ASSERT_FALSE(unknown);
    EXPECT_NE(unknown.error().message.find("two_person_modes"), std::string::npos);
}

}  // namespace
}  // namespace noderepair::cli

namespace noderepair::cli {
namespace {

TEST(ParseConfig, EngineLeaseIsReadAndMustBeAtLeastOneSecond) {
    auto parsed = ParseConfig("engine:\n  lease_s: 3\n");
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->engine.lease_s, 3);
    ExpectRejected("engine:\n  lease_s: 0\n");
    ExpectRejected("engine:\n  lease_s: -5\n");
}

}  // namespace
}  // namespace noderepair::cli
