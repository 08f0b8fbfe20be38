#include "cli/commands.hpp"

#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <fstream>

#include "cli/enums.hpp"
#include "cli/views.hpp"
#include "cli/watch.hpp"
#include "common/json.hpp"

namespace noderepair::cli {
namespace {

using boost::json::value;

void Print(std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

int Failed(const Error& error) {
    std::fprintf(stderr, "noderepair: %s\n", error.message.c_str());
    return kExitFailure;
}

int Usage(const std::string& message) {
    std::fprintf(stderr, "noderepair: %s\n", message.c_str());
    return kExitUsage;
}

// Adds each flag value as a repeated query parameter, in its wire form.
Status AddEnumQuery(std::string& target, std::string_view key,
                    const std::vector<std::string>& values,
                    Result<std::string> (*parse)(std::string_view)) {
    for (const auto& v : values) {
        NR_ASSIGN_OR_RETURN(std::string wire, parse(v));
        AddQuery(target, key, wire);
    }
    return OkStatus();
}

CLI::App* Verb(CLI::App& parent, const std::string& name, const std::string& what) {
    return parent.add_subcommand(name, what);
}

CLI::App* Group(CLI::App& app, const std::string& name, const std::string& what) {
    auto* sub = app.add_subcommand(name, what);
    sub->require_subcommand(1);
    return sub;
}

}  // namespace

ClientCommands::ClientCommands(CLI::App& app) {
    const std::string group = "Client options (for every verb but serve and token)";
    app.add_option("--server", client_.server, "server URL, http[s]://HOST:PORT[/PREFIX]")
        ->envname("NODEREPAIR_SERVER")
        ->default_str(client_.server)
        ->group(group);
    app.add_option("--token", client_.token, "bearer token")
        ->envname("NODEREPAIR_TOKEN")
        ->group(group);
    app.add_option("--cacert", client_.cacert,
                   "PEM file of the certificate(s) that sign an https server's certificate "
                   "(default: the system's)")
        ->envname("NODEREPAIR_CACERT")
        ->group(group);
    app.add_flag("--json", client_.json, "print the server's JSON instead of a table")
        ->group(group);
    AddRemediations(app);
    AddInventory(app);
    AddHealth(app);
    AddEngine(app);
    AddIncidents(app);
}

void ClientCommands::On(CLI::App* sub, int (ClientCommands::*verb)()) {
    sub->callback([this, verb] { chosen_ = verb; });
}

void ClientCommands::AddRemediations(CLI::App& app) {
    auto* group = Group(app, "remediations", "list, inspect and act on remediations");
    auto cluster = [this](CLI::App* sub) {
        sub->add_option("-c,--cluster", f_.cluster, "cluster id")->required();
    };
    auto instance = [this](CLI::App* sub) {
        sub->add_option("-i,--instance", f_.instance, "instance id")->required();
    };
    // One remediation: -c CLUSTER -i INSTANCE ID.
    auto one = [&](CLI::App* sub) {
        cluster(sub);
        instance(sub);
        sub->add_option("ID", f_.id, "remediation id")->required();
    };

    auto* list = Verb(*group, "list", "list remediations (newest first)");
    cluster(list);
    list->add_option("-i,--instance", f_.instance, "instance id; - for every instance")
        ->default_str("-");
    list->add_option("--state", f_.states, "only these states (repeat or comma-separate)")
        ->delimiter(',');
    list->add_option("--mode", f_.modes, "only these modes, e.g. VM_ONLY")->delimiter(',');
    list->add_option("--trigger", f_.triggers, "only MANUAL or AUTOMATED")->delimiter(',');
    list->add_option("--page-size", f_.page_size, "remediations per page (server default 50)");
    list->add_option("--page-token", f_.page_token, "continue from this page token");
    list->add_option("--order-by", f_.order_by, "e.g. \"create_time desc\", \"update_time\"");
    list->add_flag("--all", f_.all, "walk every page");
    list->add_flag("--watch,-w", f_.watch, "then print every change as it happens (Ctrl-C ends)");
    On(list, &ClientCommands::ListRemediations);

    auto* get = Verb(*group, "get", "show one remediation");
    one(get);
    get->add_flag("--watch,-w", f_.watch, "follow it until it reaches a terminal state");
    On(get, &ClientCommands::GetRemediation);

    auto* create = Verb(*group, "create", "ask for an instance to be repaired");
    cluster(create);
    instance(create);
    create
        ->add_option("--mode", f_.mode,
                     "VM_ONLY, HOST_AWARE, EVICT_WITHOUT_REPLACEMENT, "
                     "REBOOT_VM or HOST_POWER_CYCLE")
        ->required();
    create->add_option("--reason", f_.reason, "why");
    create->add_option("--remediation-id", f_.remediation_id,
                       "your id for it (a retry with the same id creates nothing new)");
    On(create, &ClientCommands::CreateRemediation);

    auto* approve = Verb(*group, "approve",
                         "approve remediations waiting in PENDING_APPROVAL (several ids: one "
                         "batch, each approved on its own)");
    cluster(approve);
    approve->add_option("-i,--instance", f_.instance, "instance id (not needed for a batch)");
    approve->add_option("ID", f_.ids, "remediation ids")->required();
    approve->add_option("--comment", f_.comment, "review comment");
    approve->add_option("--mode", f_.mode, "carry it out in this mode instead");
    On(approve, &ClientCommands::ApproveRemediation);

    auto* reject = Verb(*group, "reject", "reject one waiting in PENDING_APPROVAL");
    one(reject);
    reject->add_option("--comment", f_.comment, "review comment");
    On(reject, &ClientCommands::RejectRemediation);

    auto* cancel = Verb(*group, "cancel", "cancel one the engine has not picked up yet");
    one(cancel);
    On(cancel, &ClientCommands::CancelRemediation);

    auto* events = Verb(*group, "events", "show a remediation's timeline");
    one(events);
    On(events, &ClientCommands::RemediationEvents);
}

void ClientCommands::AddInventory(CLI::App& app) {
    auto* clusters = Group(app, "clusters", "show clusters and their worker nodes");
    On(Verb(*clusters, "list", "list clusters"), &ClientCommands::ListClusters);
    auto* get = Verb(*clusters, "get", "show one cluster and its worker nodes");
    get->add_option("CLUSTER", f_.id, "cluster id")->required();
    On(get, &ClientCommands::GetCluster);

    auto* hosts = Group(app, "hosts", "show and cordon physical hosts");
    On(Verb(*hosts, "list", "list hosts, their GPU slots and instances"),
       &ClientCommands::ListHosts);
    auto* cordon = Verb(*hosts, "cordon", "place no new VM on a host (admin)");
    cordon->add_option("HOST", f_.id, "host name")->required();
    On(cordon, &ClientCommands::CordonHost);
    auto* uncordon = Verb(*hosts, "uncordon", "let new VMs on a host again (admin)");
    uncordon->add_option("HOST", f_.id, "host name")->required();
    On(uncordon, &ClientCommands::UncordonHost);
    auto* get_host = Verb(*hosts, "get", "show a host, its rack, suspicion and fault ledger");
    get_host->add_option("HOST", f_.id, "host name")->required();
    On(get_host, &ClientCommands::GetHost);
    auto* clear = Verb(*hosts, "clear", "clear a host's suspicion; its cordon stays (admin)");
    clear->add_option("HOST", f_.id, "host name")->required();
    On(clear, &ClientCommands::ClearHost);
}

void ClientCommands::AddHealth(CLI::App& app) {
    auto* alerts = Group(app, "alerts", "show passive health check alerts");
    auto* list = Verb(*alerts, "list", "list a cluster's alerts (newest first)");
    list->add_option("-c,--cluster", f_.cluster, "cluster id")->required();
    list->add_option("--status", f_.status, "firing or resolved")
        ->check(CLI::IsMember({"firing", "resolved"}));
    list->add_option("--page-size", f_.page_size, "alerts per page (server default 50)");
    list->add_option("--page-token", f_.page_token, "continue from this page token");
    list->add_flag("--all", f_.all, "walk every page");
    On(list, &ClientCommands::ListAlerts);

    auto* checks = Group(app, "health-checks", "run and show active health checks");
    auto where = [this](CLI::App* sub) {
        sub->add_option("-c,--cluster", f_.cluster, "cluster id")->required();
        sub->add_option("-i,--instance", f_.instance, "instance id")->required();
    };
    auto* run = Verb(*checks, "run", "start a run of named tests on an instance");
    where(run);
    run->add_option("--test", f_.tests,
                    "dcgm_diag, gpu_burn, nccl_single_node, … (repeat or comma-separate)")
        ->required()
        ->delimiter(',');
    On(run, &ClientCommands::RunHealthCheck);
    auto* get = Verb(*checks, "get", "show one run");
    where(get);
    get->add_option("RUN", f_.id, "run id")->required();
    On(get, &ClientCommands::GetHealthCheck);
    auto* runs = Verb(*checks, "list", "list an instance's runs (newest first)");
    where(runs);
    On(runs, &ClientCommands::ListHealthChecks);
}

void ClientCommands::AddEngine(CLI::App& app) {
    auto* engine = Group(app, "engine", "pause or resume the engine (a maintenance freeze)");
    On(Verb(*engine, "pause", "stop starting work; PENDING remediations wait (admin)"),
       &ClientCommands::PauseEngine);
    On(Verb(*engine, "resume", "start work again (admin)"), &ClientCommands::ResumeEngine);
    On(Verb(*engine, "status", "show whether the engine is paused"), &ClientCommands::EngineStatus);
}

std::optional<int> ClientCommands::RunParsed() {
    if (chosen_ == nullptr) return std::nullopt;
    auto server = ParseServerUrl(client_.server);
    if (!server) return Usage(server.error().message);
    if (server->tls && !client_.cacert.empty()) {
        if (!std::ifstream(client_.cacert, std::ios::binary).good()) {
            return Usage("cannot read --cacert " + client_.cacert);
        }
        server->cacert_file = client_.cacert;
    }
    api_.emplace(std::move(*server), client_.token);
    return (this->*chosen_)();
}

int ClientCommands::Show(const Result<JsonReply>& reply,
                         std::string (*render)(const boost::json::value&)) {
    if (!reply) return Failed(reply.error());
    Print(client_.json ? reply->body + "\n" : render(reply->value));
    return 0;
}

std::string ClientCommands::RemediationsPath() const {
    return Path(
        {"v1", "compute", "clusters", f_.cluster, "instances", f_.instance, "remediations"});
}

std::string ClientCommands::RemediationPath(std::string_view verb) const {
    std::string path = RemediationsPath() + Path({f_.id});
    if (!verb.empty()) path += Path({verb});
    return path;
}

int ClientCommands::ListRemediations() {
    std::string target = RemediationsPath();
    for (auto [key, values, parse] : {std::tuple{"state", &f_.states, &StateFromFlag},
                                      std::tuple{"mode", &f_.modes, &ModeFromFlag},
                                      std::tuple{"trigger", &f_.triggers, &TriggerFromFlag}}) {
        if (Status s = AddEnumQuery(target, key, *values, parse); !s) {
            return Usage(s.error().message);
        }
    }
    if (!f_.page_size.empty()) AddQuery(target, "page_size", f_.page_size);
    if (!f_.order_by.empty()) AddQuery(target, "order_by", f_.order_by);
    if (f_.watch) {
        WatchRequest watch;
        watch.cluster = f_.cluster;
        watch.instance = f_.instance;
        watch.list_target = target;
        if (!f_.page_token.empty()) AddQuery(watch.list_target, "page_token", f_.page_token);
        watch.all_pages = f_.all;
        for (const auto& s : f_.states) watch.states.push_back(*StateFromFlag(s));
        for (const auto& m : f_.modes) watch.modes.push_back(*ModeFromFlag(m));
        for (const auto& t : f_.triggers) watch.triggers.push_back(*TriggerFromFlag(t));
        watch.json = client_.json;
        return Watch(*api_, watch);
    }
    if (f_.all) {
        if (!f_.page_token.empty()) AddQuery(target, "page_token", f_.page_token);
        return Show(GetAllPages(*api_, target, "remediations"), &RemediationTable);
    }
    if (!f_.page_token.empty()) AddQuery(target, "page_token", f_.page_token);
    auto reply = api_->Get(target);
    int code = Show(reply, &RemediationTable);
    if (code == 0 && !client_.json) std::fputs(NextPageHint(reply->value).c_str(), stderr);
    return code;
}

int ClientCommands::GetRemediation() {
    if (f_.watch) {
        WatchRequest watch;
        watch.cluster = f_.cluster;
        watch.instance = f_.instance;
        watch.remediation_id = f_.id;
        watch.list_target = RemediationPath();
        watch.json = client_.json;
        return Watch(*api_, watch);
    }
    return Show(api_->Get(RemediationPath()), &RemediationDetail);
}

int ClientCommands::CreateRemediation() {
    auto mode = ModeFromFlag(f_.mode);
    if (!mode) return Usage(mode.error().message);
    std::string body;
    JsonWriter w(body);
    w.BeginObject().Key("mode").String(*mode).OptionalString("reason", f_.reason).EndObject();
    std::string target = RemediationsPath();
    if (!f_.remediation_id.empty()) AddQuery(target, "remediation_id", f_.remediation_id);
    return Show(api_->Call("POST", target, body), &RemediationDetail);
}

int ClientCommands::ApproveRemediation() {
    std::string mode;
    if (!f_.mode.empty()) {
        auto wire = ModeFromFlag(f_.mode);
        if (!wire) return Usage(wire.error().message);
        mode = *wire;
    }
    if (f_.ids.size() != 1 || f_.instance == "-") return BatchApproveRemediations(mode);
    f_.id = f_.ids.front();
    std::string body;
    JsonWriter(body)
        .BeginObject()
        .OptionalString("comment", f_.comment)
        .OptionalString("mode", mode)
        .EndObject();
    return Show(api_->Call("POST", RemediationPath("approve"), body), &RemediationDetail);
}

int ClientCommands::BatchApproveRemediations(const std::string& mode) {
    std::string body;
    JsonWriter w(body);
    w.BeginObject().Key("ids").BeginArray();
    for (const auto& id : f_.ids) w.String(id);
    w.EndArray().OptionalString("comment", f_.comment).OptionalString("mode", mode).EndObject();
    auto reply = api_->Call(
        "POST", Path({"v1", "compute", "clusters", f_.cluster}) + "/remediations:batchApprove",
        body);
    if (int shown = Show(reply, &BatchApproveTable); shown != 0) return shown;
    // Every id is printed; the exit status says whether all of them were approved.
    for (const auto& result : Items(reply->value, "results")) {
        if (result.is_object() && result.as_object().contains("error")) return kExitFailure;
    }
    return 0;
}

int ClientCommands::RejectRemediation() {
    std::string body;
    JsonWriter(body).BeginObject().OptionalString("comment", f_.comment).EndObject();
    return Show(api_->Call("POST", RemediationPath("reject"), body), &RemediationDetail);
}

int ClientCommands::CancelRemediation() {
    return Show(api_->Call("POST", RemediationPath("cancel")), &RemediationDetail);
}

int ClientCommands::RemediationEvents() {
    return Show(api_->Get(RemediationPath("events")), &EventTable);
}

int ClientCommands::ListClusters() {
    return Show(api_->Get(Path({"v1", "compute", "clusters"})), &ClusterTable);
}

int ClientCommands::GetCluster() {
    return Show(api_->Get(Path({"v1", "compute", "clusters", f_.id})), &ClusterDetail);
}

int ClientCommands::ListHosts() {
    return Show(api_->Get(Path({"v1", "compute", "hosts"})), &HostTable);
}

namespace {
std::string HostLine(const value& host) {
    return Text(host, "host_name") + (Flag(host, "cordoned") ? ": cordoned\n" : ": uncordoned\n");
}
}  // namespace

int ClientCommands::CordonHost() {
    return Show(api_->Call("POST", Path({"v1", "compute", "hosts", f_.id}) + ":cordon"), &HostLine);
}

int ClientCommands::UncordonHost() {
    return Show(api_->Call("POST", Path({"v1", "compute", "hosts", f_.id}) + ":uncordon"),
                &HostLine);
}

int ClientCommands::GetHost() {
    return Show(api_->Get(Path({"v1", "compute", "hosts", f_.id})), &HostDetail);
}

int ClientCommands::ClearHost() {
    return Show(api_->Call("POST", Path({"v1", "compute", "hosts", f_.id}) + ":clear"),
                [](const value& host) {
                    return Text(host, "host_name") + ": not suspect" +
                           (Flag(host, "cordoned") ? " (still cordoned)\n" : "\n");
                });
}

// docs/http-api.md 11: incidents of a cluster.
void ClientCommands::AddIncidents(CLI::App& app) {
    auto* incidents = Group(app, "incidents", "show, release and dismiss a cluster's incidents");
    auto* list = Verb(*incidents, "list", "list a cluster's incidents (newest first)");
    list->add_option("-c,--cluster", f_.cluster, "cluster id")->required();
    On(list, &ClientCommands::ListIncidents);
    auto* release =
        Verb(*incidents, "release", "hand an open incident's instances back to automation");
    auto* dismiss = Verb(*incidents, "dismiss", "close an open incident, recording its signals");
    for (auto* sub : {release, dismiss}) {
        sub->add_option("-c,--cluster", f_.cluster, "cluster id")->required();
        sub->add_option("INCIDENT", f_.id, "incident id")->required();
    }
    On(release, &ClientCommands::ReleaseIncident);
    On(dismiss, &ClientCommands::DismissIncident);
}

int ClientCommands::ListIncidents() {
    return Show(api_->Get(Path({"v1", "compute", "clusters", f_.cluster, "incidents"})),
                &IncidentTable);
}

namespace {
std::string IncidentLine(const value& incident) {
    return Text(incident, "id") + ": " + Text(incident, "state") + "\n";
}
}  // namespace

int ClientCommands::ReleaseIncident() {
    return Show(
        api_->Call("POST", Path({"v1", "compute", "clusters", f_.cluster, "incidents", f_.id}) +
                               ":release"),
        &IncidentLine);
}

int ClientCommands::DismissIncident() {
    return Show(
        api_->Call("POST", Path({"v1", "compute", "clusters", f_.cluster, "incidents", f_.id}) +
                               ":dismiss"),
        &IncidentLine);
}

int ClientCommands::ListAlerts() {
    std::string target = Path({"v1", "compute", "clusters", f_.cluster, "health", "alerts"});
    if (!f_.status.empty()) AddQuery(target, "status", f_.status);
    if (!f_.page_size.empty()) AddQuery(target, "page_size", f_.page_size);
    if (f_.all) {
        if (!f_.page_token.empty()) AddQuery(target, "page_token", f_.page_token);
        return Show(GetAllPages(*api_, target, "alerts"), &AlertTable);
    }
    if (!f_.page_token.empty()) AddQuery(target, "page_token", f_.page_token);
    auto reply = api_->Get(target);
    int code = Show(reply, &AlertTable);
    if (code == 0 && !client_.json) std::fputs(NextPageHint(reply->value).c_str(), stderr);
    return code;
}

namespace {
std::string HealthChecksPath(const std::string& cluster, const std::string& instance) {
    return Path({"v1", "compute", "clusters", cluster, "instances", instance, "health_checks"});
}
}  // namespace

int ClientCommands::RunHealthCheck() {
    std::string body;
    JsonWriter w(body);
    w.BeginObject().Key("tests").BeginArray();
    for (const auto& t : f_.tests) w.String(t);
    w.EndArray().EndObject();
    return Show(api_->Call("POST", HealthChecksPath(f_.cluster, f_.instance), body),
                &HealthCheckDetail);
}

int ClientCommands::GetHealthCheck() {
    return Show(api_->Get(HealthChecksPath(f_.cluster, f_.instance) + Path({f_.id})),
                &HealthCheckDetail);
}

int ClientCommands::ListHealthChecks() {
    return Show(api_->Get(HealthChecksPath(f_.cluster, f_.instance)), &HealthCheckTable);
}

int ClientCommands::PauseEngine() {
    return Show(api_->Call("POST", "/v1/engine:pause"), &EngineLine);
}

int ClientCommands::ResumeEngine() {
    return Show(api_->Call("POST", "/v1/engine:resume"), &EngineLine);
}

int ClientCommands::EngineStatus() { return Show(api_->Get(Path({"v1", "engine"})), &EngineLine); }

}  // namespace noderepair::cli
