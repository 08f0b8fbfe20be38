#include "storage/sql/rows.hpp"

#include "common/json.hpp"

namespace noderepair::storage::sql {

using model::Remediation;
using model::State;

const char* const kRunColumns =
    "id, cluster_id, instance_id, state, tests, create_time, end_time, remediation_id, waiting";

std::string EncodeTests(const std::vector<model::TestResult>& tests) {
    std::string out;
    JsonWriter w(out);
    w.BeginArray();
    for (const auto& t : tests) {
        w.BeginObject()
            .Key("name")
            .String(t.name)
            .Key("state")
            .Int(int(t.state))
            .Key("detail")
            .String(t.detail)
            .EndObject();
    }
    w.EndArray();
    return out;
}

std::vector<model::TestResult> DecodeTests(const std::string& text) {
    std::vector<model::TestResult> out;
    auto parsed = ParseStrictJson(text);
    if (!parsed || !parsed->is_array()) return out;
    for (const auto& v : parsed->as_array()) {
        if (!v.is_object()) continue;
        const auto& o = v.as_object();
        model::TestResult t;
        if (const auto* n = o.if_contains("name"); n && n->is_string()) t.name = n->as_string();
        if (const auto* st = o.if_contains("state"); st && st->is_int64()) {
            t.state = model::CheckState(st->as_int64());
        }
        if (const auto* d = o.if_contains("detail"); d && d->is_string()) {
            t.detail = d->as_string();
        }
        out.push_back(std::move(t));
    }
    return out;
}

model::HealthCheckRun ReadRun(const Statement& s) {
    model::HealthCheckRun r;
    r.id = s.Text(0);
    r.cluster_id = s.Text(1);
    r.instance_id = s.Text(2);
    r.state = model::CheckState(s.Int(3));
    r.tests = DecodeTests(s.Text(4));
    r.create_time = FromMicros(s.Int(5));
    r.end_time = s.Time(6);
    r.remediation_id = s.Text(7);
    r.waiting = s.Int(8) != 0;
    return r;
}

const char* const kAlertColumns =
    "id, fingerprint, alert_name, cluster_id, instance_id, target_vm, severity, labels, "
    "annotations, started_at, resolved_at, remediation_id, waiting, wait_until";

std::string EncodeMap(const std::map<std::string, std::string>& m) {
    std::string out;
    JsonWriter w(out);
    w.BeginObject();
    for (const auto& [k, v] : m) w.Key(k).String(v);
    w.EndObject();
    return out;
}

std::map<std::string, std::string> DecodeMap(const std::string& text) {
    std::map<std::string, std::string> out;
    auto parsed = ParseStrictJson(text);
    if (!parsed || !parsed->is_object()) return out;
    for (const auto& [k, v] : parsed->as_object()) {
        if (v.is_string()) out[std::string(k)] = std::string(v.as_string());
    }
    return out;
}

model::Alert ReadAlert(const Statement& s, int first) {
    int c = first;
    model::Alert a;
    a.id = s.Text(c++);
    a.fingerprint = s.Text(c++);
    a.alert_name = s.Text(c++);
    a.cluster_id = s.Text(c++);
    a.instance_id = s.Text(c++);
    a.target_vm = s.Text(c++);
    a.severity = model::Severity(s.Int(c++));
    a.labels = DecodeMap(s.Text(c++));
    a.annotations = DecodeMap(s.Text(c++));
    a.started_at = FromMicros(s.Int(c++));
    a.resolved_at = s.Time(c++);
    a.remediation_id = s.Text(c++);
    a.waiting = s.Int(c++) != 0;
    a.wait_until = FromMicros(s.Int(c++));
    return a;
}

const char* const kRemediationColumns =
    "id, cluster_id, instance_id, instance_name, mode, requested_mode, trigger, state, reason, "
    "active_health_check_run_id, passive_health_check_event_id, requested_by, reviewed_by, "
    "review_time, review_comment, create_time, update_time, start_time, end_time, "
    "error_message, version";

model::Remediation ReadRemediation(const Statement& s, int first) {
    Remediation r;
    int c = first;
    r.id = s.Text(c++);
    r.cluster_id = s.Text(c++);
    r.instance_id = s.Text(c++);
    r.instance_name = s.Text(c++);
    r.mode = model::Mode(s.Int(c++));
    r.requested_mode = model::Mode(s.Int(c++));
    r.trigger = model::Trigger(s.Int(c++));
    r.state = State(s.Int(c++));
    r.reason = s.Text(c++);
    r.active_health_check_run_id = s.Text(c++);
    r.passive_health_check_event_id = s.Text(c++);
    r.requested_by = s.Text(c++);
    r.reviewed_by = s.Text(c++);
    r.review_time = s.Time(c++);
    r.review_comment = s.Text(c++);
    r.create_time = FromMicros(s.Int(c++));
    r.update_time = FromMicros(s.Int(c++));
    r.start_time = s.Time(c++);
    r.end_time = s.Time(c++);
    r.error_message = s.Text(c++);
    r.version = s.Int(c++);
    return r;
}

namespace {

// Every column of kRemediationColumns in its order, handed to `out` as BindRemediation binds
// it (a statement's parameters) or WriteRemediationRecord writes it (a composite literal).
template <class Columns>
void EachRemediationColumn(const model::Remediation& r, Columns& out) {
    out.Text(r.id);
    out.Text(r.cluster_id);
    out.Text(r.instance_id);
    out.Text(r.instance_name);
    out.Int(int64_t(r.mode));
    out.Int(int64_t(r.requested_mode));
    out.Int(int64_t(r.trigger));
    out.Int(int64_t(r.state));
    out.OptionalText(r.reason);
    out.OptionalText(r.active_health_check_run_id);
    out.OptionalText(r.passive_health_check_event_id);
    out.OptionalText(r.requested_by);
    out.OptionalText(r.reviewed_by);
    out.Time(r.review_time);
    out.OptionalText(r.review_comment);
    out.Int(ToMicros(r.create_time));
    out.Int(ToMicros(r.update_time));
    out.Time(r.start_time);
    out.Time(r.end_time);
    out.OptionalText(r.error_message);
    out.Int(r.version);
}

// A statement's parameters from `next` on, as EachRemediationColumn's columns.
struct StatementColumns {
    Statement& s;
    int next;
    void Text(std::string_view v) { s.Bind(next++, v); }
    void OptionalText(std::string_view v) { s.BindOptional(next++, v); }
    void Int(int64_t v) { s.Bind(next++, v); }
    void Time(std::optional<Timestamp> t) { s.Bind(next++, t); }
};

}  // namespace

void BindRemediation(Statement& s, const model::Remediation& r, int first) {
    StatementColumns columns{s, first};
    EachRemediationColumn(r, columns);
}

void WriteRemediationRecord(RecordArray& rows, const model::Remediation& r) {
    rows.BeginRecord();
    EachRemediationColumn(r, rows);
    rows.EndRecord();
}

void RecordArray::Separate() {
    if (!first_field_) out_.push_back(',');
    first_field_ = false;
}

RecordArray& RecordArray::BeginRecord() {
    // Each record is one quoted element of the array: `"(`, its fields, `)"`.
    if (!empty()) out_.push_back(',');
    out_.append("\"(");
    first_field_ = true;
    return *this;
}

RecordArray& RecordArray::EndRecord() {
    out_.append(")\"");
    return *this;
}

RecordArray& RecordArray::Int(int64_t value) {
    Separate();
    out_.append(std::to_string(value));
    return *this;
}

RecordArray& RecordArray::Null() {
    Separate();  // an empty field is a NULL one (record_in)
    return *this;
}

RecordArray& RecordArray::Text(std::string_view value) {
    Separate();
    // Quoted twice over: the field's quotes and backslashes for record_in, and then every
    // quote and backslash of the record once more for array_in, as it is inside the element's
    // quotes. So the field's quote is `\"`, a `"` in the text `\\\"` and a `\` `\\\\`.
    out_.append("\\\"");
    AppendUtf8Escaped(out_, value, [](unsigned char c) -> std::string_view {
        return c == '"' ? "\\\\\\\"" : c == '\\' ? "\\\\\\\\" : "";
    });
    out_.append("\\\"");
    return *this;
}

std::string RecordArray::Take() {
    out_.push_back('}');
    std::string text = std::move(out_);
    out_ = "{";
    return text;
}

std::string JoinLines(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& c : items) {
        if (!out.empty()) out.push_back('\n');
        out += c;
    }
    return out;
}

std::vector<std::string> SplitLines(const std::string& joined) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start < joined.size()) {
        size_t end = joined.find('\n', start);
        if (end == std::string::npos) end = joined.size();
        out.push_back(joined.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

Result<std::vector<std::string>> FirstColumn(Statement& stmt) {
    std::vector<std::string> values;
    while (true) {
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        values.push_back(stmt.Text(0));
    }
    return values;
}

Result<Statement> PrepareForList(Connection& conn, const std::string& sqlite,
                                 const std::string& postgres,
                                 const std::vector<std::string>& values) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn.Prepare(conn.dialect() == Dialect::kSqlite ? sqlite : postgres));
    stmt.Bind(1, JsonArray(values));
    return stmt;
}

std::string Qualified(std::string_view table, std::string_view columns) {
    std::string out;
    while (!columns.empty()) {
        const size_t comma = columns.find(", ");
        if (!out.empty()) out += ", ";
        out += table;
        out += '.';
        out += columns.substr(0, comma);
        columns = comma == std::string_view::npos ? "" : columns.substr(comma + 2);
    }
    return out;
}

std::string JsonArray(const std::vector<std::string>& values) {
    std::string out;
    JsonWriter w(out);
    w.BeginArray();
    for (const auto& v : values) w.String(v);
    w.EndArray();
    return out;
}

std::string ValuesRows(int columns, size_t rows) {
    std::string sql;
    sql.reserve(rows * size_t(columns) * 7);
    int index = 1;
    for (size_t r = 0; r < rows; ++r) {
        sql += r ? ", (" : "(";
        for (int c = 0; c < columns; ++c, ++index) {
            sql += c ? ", ?" : "?";
            sql += std::to_string(index);
        }
        sql += ")";
    }
    return sql;
}

std::string UpsertSql(const char* table, const char* columns, const char* key, size_t rows) {
    std::vector<std::string> names;
    for (std::string_view rest = columns; !rest.empty();) {
        size_t comma = rest.find(',');
        std::string_view name = rest.substr(0, comma);
        while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
        while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
        names.emplace_back(name);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    std::string sql = std::string("INSERT INTO ") + table + "(" + columns + ") VALUES" +
                      ValuesRows(int(names.size()), rows);
    sql += std::string(" ON CONFLICT(") + key + ") DO UPDATE SET ";
    bool first = true;
    for (const auto& name : names) {
        if (name == key) continue;
        sql += (first ? "" : ", ") + name + " = excluded." + name;
        first = false;
    }
    return sql;
}

}  // namespace noderepair::storage::sql
