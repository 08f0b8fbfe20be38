// How rows of the SQLite schema map to model types and back: column lists, readers, binders and
// the small text encodings (JSON maps, newline-joined lists, bit masks of enum filters).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/alert.hpp"
#include "model/health_check.hpp"
#include "model/remediation.hpp"
#include "storage/sql/connection.hpp"

namespace noderepair {
class JsonWriter;
}  // namespace noderepair

namespace noderepair::storage::sql {

extern const char* const kRunColumns;
extern const char* const kAlertColumns;
extern const char* const kRemediationColumns;
inline constexpr int kRemediationColumnCount = 21;  // in kRemediationColumns

std::string EncodeTests(const std::vector<model::TestResult>& tests);
std::vector<model::TestResult> DecodeTests(const std::string& text);
model::HealthCheckRun ReadRun(const Statement& s);
std::string EncodeMap(const std::map<std::string, std::string>& m);
std::map<std::string, std::string> DecodeMap(const std::string& text);
model::Alert ReadAlert(const Statement& s, int first = 0);
// Reads the columns of kRemediationColumns starting at `first`.
model::Remediation ReadRemediation(const Statement& s, int first = 0);
// Binds every column of kRemediationColumns from index `first`.
void BindRemediation(Statement& s, const model::Remediation& r, int first = 1);

// The text of a PostgreSQL array of composite values, `{"(a,1,)","(b,2,\"x y\")"}`: the rows
// of one statement's insert as one parameter, read by `unnest(CAST(?N AS type[]))`. The server
// parses it with array_in and record_in, about half its CPU per row for the same rows as JSON
// through json_to_recordset (bench/RESULTS.md). Each record's fields go in the type's order.
class RecordArray {
public:
    RecordArray& BeginRecord();
    RecordArray& EndRecord();
    RecordArray& Int(int64_t value);
    // Always quoted, so an empty text stays empty; bytes that are not UTF-8 become U+FFFD, as
    // JsonWriter::String makes them.
    RecordArray& Text(std::string_view value);
    // NULL when empty, as Statement::BindOptional binds it.
    RecordArray& OptionalText(std::string_view value) {
        return value.empty() ? Null() : Text(value);
    }
    // NULL when unset, as Statement::Bind binds it.
    RecordArray& Time(std::optional<Timestamp> time) {
        return time ? Int(ToMicros(*time)) : Null();
    }
    RecordArray& Null();
    bool empty() const { return out_.size() == 1; }
    // The array's text; the writer is empty again.
    std::string Take();

private:
    void Separate();
    std::string out_ = "{";
    bool first_field_ = true;
};

// The columns of kRemediationColumns as one record of `rows` (PostgreSQL's remediation_row),
// each value as BindRemediation binds it.
void WriteRemediationRecord(RecordArray& rows, const model::Remediation& r);
// A bit per value; -1 (every bit) for an empty list, which filters nothing.
template <class E>
int64_t MaskOf(const std::vector<E>& values) {
    if (values.empty()) return -1;
    int64_t mask = 0;
    for (E v : values) mask |= int64_t(1) << int(v);
    return mask;
}
// ["a","b"]: a list bound as one parameter, read by json_each (SQLite) or
// jsonb_array_elements_text (PostgreSQL).
std::string JsonArray(const std::vector<std::string>& values);
// The statement of the connection's dialect, `values` bound as ?1 (JsonArray): a list read in
// one statement.
Result<Statement> PrepareForList(Connection& conn, const std::string& sqlite,
                                 const std::string& postgres,
                                 const std::vector<std::string>& values);
// Each column of `columns` (a list joined by ", ") as `table.column`.
std::string Qualified(std::string_view table, std::string_view columns);
std::string JoinLines(const std::vector<std::string>& items);
std::vector<std::string> SplitLines(const std::string& joined);
// "(?1, ?2), (?3, ?4)": `rows` rows of `columns` parameters each, for a multi-row VALUES.
std::string ValuesRows(int columns, size_t rows);
// INSERT INTO `table`(`columns`) VALUES(?1, ..., ?N) (`rows` rows of them), updating every
// other column of the row whose `key` is taken (an upsert both backends speak).
std::string UpsertSql(const char* table, const char* columns, const char* key, size_t rows = 1);
// Rows one statement of a bulk insert writes (the fleet import): one statement to run per
// batch instead of per row, and SQLite journals each page a statement touches (an instance's
// insert touches its host's through a trigger) once per statement instead of once per row.
inline constexpr size_t kRowsPerInsert = 128;
// Calls `insert(rows)` with `items` kRowsPerInsert at a time, and the rest one at a time, so
// a repository prepares two statement texts whatever the number of items.
template <typename T, typename Insert>
Status InBatches(const std::vector<T>& items, Insert insert) {
    size_t i = 0;
    for (; i + kRowsPerInsert <= items.size(); i += kRowsPerInsert) {
        NR_RETURN_IF_ERROR(insert(std::span<const T>(items.data() + i, kRowsPerInsert)));
    }
    for (; i < items.size(); ++i) NR_RETURN_IF_ERROR(insert(std::span<const T>(&items[i], 1)));
    return OkStatus();
}
// Every row's first column, as text.
Result<std::vector<std::string>> FirstColumn(Statement& stmt);

}  // namespace noderepair::storage::sql
