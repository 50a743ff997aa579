// Subcommands of the `kite` executable, one file each (cmd_<name>.cpp). Each returns the process
// exit code and prints a one-line error on stderr on failure.
#pragma once

namespace kite::cli {

int cmd_generate(int argc, char** argv);         // cmd_generate.cpp (single prompt and --requests)
int cmd_serve(int argc, char** argv);            // cmd_serve.cpp
int cmd_router(int argc, char** argv);           // cmd_router.cpp
int cmd_bench(int argc, char** argv);            // cmd_bench.cpp
int cmd_tokenize(int argc, char** argv);         // cmd_tokenize.cpp
int cmd_detokenize(int argc, char** argv);       // cmd_tokenize.cpp
int cmd_render_template(int argc, char** argv);  // cmd_render_template.cpp
int cmd_perplexity(int argc, char** argv);       // cmd_perplexity.cpp

// `kite generate --requests FILE.jsonl`: the offline batch mode (cmd_generate_batch.cpp).
int run_generate_requests(int argc, char** argv);

}  // namespace kite::cli
