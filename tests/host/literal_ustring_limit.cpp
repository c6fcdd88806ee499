// literal_ustring_limit.cpp - compiled by CTest with LITERAL_CHARS = 32767 (must compile) and
// 32768 (must not: a UNICODE_STRING's MaximumLength, which counts the NUL, would wrap to 0).
#include <kmd/kernel_raii.hpp>

template <size_t N>
struct Literal {
    wchar_t text[N];
};
constexpr Literal<LITERAL_CHARS> kText{};
constexpr UNICODE_STRING kString = kmd::literal_ustring(kText.text);
#if LITERAL_CHARS <= 32767 // (for 32768 only literal_ustring's own static_assert may stop the build)
static_assert(kString.MaximumLength == LITERAL_CHARS * sizeof(wchar_t));
#endif
