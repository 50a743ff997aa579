// Placeholder until its owner lands the command; exits with a one-line message.
#include <cstdio>
#include "cli/commands.h"
namespace kite::cli {
int cmd_tokenize(int, char**) { std::fprintf(stderr, "kite: 'tokenize' is not available in this build\n"); return 1; }
int cmd_detokenize(int, char**) { std::fprintf(stderr, "kite: 'detokenize' is not available in this build\n"); return 1; }
}  // namespace kite::cli
