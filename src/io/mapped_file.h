// A read-only memory mapping of a whole file, shared by every tensor that views it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace kite {

class MappedFile {
public:
    static Result<std::shared_ptr<MappedFile>> open(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    const std::string& path() const { return path_; }

private:
    MappedFile() = default;
    std::string path_;
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

// Reads a whole (small) file into a string; clear errors for missing/unreadable files.
Result<std::string> read_text_file(const std::string& path);
// Reads and parses a JSON file; "PATH: invalid JSON (...)" on a syntax error.
Result<nlohmann::json> read_json_file(const std::string& path);

}  // namespace kite
