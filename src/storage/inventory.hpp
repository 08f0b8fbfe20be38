// The inventory aggregate behind the store contract: clusters and their automation settings,
// hosts with their cordons, instances with their placement and node status, and the slots
// reserved for replacement VMs. Placement is the engine's record; providers never write it.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"
#include "model/incident.hpp"
#include "model/inventory.hpp"

namespace noderepair::storage {

// The fleet as a provider describes it, imported into the database on start.
struct FleetImport {
    std::vector<model::Cluster> clusters;  // with gpu_worker_nodes (instance_id, name, gpus, host)
    std::vector<model::Host> hosts;        // host_name, gpu_slots, libvirt_uri, rack
};

class InventoryReads {
public:
    virtual ~InventoryReads() = default;
    virtual Result<std::optional<model::Instance>> GetInstance(const std::string& instance_id) = 0;
    // Those of `instance_ids` that exist, in no particular order, in one statement (a webhook's
    // alerts: docs/http-api.md 5, "Ingest rate").
    virtual Result<std::vector<model::Instance>> GetInstances(
        const std::vector<std::string>& instance_ids) = 0;
    virtual Result<std::optional<model::Instance>> FindInstanceByName(
        const std::string& instance_name) = 0;
    virtual Result<bool> HasCluster(const std::string& cluster_id) = 0;
    // A host without its instances.
    virtual Result<std::optional<model::Host>> GetHost(const std::string& host_name) = 0;
    // GetHost of each of `host_names` that exists, in no particular order, in one statement (a
    // webhook's hosts).
    virtual Result<std::vector<model::Host>> GetHosts(
        const std::vector<std::string>& host_names) = 0;
    // Clusters without their nodes.
    virtual Result<std::vector<model::Cluster>> ListClusters() = 0;
    // One cluster with its nodes and each node's latest remediation (the one inserted last).
    virtual Result<std::optional<model::Cluster>> GetCluster(const std::string& cluster_id) = 0;
    virtual Result<std::vector<model::Host>> ListHosts() = 0;
    virtual Result<int> CountInstances(const std::string& cluster_id) = 0;
    virtual Result<model::ClusterAutomation> GetClusterAutomation(
        const std::string& cluster_id) = 0;
    // The instances whose VM runs on `host_name`, by instance id.
    virtual Result<std::vector<model::Instance>> ListInstancesOnHost(
        const std::string& host_name) = 0;
    // A host that is not cordoned, is not `exclude_host`, and has `num_gpus` slots free after
    // its VMs and reservations; the one with most room first.
    virtual Result<std::optional<std::string>> FindHostWithRoom(
        int num_gpus, const std::string& exclude_host) = 0;
    // A host's fault ledger (docs/http-api.md 11), newest first.
    virtual Result<std::vector<model::HostFault>> ListHostFaults(const std::string& host_name,
                                                                 int limit) = 0;
    // The signals (not remediations) of a host's ledger at or after `since`.
    virtual Result<model::HostFaultCounts> CountHostFaults(const std::string& host_name,
                                                           Timestamp since) = 0;
    // Hosts marked suspect.
    virtual Result<int> CountSuspectHosts() = 0;
    // Incident detection (docs/http-api.md 11): the ledger's signals at or after `since` of a
    // cluster's instances on hosts of `rack` (empty: on hosts without one), by instance, the
    // instance that signalled first first.
    virtual Result<std::vector<model::InstanceSignals>> ListScopeSignals(
        const std::string& cluster_id, const std::string& rack, Timestamp since) = 0;
    // How many of a cluster's instances on hosts of `rack` (empty: without one) signalled at or
    // after `since`: as many rows as the scope has instances, whatever the signals' number.
    virtual Result<int> CountScopeInstances(const std::string& cluster_id, const std::string& rack,
                                            Timestamp since) = 0;
    virtual Result<std::optional<model::Incident>> GetIncident(const std::string& id) = 0;
    // The newest incident of a cluster's rack (empty: its hosts without one).
    virtual Result<std::optional<model::Incident>> GetLatestIncident(const std::string& cluster_id,
                                                                     const std::string& rack) = 0;
    // GetLatestIncident of each (cluster, rack) of `scopes` that has one, in one statement.
    virtual Result<std::vector<model::Incident>> GetLatestIncidents(
        const std::vector<std::pair<std::string, std::string>>& scopes) = 0;
    // A cluster's incidents, newest first.
    virtual Result<std::vector<model::Incident>> ListIncidents(const std::string& cluster_id,
                                                               int limit) = 0;
};

class InventoryRepository : public InventoryReads {
public:
    // Adds clusters, hosts and instances not yet stored; keeps the stored state of the rest.
    virtual Status ImportFleet(const FleetImport& fleet) = 0;
    virtual Status SetHostCordoned(const std::string& host_name, bool cordoned) = 0;
    // The host was power-cycled at `when` (a provider's outcome).
    virtual Status SetHostPowerCycled(const std::string& host_name, Timestamp when) = 0;
    // Moves an instance's VM to `host_name` (empty: no VM) with a node status.
    virtual Status SetInstancePlacement(const std::string& instance_id,
                                        const std::string& host_name,
                                        const std::string& status) = 0;
    virtual Status SetInstanceStatus(const std::string& instance_id, const std::string& status) = 0;
    // Slots held on a host for an instance's replacement VM: at most one per instance.
    virtual Status PutReservation(const std::string& instance_id, const std::string& host_name,
                                  int num_gpus) = 0;
    virtual Status DeleteReservation(const std::string& instance_id) = 0;
    virtual Status SetClusterAutomation(const std::string& cluster_id,
                                        const model::ClusterAutomation& automation) = 0;
    virtual Status SetInstanceAutoRepair(const std::string& instance_id, bool auto_repair) = 0;
    // Appends to a host's fault ledger.
    virtual Status AddHostFault(const model::HostFault& fault) = 0;
    // The host's counts at or after `since` (CountHostFaults) when it has at least `at_least`
    // signals there; nullopt when it has fewer. AddHostFault keeps a ceiling on each host's
    // signals, read here by primary key: the window's signals are read only when the ceiling
    // reaches `at_least`, and set it again (docs/http-api.md 11, suspect hosts).
    virtual Result<std::optional<model::HostFaultCounts>> CountHostFaultsReaching(
        const std::string& host_name, Timestamp since, int at_least) = 0;
    // AddHostFault, then CountHostFaultsReaching of the fault's host, in one step: the ceiling
    // is the one the append itself read and raised, read by no statement of its own.
    virtual Result<std::optional<model::HostFaultCounts>> AddHostFaultReaching(
        const model::HostFault& fault, Timestamp since, int at_least) = 0;
    // An instance of a scope signalled at `when` (for CountScopeInstances). Returns whether it
    // is new to the window that starts at `since`: only then can the scope's count have grown.
    virtual Result<bool> TouchScopeInstance(const std::string& cluster_id, const std::string& rack,
                                            const std::string& instance_id, Timestamp since,
                                            Timestamp when) = 0;
    // Inserts or replaces an incident by id.
    virtual Status PutIncident(const model::Incident& incident) = 0;
    // Marks a host suspect with why (empty: clears the suspicion).
    virtual Status SetHostSuspect(const std::string& host_name, const std::string& why) = 0;
};

}  // namespace noderepair::storage
