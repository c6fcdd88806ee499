// fake_nt/kmd/pool.hpp - host-side stand-in for kmd/pool.hpp: counted, zeroed heap blocks.
#pragma once

#include <cstdlib>

#include "nt.hpp"

namespace kmd {
inline ULONG driver_pool_tag() { return 'tseT'; }
inline void* allocate_pool(SIZE_T size, ULONG)
{
    ++fake_nt::pool_blocks;
    return std::calloc(1, size);
}
inline void free_pool(void* p, ULONG)
{
    --fake_nt::pool_blocks;
    std::free(p);
}
} // namespace kmd
