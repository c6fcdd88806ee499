// contract_tests.cpp - skeleton/ioctl.h: the codes are what the seed and the documentation say.
#include <gtest/gtest.h>
#include <skeleton/ioctl.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "core/requests.hpp"

namespace {

TEST(Contract, SayHelloIsTheSeedsCode)
{
    EXPECT_EQ(0x00222007ul, IOCTL_SKELETON_SAY_HELLO);
    const auto c = skeleton::IoctlCode::decode(IOCTL_SKELETON_SAY_HELLO);
    EXPECT_EQ(0x22u, c.device_type);
    EXPECT_EQ(0x801u, c.function);
    EXPECT_EQ(skeleton::TransferMethod::Neither, c.method);
    EXPECT_EQ(0u, c.access);
    EXPECT_TRUE(c.is_custom_function());
    EXPECT_FALSE(c.is_custom_device());
}

TEST(Contract, EncodeDecodeRoundTripsEveryFieldCombination)
{
    for (unsigned dev : {0u, 0x22u, 0x8000u, 0xFFFFu})
        for (unsigned fn : {0u, 0x7FFu, 0x800u, 0xFFFu})
            for (unsigned m = 0; m < 4; ++m)
                for (unsigned acc = 0; acc < 4; ++acc) {
                    const skeleton::IoctlCode c{dev, acc, fn, static_cast<skeleton::TransferMethod>(m)};
                    ASSERT_TRUE(c.fits());
                    const auto d = skeleton::IoctlCode::decode(c.value());
                    EXPECT_EQ(dev, d.device_type);
                    EXPECT_EQ(fn, d.function);
                    EXPECT_EQ(m, static_cast<unsigned>(d.method));
                    EXPECT_EQ(acc, d.access);
                }
}

TEST(Contract, KnownValuesFromTheDocumentation)
{
    // IOCTL_DISK_GET_DRIVE_GEOMETRY = CTL_CODE(FILE_DEVICE_DISK, 0, METHOD_BUFFERED, FILE_ANY_ACCESS)
    EXPECT_EQ(0x00070000ul, (skeleton::IoctlCode{0x07, 0, 0, skeleton::TransferMethod::Buffered}.value()));
    // FSCTL_GET_RETRIEVAL_POINTERS = CTL_CODE(FILE_DEVICE_FILE_SYSTEM, 28, METHOD_NEITHER, FILE_ANY_ACCESS)
    EXPECT_EQ(0x00090073ul, (skeleton::IoctlCode{0x09, 0, 28, skeleton::TransferMethod::Neither}.value()));
}

TEST(Contract, NamesAreTheSeeds)
{
    EXPECT_EQ(std::wstring(L"\\Device\\skeleton"), SKELETON_DEVICE_NAME_W);
    EXPECT_EQ(std::wstring(L"\\DosDevices\\skeleton"), SKELETON_DOS_DEVICE_NAME_W);
    EXPECT_EQ(std::wstring(L"\\\\.\\skeleton"), SKELETON_WIN32_DEVICE_PATH_W);
    EXPECT_EQ(std::wstring(L"skeleton"), SKELETON_SERVICE_NAME_W);
}

} // namespace

// ---------------------------------------------------------------- the README cannot drift

// The README's IOCTL table ("## The contract") has one row per request-table row, each naming the
// IOCTL, its code, method and access as the contract defines them. Adding an IOCTL without its
// README row (or the other way round) fails here.
namespace readme {

std::vector<std::string> contract_rows()
{
    std::ifstream file(SKELETON_README_PATH);
    std::vector<std::string> rows;
    for (std::string line; std::getline(file, line);)
        if (line.rfind("| `IOCTL_SKELETON_", 0) == 0) rows.push_back(line);
    return rows;
}

const char* method_name(uint32_t code)
{
    static const char* const names[] = {"BUFFERED", "IN_DIRECT", "OUT_DIRECT", "NEITHER"};
    return names[code & 3u];
}

std::string access_name(uint32_t code)
{
    switch ((code >> 14) & 3u) {
    case 0: return "ANY";
    case 1: return "READ";
    case 2: return "WRITE";
    default: return "READ\\|WRITE";
    }
}

// Requests the NT shell serves itself, outside the core's table (they pend: samples/skeleton/nt/pending.cpp).
constexpr skeleton::core::RequestSpec kShellRequests[] = {
    {IOCTL_SKELETON_DELAY_PENDING, "DELAY_PENDING", 0, 0, nullptr, nullptr},
};

TEST(Readme, ItsIoctlTableMatchesTheRequestTable)
{
    const auto rows = contract_rows();
    std::vector<skeleton::core::RequestSpec> all(skeleton::core::requests_begin(), skeleton::core::requests_end());
    all.insert(all.end(), std::begin(kShellRequests), std::end(kShellRequests));
    ASSERT_EQ(all.size(), rows.size()) << "README.md: one row per IOCTL of the contract";
    for (const auto* r = all.data(); r != all.data() + all.size(); ++r) {
        char code[16];
        std::snprintf(code, sizeof code, "0x%08x", r->code);
        const std::string expected = std::string("| `IOCTL_SKELETON_") + r->name + "` | `" + code + "` | " + method_name(r->code) +
                                     " | " + access_name(r->code) + " |";
        bool found = false;
        for (const auto& row : rows) found = found || row.rfind(expected, 0) == 0;
        EXPECT_TRUE(found) << "README.md has no row starting " << expected;
    }
}

} // namespace readme
