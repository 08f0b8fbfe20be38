// Boost.JSON and Boost.URL built from source into the fuzz build, with its instrumentation:
// linked as Debian's shared libraries they would be opaque to libFuzzer and ASan.
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
