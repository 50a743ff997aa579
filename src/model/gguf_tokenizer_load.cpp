// Building Tokenizer objects from GGUF files, and the one entry point the CLI and server use for
// `--model`: a .gguf file, a tokenizer.json, or a model folder.
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "model/gguf_tokenizer.h"

namespace kite {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Result<std::shared_ptr<Tokenizer>> tokenizer_from_gguf(const GgufFile& gguf) {
    KITE_ASSIGN_OR_RETURN(GgufTokenizerFiles files, gguf_tokenizer_files(gguf));
    auto tok = Tokenizer::from_json(files.tokenizer, &files.config);
    if (!tok.ok()) {
        return Status(tok.status().code(), gguf.path() + ": tokenizer built from GGUF metadata was rejected: " +
                                               tok.status().message());
    }
    return std::move(tok).value();
}

Result<std::shared_ptr<Tokenizer>> load_gguf_tokenizer(const std::string& gguf_path) {
    KITE_ASSIGN_OR_RETURN(GgufFile gguf, GgufFile::open(gguf_path));
    return tokenizer_from_gguf(gguf);
}

Result<std::shared_ptr<Tokenizer>> load_model_tokenizer(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st))
        return not_found(path + ": no such file or folder (expected a model folder, a .gguf or a tokenizer.json)");
    if (fs::is_regular_file(st) && ends_with(path, ".gguf")) return load_gguf_tokenizer(path);
    if (fs::is_directory(st) && !fs::exists(fs::path(path) / "tokenizer.json", ec)) {
        // A folder holding one GGUF model, as llama.cpp users keep them.
        std::vector<std::string> ggufs;
        for (const auto& entry : fs::directory_iterator(path, ec))
            if (entry.is_regular_file(ec) && ends_with(entry.path().string(), ".gguf"))
                ggufs.push_back(entry.path().string());
        if (ggufs.size() == 1) return load_gguf_tokenizer(ggufs[0]);
        if (ggufs.size() > 1)
            return invalid_argument(path + ": folder has no tokenizer.json and " + std::to_string(ggufs.size()) +
                                    " .gguf files; name the one to use");
    }
    // Folders with a tokenizer.json, and tokenizer.json files (with the config files beside them).
    return load_tokenizer_any(path);
}

}  // namespace kite
