// device_tests.cpp - every request of skeleton/ioctl.h through the real I/O manager.
//
// Runs under Wine (CTest: tests/e2e). DriverEnvironment (driver_fixture.cpp) loads skeleton.sys
// once; each test opens its own handle. The driver must answer every request, good or bad, and
// keep serving: the last test checks it is still alive after all the bad ones.
#include <gtest/gtest.h>
#include <skeleton/ioctl.h>

#include <cstring>
#include <string>
#include <vector>

#include "driver_fixture.hpp"

namespace {

using kmd::test::ioctl_error;
kmd::FileHandle open_skeleton() { return kmd::test::open_device(SKELETON_WIN32_DEVICE_PATH_W); }

// An independent CRC-32 for IOCTL_SKELETON_VERIFY_IN_DIRECT: the one ntdll has.
uint32_t system_crc32(const std::vector<unsigned char>& data)
{
    using RtlComputeCrc32Fn = DWORD(WINAPI*)(DWORD, const BYTE*, INT);
    static const auto fn =
        reinterpret_cast<RtlComputeCrc32Fn>(reinterpret_cast<void*>(GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "RtlComputeCrc32")));
    return fn(0, data.data(), static_cast<INT>(data.size()));
}

std::vector<unsigned char> random_bytes(size_t n, uint32_t seed)
{
    std::vector<unsigned char> v(n);
    for (auto& b : v) {
        seed = seed * 1664525u + 1013904223u;
        b = static_cast<unsigned char>(seed >> 24);
    }
    return v;
}

// ------------------------------------------------------------------ SAY_HELLO (the seed's IOCTL)

const std::string kGreeting = "Hello from ring 0! The skeleton KMD answers SERVICE_SAY_HELLO.";

TEST(SayHello, ReturnsTheGreetingWithItsNulAndLength)
{
    auto device = open_skeleton();
    char out[256];
    std::memset(out, 0xCC, sizeof out);
    DWORD returned = 0;
    ASSERT_EQ(static_cast<DWORD>(ERROR_SUCCESS), ioctl_error(device.get(), IOCTL_SKELETON_SAY_HELLO, nullptr, 0, out, sizeof out, &returned));
    EXPECT_EQ(kGreeting.size() + 1, returned);
    EXPECT_EQ(kGreeting, std::string(out));
    EXPECT_EQ('\0', out[kGreeting.size()]);
    EXPECT_EQ(static_cast<char>(0xCC), out[kGreeting.size() + 1]) << "wrote past Information";
}

TEST(SayHello, ExactSizeBufferIsEnough)
{
    auto device = open_skeleton();
    std::vector<char> out(kGreeting.size() + 1, 'x');
    DWORD returned = 0;
    ASSERT_EQ(static_cast<DWORD>(ERROR_SUCCESS),
              ioctl_error(device.get(), IOCTL_SKELETON_SAY_HELLO, nullptr, 0, out.data(), static_cast<DWORD>(out.size()), &returned));
    EXPECT_EQ(out.size(), returned);
    EXPECT_EQ(kGreeting, std::string(out.data()));
}

TEST(SayHello, OneByteShortIsBufferTooSmallAndWritesNothing)
{
    auto device = open_skeleton();
    std::vector<char> out(kGreeting.size(), 'x');
    DWORD returned = 0;
    EXPECT_EQ(static_cast<DWORD>(ERROR_INSUFFICIENT_BUFFER),
              ioctl_error(device.get(), IOCTL_SKELETON_SAY_HELLO, nullptr, 0, out.data(), static_cast<DWORD>(out.size()), &returned));
    // lpBytesReturned is undefined after a failed DeviceIoControl (Wine leaves it alone); the
    // buffer itself shows that nothing was written.
    EXPECT_EQ(std::vector<char>(kGreeting.size(), 'x'), out);
}

TEST(SayHello, TinyAndZeroLengthBuffersAreBufferTooSmall)
{
    auto device = open_skeleton();
    char out[5] = {1, 2, 3, 4, 5};
    EXPECT_EQ(static_cast<DWORD>(ERROR_INSUFFICIENT_BUFFER), ioctl_error(device.get(), IOCTL_SKELETON_SAY_HELLO, nullptr, 0, out, 5));
    EXPECT_EQ(1, out[0]);
    EXPECT_EQ(static_cast<DWORD>(ERROR_INSUFFICIENT_BUFFER), ioctl_error(device.get(), IOCTL_SKELETON_SAY_HELLO, nullptr, 0, out, 0));
    EXPECT_EQ(static_cast<DWORD>(ERROR_INSUFFICIENT_BUFFER), ioctl_error(device.get(), IOCTL_SKELETON_SAY_HELLO, nullptr, 0, nullptr, 0));
}

TEST(SayHello, NullOutputWithALength)
{
    // Known difference. Wine copies buffers between client and driver host, and refuses a NULL
    // buffer with a length in the client (ERROR_INVALID_USER_BUFFER) before any IRP exists. A real
    // kernel passes METHOD_NEITHER's NULL UserBuffer to the driver, which refuses it
    // (STATUS_BUFFER_TOO_SMALL -> ERROR_INSUFFICIENT_BUFFER; seen on ReactOS).
    auto device = open_skeleton();
    const DWORD expected = kmd::test::kernel() == kmd::test::Kernel::Wine ? ERROR_INVALID_USER_BUFFER : ERROR_INSUFFICIENT_BUFFER;
    EXPECT_EQ(expected, ioctl_error(device.get(), IOCTL_SKELETON_SAY_HELLO, nullptr, 0, nullptr, 64))
        << "on " << kmd::test::kernel_name(kmd::test::kernel());
}

TEST(SayHello, InputIsIgnored)
{
    auto device = open_skeleton();
    const char in[] = "anything";
    char out[128] = {};
    ASSERT_EQ(static_cast<DWORD>(ERROR_SUCCESS), ioctl_error(device.get(), IOCTL_SKELETON_SAY_HELLO, in, sizeof in, out, sizeof out));
    EXPECT_EQ(kGreeting, std::string(out));
}

// The contract says SAY_HELLO ignores its input: so it ignores its size too, even past the
// 1 MiB transfer limit of the requests that do read their input.
TEST(SayHello, InputIsIgnoredWhateverItsSize)
{
    auto device = open_skeleton();
    const std::vector<unsigned char> in(2 * SKELETON_MAX_TRANSFER, 0x5A);
    char out[128] = {};
    ASSERT_EQ(static_cast<DWORD>(ERROR_SUCCESS),
              ioctl_error(device.get(), IOCTL_SKELETON_SAY_HELLO, in.data(), static_cast<DWORD>(in.size()), out, sizeof out));
    EXPECT_EQ(kGreeting, std::string(out));
}

// ------------------------------------------------------------------ what the driver does not serve

TEST(Open, ANameBelowTheDeviceIsNotFound)
{
    // \\.\skeleton is the device; \\.\skeleton\anything names nothing the driver has, so IRP_MJ_CREATE
    // refuses it (STATUS_OBJECT_NAME_NOT_FOUND) instead of opening the device under another name.
    kmd::FileHandle below(CreateFileW(SKELETON_WIN32_DEVICE_PATH_W L"\\anything", GENERIC_READ | GENERIC_WRITE, 0, nullptr,
                                      OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr));
    const DWORD error = GetLastError();
    EXPECT_FALSE(below) << "opened";
    EXPECT_EQ(static_cast<DWORD>(ERROR_FILE_NOT_FOUND), error);
    auto device = open_skeleton(); // the device itself still opens
    EXPECT_TRUE(device);
}

TEST(Unsupported, UnknownIoctlsAreInvalidFunctionWhateverTheirMethod)
{
    auto device = open_skeleton();
    char buffer[64] = {};
    for (DWORD method = 0; method < 4; ++method) {
        const DWORD code = SKELETON_CTL_CODE(SKELETON_FILE_DEVICE_UNKNOWN, 0x9AB, method, 0);
        EXPECT_EQ(static_cast<DWORD>(ERROR_INVALID_FUNCTION), ioctl_error(device.get(), code, buffer, sizeof buffer, buffer, sizeof buffer))
            << std::hex << code;
    }
    // A known function with the wrong method or access is a different code, hence unknown too.
    EXPECT_EQ(static_cast<DWORD>(ERROR_INVALID_FUNCTION),
              ioctl_error(device.get(), SKELETON_CTL_CODE(SKELETON_FILE_DEVICE_UNKNOWN, 0x801, 0, 0), nullptr, 0, buffer, sizeof buffer));
    EXPECT_EQ(static_cast<DWORD>(ERROR_INVALID_FUNCTION), ioctl_error(device.get(), 0, nullptr, 0, nullptr, 0));
    EXPECT_EQ(static_cast<DWORD>(ERROR_INVALID_FUNCTION), ioctl_error(device.get(), 0xFFFFFFFF, nullptr, 0, nullptr, 0));
}

TEST(Unsupported, ReadAndWriteFailInsteadOfHanging)
{
    auto device = open_skeleton();
    char buffer[16] = {};
    DWORD n = 0;
    SetLastError(0);
    EXPECT_FALSE(ReadFile(device.get(), buffer, sizeof buffer, &n, nullptr));
    EXPECT_EQ(static_cast<DWORD>(ERROR_INVALID_FUNCTION), GetLastError());
    SetLastError(0);
    EXPECT_FALSE(WriteFile(device.get(), buffer, sizeof buffer, &n, nullptr));
    EXPECT_EQ(static_cast<DWORD>(ERROR_INVALID_FUNCTION), GetLastError());
}

TEST(Device, ManyHandlesOpenAndCloseIndependently)
{
    std::vector<kmd::FileHandle> handles;
    for (int i = 0; i < 16; ++i) handles.push_back(open_skeleton());
    for (auto& h : handles) {
        char out[128] = {};
        EXPECT_EQ(static_cast<DWORD>(ERROR_SUCCESS), ioctl_error(h.get(), IOCTL_SKELETON_SAY_HELLO, nullptr, 0, out, sizeof out));
    }
}

// ------------------------------------------------------------------ METHOD_BUFFERED

TEST(ReverseBuffered, ReversesEverySize)
{
    auto device = open_skeleton();
    for (size_t size : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, size_t{4096}, size_t{65537}, size_t{SKELETON_MAX_TRANSFER}}) {
        const auto in = random_bytes(size, static_cast<uint32_t>(size));
        std::vector<unsigned char> out(size + 16, 0xAB);
        DWORD returned = 0;
        ASSERT_EQ(static_cast<DWORD>(ERROR_SUCCESS),
                  ioctl_error(device.get(), IOCTL_SKELETON_REVERSE_BUFFERED, in.data(), static_cast<DWORD>(in.size()), out.data(),
                              static_cast<DWORD>(out.size()), &returned))
            << size;
        EXPECT_EQ(size, returned);
        EXPECT_TRUE(std::equal(in.rbegin(), in.rend(), out.begin())) << size;
        EXPECT_EQ(std::vector<unsigned char>(16, 0xAB), std::vector<unsigned char>(out.end() - 16, out.end())) << size;
    }
}

TEST(ReverseBuffered, ShortOutputAndOversizedInputAreRefused)
{
    auto device = open_skeleton();
    const auto in = random_bytes(100, 7);
    std::vector<unsigned char> out(99);
    EXPECT_EQ(static_cast<DWORD>(ERROR_INSUFFICIENT_BUFFER),
              ioctl_error(device.get(), IOCTL_SKELETON_REVERSE_BUFFERED, in.data(), 100, out.data(), 99));
    EXPECT_EQ(static_cast<DWORD>(ERROR_INSUFFICIENT_BUFFER),
              ioctl_error(device.get(), IOCTL_SKELETON_REVERSE_BUFFERED, in.data(), 100, nullptr, 0));
    const auto big = random_bytes(SKELETON_MAX_TRANSFER + 1, 9);
    std::vector<unsigned char> big_out(big.size());
    EXPECT_EQ(static_cast<DWORD>(ERROR_INVALID_PARAMETER),
              ioctl_error(device.get(), IOCTL_SKELETON_REVERSE_BUFFERED, big.data(), static_cast<DWORD>(big.size()), big_out.data(),
                          static_cast<DWORD>(big_out.size())));
}

// ------------------------------------------------------------------ METHOD_IN_DIRECT

TEST(VerifyInDirect, AcceptsTheRightCrcOverALargeBuffer)
{
    auto device = open_skeleton();
    for (size_t size : {size_t{1}, size_t{4095}, size_t{4096}, size_t{300001}, size_t{SKELETON_MAX_TRANSFER}}) {
        auto data = random_bytes(size, static_cast<uint32_t>(size) * 3);
        const skeleton_verify_request request{system_crc32(data)};
        DWORD returned = 0;
        ASSERT_EQ(static_cast<DWORD>(ERROR_SUCCESS),
                  ioctl_error(device.get(), IOCTL_SKELETON_VERIFY_IN_DIRECT, &request, sizeof request, data.data(),
                              static_cast<DWORD>(data.size()), &returned))
            << size;
        EXPECT_EQ(size, returned) << "Information counts the bytes read through the MDL";
    }
}

TEST(VerifyInDirect, ReportsAMismatchAsCrcError)
{
    auto device = open_skeleton();
    auto data = random_bytes(50000, 11);
    skeleton_verify_request request{system_crc32(data)};
    data[49999] ^= 1; // the last byte: the driver must read all of them
    EXPECT_EQ(static_cast<DWORD>(ERROR_CRC), ioctl_error(device.get(), IOCTL_SKELETON_VERIFY_IN_DIRECT, &request, sizeof request,
                                                         data.data(), static_cast<DWORD>(data.size())));
}

TEST(VerifyInDirect, MissingRequestOrDataIsInvalidParameter)
{
    auto device = open_skeleton();
    auto data = random_bytes(100, 12);
    const skeleton_verify_request request{system_crc32(data)};
    EXPECT_EQ(static_cast<DWORD>(ERROR_INVALID_PARAMETER),
              ioctl_error(device.get(), IOCTL_SKELETON_VERIFY_IN_DIRECT, nullptr, 0, data.data(), 100));
    EXPECT_EQ(static_cast<DWORD>(ERROR_INVALID_PARAMETER),
              ioctl_error(device.get(), IOCTL_SKELETON_VERIFY_IN_DIRECT, &request, sizeof request - 1, data.data(), 100));
    // The contract's input-length rule: exactly the struct, so one byte more is refused too.
    unsigned char longer[sizeof request + 1] = {};
    std::memcpy(longer, &request, sizeof request);
    EXPECT_EQ(static_cast<DWORD>(ERROR_INVALID_PARAMETER),
              ioctl_error(device.get(), IOCTL_SKELETON_VERIFY_IN_DIRECT, longer, sizeof longer, data.data(), 100));
    EXPECT_EQ(static_cast<DWORD>(ERROR_INVALID_PARAMETER),
              ioctl_error(device.get(), IOCTL_SKELETON_VERIFY_IN_DIRECT, &request, sizeof request, nullptr, 0));
    auto big = random_bytes(SKELETON_MAX_TRANSFER + 1, 13);
    const skeleton_verify_request big_request{system_crc32(big)};
    EXPECT_EQ(static_cast<DWORD>(ERROR_INVALID_PARAMETER),
              ioctl_error(device.get(), IOCTL_SKELETON_VERIFY_IN_DIRECT, &big_request, sizeof big_request, big.data(),
                          static_cast<DWORD>(big.size())));
}

// ------------------------------------------------------------------ METHOD_OUT_DIRECT

TEST(FillOutDirect, FillsEveryByteOfALargeBuffer)
{
    auto device = open_skeleton();
    for (size_t size : {size_t{1}, size_t{4097}, size_t{SKELETON_MAX_TRANSFER}}) {
        const skeleton_fill_request request{static_cast<unsigned>(size) * 7 + 1};
        std::vector<unsigned char> out(size, 0xEE);
        DWORD returned = 0;
        ASSERT_EQ(static_cast<DWORD>(ERROR_SUCCESS), ioctl_error(device.get(), IOCTL_SKELETON_FILL_OUT_DIRECT, &request, sizeof request,
                                                                 out.data(), static_cast<DWORD>(out.size()), &returned))
            << size;
        EXPECT_EQ(size, returned);
        size_t wrong = 0;
        for (size_t i = 0; i < size; ++i) wrong += out[i] != skeleton_pattern_byte(request.seed, static_cast<unsigned long>(i));
        EXPECT_EQ(0u, wrong) << size;
    }
}

TEST(FillOutDirect, MissingSeedOrBufferIsInvalidParameter)
{
    auto device = open_skeleton();
    const skeleton_fill_request request{1};
    std::vector<unsigned char> out(64, 0x5A);
    EXPECT_EQ(static_cast<DWORD>(ERROR_INVALID_PARAMETER),
              ioctl_error(device.get(), IOCTL_SKELETON_FILL_OUT_DIRECT, nullptr, 0, out.data(), 64));
    EXPECT_EQ(std::vector<unsigned char>(64, 0x5A), out) << "nothing written on failure";
    // The contract's input-length rule: exactly the struct, so one byte more is refused too.
    unsigned char longer[sizeof request + 1] = {};
    std::memcpy(longer, &request, sizeof request);
    EXPECT_EQ(static_cast<DWORD>(ERROR_INVALID_PARAMETER),
              ioctl_error(device.get(), IOCTL_SKELETON_FILL_OUT_DIRECT, longer, sizeof longer, out.data(), 64));
    EXPECT_EQ(std::vector<unsigned char>(64, 0x5A), out) << "nothing written on failure";
    EXPECT_EQ(static_cast<DWORD>(ERROR_INVALID_PARAMETER),
              ioctl_error(device.get(), IOCTL_SKELETON_FILL_OUT_DIRECT, &request, sizeof request, nullptr, 0));
    std::vector<unsigned char> big(SKELETON_MAX_TRANSFER + 1);
    EXPECT_EQ(static_cast<DWORD>(ERROR_INVALID_PARAMETER), ioctl_error(device.get(), IOCTL_SKELETON_FILL_OUT_DIRECT, &request,
                                                                       sizeof request, big.data(), static_cast<DWORD>(big.size())));
}

// ------------------------------------------------------------------ METHOD_NEITHER

TEST(EchoNeither, EchoesEverySize)
{
    auto device = open_skeleton();
    for (size_t size : {size_t{0}, size_t{1}, size_t{17}, size_t{8192}, size_t{SKELETON_MAX_TRANSFER}}) {
        const auto in = random_bytes(size, static_cast<uint32_t>(size) + 5);
        std::vector<unsigned char> out(size + 8, 0x77);
        DWORD returned = 0;
        ASSERT_EQ(static_cast<DWORD>(ERROR_SUCCESS), ioctl_error(device.get(), IOCTL_SKELETON_ECHO_NEITHER, in.data(),
                                                                 static_cast<DWORD>(in.size()), out.data(),
                                                                 static_cast<DWORD>(out.size()), &returned))
            << size;
        EXPECT_EQ(size, returned);
        EXPECT_TRUE(std::equal(in.begin(), in.end(), out.begin())) << size;
        EXPECT_EQ(std::vector<unsigned char>(8, 0x77), std::vector<unsigned char>(out.end() - 8, out.end())) << size;
    }
}

TEST(EchoNeither, ShortOutputAndOversizedInputAreRefused)
{
    auto device = open_skeleton();
    const auto in = random_bytes(64, 3);
    std::vector<unsigned char> out(63, 0x11);
    EXPECT_EQ(static_cast<DWORD>(ERROR_INSUFFICIENT_BUFFER),
              ioctl_error(device.get(), IOCTL_SKELETON_ECHO_NEITHER, in.data(), 64, out.data(), 63));
    EXPECT_EQ(std::vector<unsigned char>(63, 0x11), out);
    const auto big = random_bytes(SKELETON_MAX_TRANSFER + 1, 4);
    std::vector<unsigned char> big_out(big.size());
    EXPECT_EQ(static_cast<DWORD>(ERROR_INVALID_PARAMETER),
              ioctl_error(device.get(), IOCTL_SKELETON_ECHO_NEITHER, big.data(), static_cast<DWORD>(big.size()), big_out.data(),
                          static_cast<DWORD>(big_out.size())));
}

// ------------------------------------------------------------------ and after all that

// Checked after the last test whatever the order (--gtest_shuffle too), while the driver is loaded.
const bool g_still_serves = (kmd::test::at_end("the driver still serves after every test", [] {
                                 auto device = open_skeleton();
                                 char out[128] = {};
                                 ASSERT_EQ(static_cast<DWORD>(ERROR_SUCCESS),
                                           ioctl_error(device.get(), IOCTL_SKELETON_SAY_HELLO, nullptr, 0, out, sizeof out));
                                 EXPECT_EQ(kGreeting, std::string(out));
                             }),
                             true);

} // namespace
