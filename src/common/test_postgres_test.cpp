// The ctest fixture `postgres` (tools/private-postgres.sh): the server it starts for the unit
// tests is there, durable and reachable at the URI it wrote.
#include "common/test_postgres.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <memory>

namespace noderepair::test_support {
namespace {

TEST(PostgresTestServer, AnswersAtItsUriWithFsyncOn) {
    auto uri = TestPostgresUri();
    if (!uri) GTEST_SKIP() << kNoTestPostgres;
    std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(uri->c_str()), PQfinish);
    ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK) << *uri << ": " << PQerrorMessage(conn.get());
    std::unique_ptr<PGresult, void (*)(PGresult*)> result(
        PQexec(conn.get(),
               "SELECT current_setting('fsync'), current_setting('server_version_num')"),
        PQclear);
    ASSERT_EQ(PQresultStatus(result.get()), PGRES_TUPLES_OK) << PQerrorMessage(conn.get());
    EXPECT_STREQ(PQgetvalue(result.get(), 0, 0), "on");
    EXPECT_GE(std::atoi(PQgetvalue(result.get(), 0, 1)), 150000);
}

}  // namespace
}  // namespace noderepair::test_support
