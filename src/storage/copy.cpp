#include "storage/copy.hpp"

#include <filesystem>

#include "storage/postgres/connection.hpp"
#include "storage/postgres/schema.hpp"
#include "storage/sql/rows.hpp"
#include "storage/sqlite/connection.hpp"
#include "storage/sqlite/schema.hpp"

namespace noderepair::storage {
namespace {

// Every table of the schema, parents before children. remediation_counts is not copied: the
// target's triggers count the remediations as they arrive, as they keep hosts.used_gpus. The
// overview's daily aggregates are copied: the target's migration back-filled them from nothing.
// clang-format off
constexpr const char* kTables[] = {
    "clusters",           "hosts",       "instances",         "remediations",
    "remediation_events", "engine_jobs", "reservations",      "alerts",
    "health_check_runs",  "tokens",      "settings",          "sim_operations",
    "sim_instances",      "sim_vms",     "sim_hosts",         "sim_faults",
    "audit_records",      "audit_head",  "remediation_daily", "stage_daily",
    "host_faults",        "incidents",   "scope_instances",   "signal_occurrences",
    "remediation_changes", "host_power", "host_fault_ceilings", "scope_fault_heads"};
// clang-format on

// Columns the target's triggers keep: copying them would count twice.
bool KeptByTrigger(const std::string& table, const std::string& column) {
    return table == "hosts" && column == "used_gpus";
}

Result<std::vector<std::string>> TargetColumns(sql::Connection& target, const char* table) {
    NR_ASSIGN_OR_RETURN(auto stmt, target.Prepare("SELECT column_name FROM "
                                                  "information_schema.columns WHERE table_name "
                                                  "= ?1 AND table_schema = current_schema() "
                                                  "ORDER BY ordinal_position"));
    stmt.Bind(1, std::string_view(table));
    NR_ASSIGN_OR_RETURN(auto columns, sql::FirstColumn(stmt));
    std::vector<std::string> copied;
    for (auto& c : columns) {
        if (!KeptByTrigger(table, c)) copied.push_back(std::move(c));
    }
    return copied;
}

// The target holds noderepair data when any table but the migration's own audit head has a row.
Result<bool> HasData(sql::Connection& target) {
    for (const char* table : kTables) {
        if (std::string_view(table) == "audit_head") continue;
        NR_ASSIGN_OR_RETURN(
            auto stmt, target.Prepare(std::string("SELECT EXISTS(SELECT 1 FROM ") + table + ")"));
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (row && stmt.Int(0) != 0) return true;
    }
    return false;
}

Result<int64_t> CopyTable(sql::Connection& source, sql::Connection& target, const char* table) {
    NR_ASSIGN_OR_RETURN(auto columns, TargetColumns(target, table));
    std::string list;
    for (const auto& c : columns) list += (list.empty() ? "" : ", ") + c;
    // The audit head exists in every migrated database: the source's replaces it.
    std::string insert = sql::UpsertSql(table, list.c_str(), "id");
    if (std::string_view(table) != "audit_head") insert.resize(insert.find(" ON CONFLICT"));
    NR_ASSIGN_OR_RETURN(auto select, source.Prepare("SELECT " + list + " FROM " + table));
    int64_t rows = 0;
    while (true) {
        NR_ASSIGN_OR_RETURN(bool row, select.Step());
        if (!row) break;
        NR_ASSIGN_OR_RETURN(auto put, target.Prepare(insert));
        for (int i = 0; i < int(columns.size()); ++i) {
            if (select.IsNull(i)) {
                put.BindNull(i + 1);
            } else {
                put.Bind(i + 1, select.Text(i));
            }
        }
        NR_RETURN_IF_ERROR(put.Run());
        ++rows;
    }
    return rows;
}

Status Copy(sql::Connection& source, sql::Connection& target, std::vector<CopiedTable>& copied) {
    NR_ASSIGN_OR_RETURN(bool has_data, HasData(target));
    if (has_data) {
        return FailedPrecondition(
            "the target database already holds noderepair data; db copy needs an empty one");
    }
    for (const char* table : kTables) {
        NR_ASSIGN_OR_RETURN(int64_t rows, CopyTable(source, target, table));
        copied.push_back({table, rows});
    }
    // New rows continue after the copied ones.
    return target.Exec(
        "SELECT setval('remediations_seq_seq', GREATEST((SELECT MAX(seq) FROM remediations), 1));"
        "SELECT setval('remediation_event_numbers', GREATEST((SELECT MAX(n) FROM "
        "remediation_events), 1));"
        "SELECT setval('host_faults_seq_seq', GREATEST((SELECT MAX(seq) FROM host_faults), 1));"
        "SELECT setval(pg_get_serial_sequence('signal_occurrences', 'seq'), GREATEST((SELECT "
        "MAX(seq) FROM signal_occurrences), 1))");
}

}  // namespace

Result<std::vector<CopiedTable>> CopyDatabase(const std::string& from, const std::string& to) {
    constexpr std::string_view kSqlite = "sqlite:";
    if (!from.starts_with(kSqlite) || from.size() == kSqlite.size()) {
        return InvalidArgument("--from must be sqlite:PATH, got '" + from + "'");
    }
    if (!to.starts_with("postgres://") && !to.starts_with("postgresql://")) {
        return InvalidArgument("--to must be a postgres:// URI, got '" + to + "'");
    }
    const std::string path = from.substr(kSqlite.size());
    std::error_code error;
    if (!std::filesystem::exists(path, error)) {
        return NotFound("database " + from + " does not exist");
    }
    NR_ASSIGN_OR_RETURN(auto source, sqlite::Connection::Open(path));
    // Brings an older file to the schema the copy expects (what a server start would do).
    NR_RETURN_IF_ERROR(sqlite::Migrate(*source));
    NR_ASSIGN_OR_RETURN(auto target, postgres::Connection::Open(to));
    NR_RETURN_IF_ERROR(postgres::Migrate(*target));

    std::vector<CopiedTable> copied;
    NR_RETURN_IF_ERROR(source->Exec("BEGIN"));  // one snapshot, beside a running server
    NR_RETURN_IF_ERROR(target->Exec("BEGIN"));
    Status status = Copy(*source, *target, copied);
    if (status) status = target->Exec("COMMIT");
    if (!status) (void)target->Exec("ROLLBACK");
    (void)source->Exec("COMMIT");
    if (!status) return status.error();
    return copied;
}

}  // namespace noderepair::storage
