// The K/V memory behind the block ids. kv/ decides every block move (copy-on-write, swap out to a
// host buffer it keeps, swap back in) and carries them out through this interface, which the
// engine implements over the model's KvCache; kv/ itself knows no tensors or devices.
#pragma once

#include <cstdint>
#include <vector>

namespace kite {

class KvBlockStore {
public:
    virtual ~KvBlockStore() = default;
    // Every layer's K/V of block `src` into block `dst`.
    virtual void copy_block(int src, int dst) = 0;
    // The blocks' K/V (all layers) into a host buffer and back; the layout is the store's own.
    virtual std::vector<uint8_t> save_blocks(const std::vector<int>& blocks) = 0;
    virtual void load_blocks(const std::vector<int>& blocks, const std::vector<uint8_t>& saved) = 0;
};

}  // namespace kite
