#include "cli/cli.hpp"

int main(int argc, char** argv) { return noderepair::cli::Run(argc, argv); }
