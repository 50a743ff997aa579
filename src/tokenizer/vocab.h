// A token-string -> id map with allocation-free lookups by string_view, shared by the models.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace kite::tok {

struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

using VocabMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

}  // namespace kite::tok
