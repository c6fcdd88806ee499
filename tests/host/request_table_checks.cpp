// request_table_checks.cpp - compiled by CTest with TABLE_CASE = ok (must compile), duplicate
// (two rows for one code) and mismatch (a write handler on a METHOD_IN_DIRECT code): those two must
// not, naming what is wrong (kmd::make_table in kit/driver/kmd/request.hpp).
#include <kmd/request.hpp>

namespace {
kmd::Result fill(kmd::ConstBytes, kmd::MutableBytes) { return {0, 0}; }
kmd::Result check(kmd::ConstBytes, kmd::ConstBytes) { return {0, 0}; }
constexpr uint32_t kBuffered = 0x00222000u; // CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
constexpr uint32_t kInDirect = 0x00222005u; // ... 0x801, METHOD_IN_DIRECT ...

#if defined(TABLE_CASE_ok)
constexpr kmd::RequestSpec kRows[] = {{kBuffered, "FILL", 0, 8, fill, nullptr}, {kInDirect, "CHECK", 4, 0, nullptr, check}};
#elif defined(TABLE_CASE_duplicate)
constexpr kmd::RequestSpec kRows[] = {{kBuffered, "FILL", 0, 8, fill, nullptr}, {kBuffered, "AGAIN", 0, 8, fill, nullptr}};
#elif defined(TABLE_CASE_mismatch)
constexpr kmd::RequestSpec kRows[] = {{kInDirect, "CHECK", 4, 0, fill, nullptr}};
#endif
constexpr kmd::RequestTable kTable = kmd::make_table(kRows);
static_assert(kTable.find(kRows[0].code) == &kRows[0]);
} // namespace
