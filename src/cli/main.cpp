// `kite <command> ...`: the command table. Every command explains its flags with --help.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "cli/commands.h"

namespace {

struct Command {
    const char* name;
    int (*run)(int, char**);
    const char* summary;
};

constexpr Command kCommands[] = {
    {"generate", kite::cli::cmd_generate, "generate text from a prompt, or a batch of requests (--requests)"},
    {"serve", kite::cli::cmd_serve, "serve the rtp-llm native and OpenAI HTTP APIs"},
    {"router", kite::cli::cmd_router, "route the same APIs over several `kite serve` backends"},
    {"bench", kite::cli::cmd_bench, "offline throughput benchmark (continuous vs static batching)"},
    {"tokenize", kite::cli::cmd_tokenize, "text -> token ids (JSON lines on stdin)"},
    {"detokenize", kite::cli::cmd_detokenize, "token ids -> text (JSON lines on stdin)"},
    {"render-template", kite::cli::cmd_render_template, "render chat templates (JSON lines on stdin)"},
    {"perplexity", kite::cli::cmd_perplexity, "perplexity of a text file, as llama.cpp's perplexity tool measures it"},
};

void print_help() {
    std::printf("kite: LLM inference and serving engine\n\nUsage: kite <command> [flags]\n\nCommands:\n");
    for (const Command& c : kCommands) std::printf("  %-16s %s\n", c.name, c.summary);
    std::printf("\nRun `kite <command> --help` for the flags of a command.\n");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
        std::strcmp(argv[1], "help") == 0) {
        print_help();
        return argc < 2 ? 1 : 0;
    }
    const std::string_view name = argv[1];
    for (const Command& c : kCommands) {
        if (name == c.name) return c.run(argc - 1, argv + 1);
    }
    std::fprintf(stderr, "kite: unknown command '%s' (expected one of: generate, serve, router, bench, tokenize, "
                         "detokenize, render-template, perplexity; see kite --help)\n", argv[1]);
    return 2;
}
