// Test support: the PostgreSQL server unit tests use (tests/README.md, "PostgreSQL"). Test code
// only; included by *_test.cpp files.
#pragma once

#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

namespace noderepair::test_support {

// NODEREPAIR_TEST_PG when set, else the URI the ctest fixture `postgres` wrote
// (NODEREPAIR_TEST_PG_URI_FILE, a compile definition of the unit tests); nullopt when there is
// neither, e.g. the binary run by hand with no server (tests then GTEST_SKIP with the reason).
inline std::optional<std::string> TestPostgresUri() {
    if (const char* uri = std::getenv("NODEREPAIR_TEST_PG"); uri != nullptr && *uri != '\0') {
        return std::string(uri);
    }
#ifdef NODEREPAIR_TEST_PG_URI_FILE
    std::ifstream file(NODEREPAIR_TEST_PG_URI_FILE);
    std::string uri;
    if (file && std::getline(file, uri) && !uri.empty()) return uri;
#endif
    return std::nullopt;
}

inline constexpr const char* kNoTestPostgres =
    "no PostgreSQL server: set NODEREPAIR_TEST_PG or run through ctest (fixture `postgres`)";

}  // namespace noderepair::test_support
