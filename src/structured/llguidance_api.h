// The part of llguidance's C API that kite uses, loaded at run time from the shared library that
// its PyPI wheel ships (`pip install llguidance`: llguidance/_lib.abi3.so). The declarations below
// are kite's own, written to match the library's documented C ABI (llguidance >= 1.0):
// opaque handles, two init structs, and plain functions returning 0 / -1.
//
// Why at run time: the wheel is a CPython extension module, so its data references to CPython's
// type objects must be bound when it is loaded; libpython is loaded first (never initialized, no
// Python code runs) so that the dynamic linker can bind them. Where the library cannot be found,
// structured output is reported as unavailable and everything else works.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace kite::structured {

struct LlgTokenizer;  // opaque
struct LlgMatcher;    // opaque

// Callback that tokenizes bytes with the model's tokenizer (no BOS); returns the full count and
// writes at most `cap` ids. Must be thread-safe.
using LlgTokenizeFn = size_t (*)(const void* user, const uint8_t* bytes, size_t len, uint32_t* out, size_t cap);

// Parser resource limits; zero fields take the library's defaults.
struct LlgParserLimits {
    size_t max_items_in_row;
    uint64_t initial_lexer_fuel;
    uint64_t step_lexer_fuel;
    size_t step_max_items;
    size_t max_lexer_states;
    size_t max_grammar_size;
    bool precompute_large_lexemes;
    bool verbose_errors;
};

// Options of a matcher (filled by llg_constraint_init_set_defaults, then the tokenizer set).
struct LlgConstraintInit {
    const LlgTokenizer* tokenizer;
    uint32_t log_buffer_level;
    uint32_t log_stderr_level;
    bool ff_tokens_ok;
    bool backtrack_ok;
    LlgParserLimits limits;
};

// The vocabulary: per-token byte strings (special tokens as 0xFF + name), the EOS ids and a
// tokenize callback. `struct_size` lets the library read only the fields this side knows.
struct LlgTokenizerInitV2 {
    size_t struct_size;
    uint32_t vocab_size;
    uint32_t tok_eos;
    const uint32_t* token_lens;
    const uint8_t* token_bytes;
    const char* tokenizer_json;  // unused (null): the bytes above are given
    bool tokenize_assumes_string;
    LlgTokenizeFn tokenize_fn;
    bool use_approximate_greedy_tokenize_fn;
    const void* tokenize_user_data;
    const char* const* slices;  // null: the library's default partitions
    const uint32_t* tok_eos_extra;
    uint32_t tok_eos_extra_count;
};

// The entry points kite calls, resolved from the library.
struct LlgApi {
    const char* (*get_version)();
    LlgTokenizer* (*new_tokenizer_v2)(const LlgTokenizerInitV2*, char* err, size_t err_len);
    void (*free_tokenizer)(LlgTokenizer*);
    void (*constraint_init_set_defaults)(LlgConstraintInit*, const LlgTokenizer*);
    LlgMatcher* (*new_matcher)(const LlgConstraintInit*, const char* type, const char* data);
    LlgMatcher* (*clone_matcher)(const LlgMatcher*);
    void (*free_matcher)(LlgMatcher*);
    const char* (*matcher_get_error)(LlgMatcher*);
    int32_t (*matcher_compute_mask_into)(LlgMatcher*, uint32_t* mask, size_t mask_bytes);
    size_t (*matcher_get_mask_byte_size)(const LlgMatcher*);
    int32_t (*matcher_consume_token)(LlgMatcher*, uint32_t token);
    bool (*matcher_is_stopped)(const LlgMatcher*);
    bool (*matcher_is_accepting)(LlgMatcher*);
};

// Loads the library once (thread-safe); the error says what was looked for and how to fix it.
// Paths: $KITE_LLGUIDANCE_LIB, else the wheel found when kite was configured; libpython:
// $KITE_LIBPYTHON, else the configure-time interpreter's, else libpython3.so.
Result<const LlgApi*> llguidance();

}  // namespace kite::structured
