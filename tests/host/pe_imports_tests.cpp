// kmd::read_imports (kit/loader/pe_imports.cpp) on what is not an image.
#include <gtest/gtest.h>

#include "pe_imports.hpp"

namespace {

TEST(PeImports, TextIsNotAnImage)
{
    const unsigned char text[] = "MZ but nothing else";
    const kmd::ImportList r = kmd::read_imports(text, sizeof text);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ("not a PE image", r.problem);
    EXPECT_TRUE(r.imports.empty());
}

TEST(PeImports, EmptyInputIsNoImage)
{
    EXPECT_FALSE(kmd::read_imports(nullptr, 0).ok);
}

} // namespace
