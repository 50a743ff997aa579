// Placeholder until its owner lands the command; exits with a one-line message.
#include <cstdio>
#include "cli/commands.h"
namespace kite::cli {
int cmd_serve(int, char**) { std::fprintf(stderr, "kite: 'serve' is not available in this build\n"); return 1; }
}  // namespace kite::cli
