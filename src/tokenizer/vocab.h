// Token string -> id tables for the models: open addressing with cached hashes, looked up by
// string_view without allocating. Loading a 128k-token vocabulary with 280k merges does about a
// million lookups, and encoding does one per symbol, so this is on both hot paths.
#pragma once

#include <cstdint>
#include <cstring>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kite::tok {

// Ids at or above this are rejected: the id -> token tables are dense.
inline constexpr int64_t kMaxVocabId = int64_t{1} << 24;

inline uint64_t hash_bytes(std::string_view s) {
    const char* p = s.data();
    size_t n = s.size();
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xFF51AFD7ED558CCDull);
    while (n >= 8) {
        uint64_t v;
        std::memcpy(&v, p, 8);
        h = (h ^ v) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    uint64_t v = 0;
    std::memcpy(&v, p, n);
    h = (h ^ v ^ (static_cast<uint64_t>(n) << 59)) * 0x94D049BB133111EBull;
    return h ^ (h >> 29);
}

class TokenTable {
public:
    // Sets key -> id (a repeated key keeps its last id). Returns the stored key, stable for the
    // table's lifetime.
    const std::string& set(std::string_view key, int32_t id) {
        if ((entries_.size() + 1) * 2 > slots_.size()) grow();
        const uint64_t h = hash_bytes(key);
        size_t i = h & mask_;
        while (slots_[i] >= 0) {
            Entry& e = entries_[static_cast<size_t>(slots_[i])];
            if (e.hash == h && e.key == key) {
                e.id = id;
                return e.key;
            }
            i = (i + 1) & mask_;
        }
        slots_[i] = static_cast<int32_t>(entries_.size());
        entries_.push_back(Entry{std::string(key), h, id});
        return entries_.back().key;
    }
    std::optional<int32_t> find(std::string_view key) const {
        if (entries_.empty()) return std::nullopt;
        const uint64_t h = hash_bytes(key);
        size_t i = h & mask_;
        while (slots_[i] >= 0) {
            const Entry& e = entries_[static_cast<size_t>(slots_[i])];
            if (e.hash == h && e.key == key) return e.id;
            i = (i + 1) & mask_;
        }
        return std::nullopt;
    }
    void reserve(size_t n) {
        while (slots_.size() < n * 2) grow();
    }
    size_t size() const { return entries_.size(); }
    template <typename F>
    void for_each(F&& f) const {
        for (const Entry& e : entries_) f(e.key, e.id);
    }

private:
    struct Entry {
        std::string key;
        uint64_t hash;
        int32_t id;
    };
    void grow() {
        const size_t cap = slots_.empty() ? 64 : slots_.size() * 2;
        slots_.assign(cap, -1);
        mask_ = cap - 1;
        for (size_t k = 0; k < entries_.size(); ++k) {
            size_t i = entries_[k].hash & mask_;
            while (slots_[i] >= 0) i = (i + 1) & mask_;
            slots_[i] = static_cast<int32_t>(k);
        }
    }
    std::deque<Entry> entries_;   // deque: keys never move, so callers may keep pointers
    std::vector<int32_t> slots_;  // index into entries_, -1 when empty
    size_t mask_ = 0;
};

// uint64 -> value map with open addressing (BPE merges keyed by a pair of ids).
template <typename V>
class PairTable {
public:
    void reserve(size_t n) {
        size_t cap = 64;
        while (cap < n * 2) cap *= 2;
        if (cap > keys_.size()) rehash(cap);
    }
    void set(uint64_t key, V v) {
        if ((size_ + 1) * 2 > keys_.size()) rehash(keys_.empty() ? 64 : keys_.size() * 2);
        size_t i = mix(key) & mask_;
        while (used_[i] && keys_[i] != key) i = (i + 1) & mask_;
        if (!used_[i]) { used_[i] = 1; keys_[i] = key; ++size_; }
        vals_[i] = v;
    }
    const V* find(uint64_t key) const {
        if (keys_.empty()) return nullptr;
        size_t i = mix(key) & mask_;
        while (used_[i]) {
            if (keys_[i] == key) return &vals_[i];
            i = (i + 1) & mask_;
        }
        return nullptr;
    }

private:
    static uint64_t mix(uint64_t x) {
        x ^= x >> 33;
        x *= 0xFF51AFD7ED558CCDull;
        x ^= x >> 33;
        return x;
    }
    void rehash(size_t cap) {
        std::vector<uint64_t> k(cap);
        std::vector<V> v(cap);
        std::vector<uint8_t> u(cap, 0);
        const size_t m = cap - 1;
        for (size_t j = 0; j < keys_.size(); ++j) {
            if (!used_[j]) continue;
            size_t i = mix(keys_[j]) & m;
            while (u[i]) i = (i + 1) & m;
            u[i] = 1;
            k[i] = keys_[j];
            v[i] = vals_[j];
        }
        keys_.swap(k);
        vals_.swap(v);
        used_.swap(u);
        mask_ = m;
    }
    std::vector<uint64_t> keys_;
    std::vector<V> vals_;
    std::vector<uint8_t> used_;
    size_t mask_ = 0, size_ = 0;
};

}  // namespace kite::tok
