// libFuzzer target: arbitrary bytes as tokenizer.json. Loading must fail cleanly or give a
// tokenizer whose encode/decode/streaming never crash or hang on text derived from the input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string input(reinterpret_cast<const char*>(data), size);
    const nlohmann::json j = nlohmann::json::parse(input, nullptr, false);
    if (j.is_discarded()) return 0;
    auto tok = kite::Tokenizer::from_json(j);
    if (!tok.ok()) return 0;
    const std::string texts[] = {"", " ", "Hello world!  123 \xC3\xA9\xE4\xBD\xA0 \xF0\x9F\x98\x80\n\t<s>", input.substr(0, 256)};
    for (const std::string& t : texts) {
        for (bool special : {false, true}) {
            auto ids = (*tok)->encode(t, special);  // invalid UTF-8 must be an error, not a crash
            if (!ids.ok()) continue;
            for (bool skip : {false, true}) {
                (void)(*tok)->decode(*ids, skip);
                kite::IncrementalDecoder dec(*tok, skip);
                for (int32_t id : *ids) (void)dec.step(id);
                (void)dec.flush();
            }
        }
    }
    // Arbitrary ids, in and out of range.
    std::vector<int32_t> ids;
    for (size_t i = 0; i + 1 < size && ids.size() < 64; i += 2) ids.push_back((data[i] << 8 | data[i + 1]) - 16);
    (void)(*tok)->decode(ids, false);
    (void)(*tok)->vocab_size();
    (void)(*tok)->id_to_token(ids.empty() ? 0 : ids[0]);
    return 0;
}
