// What kmdctl reads from a contract header: IOCTL names, and the KMD_CONTRACT_* defaults that
// stand in for any knowledge of a particular driver (kit/loader/contract_header.hpp).
#include "contract_header.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <skeleton/ioctl.h>

TEST(ContractHeader, IoctlsFromAContractHeader)
{
    const char* header = R"(
/* A contract in the style of winioctl.h and of skeleton/ioctl.h. */
#define MYDRV_DEVICE 0x8000u
#define MYDRV_CTL_CODE(d, f, m, a) (((d) << 16) | ((a) << 14) | ((f) << 2) | (m))
#define IOCTL_MYDRV_ADD CTL_CODE(MYDRV_DEVICE, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS) // adds
#define IOCTL_MYDRV_RW \
    MYDRV_CTL_CODE(MYDRV_DEVICE, 0x801, METHOD_OUT_DIRECT, \
                   FILE_READ_DATA | FILE_WRITE_DATA)
  #  define   IOCTL_MYDRV_RAW   CTL_CODE(0x22, 2049, 3, 0)
#define NOT_AN_IOCTL 42
#define IOCTL_BROKEN CTL_CODE(MYDRV_DEVICE, 0x1000, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_UNKNOWN_NAME CTL_CODE(NO_SUCH_THING, 1, 0, 0)
// #define IOCTL_COMMENTED CTL_CODE(1, 1, 0, 0)
)";
    const auto found = kmd::ioctls_in_header(header);
    const std::vector<std::pair<std::string, uint32_t>> expected = {
        {"IOCTL_MYDRV_ADD", 0x80002000u}, {"IOCTL_MYDRV_RW", 0x8000e006u}, {"IOCTL_MYDRV_RAW", 0x00222007u}};
    EXPECT_EQ(expected, found);
}

TEST(ContractHeader, IoctlsFromAGeneratedDriverContract)
{
    // The shape tools/new-driver writes: a three-argument look-alike with casts and an ul suffix.
    const char* header = R"(
#define MYDRV_CTL_CODE(function, method, access) \
    ((0x00000022ul << 16) | ((unsigned long)(access) << 14) | ((unsigned long)(function) << 2) | (unsigned long)(method))
#define IOCTL_MYDRV_ADD MYDRV_CTL_CODE(0x800, 0, 0)
#define IOCTL_MYDRV_CHECK_SUM MYDRV_CTL_CODE(0x801, 1, 2)
#define IOCTL_MYDRV_WRONG_ARITY MYDRV_CTL_CODE(0x802, 1)
#define MYDRV_MAX_TRANSFER (1024u * 1024u)
)";
    const std::vector<std::pair<std::string, uint32_t>> expected = {{"IOCTL_MYDRV_ADD", 0x00222000u},
                                                                    {"IOCTL_MYDRV_CHECK_SUM", 0x0022a005u}};
    EXPECT_EQ(expected, kmd::ioctls_in_header(header));
}

TEST(ContractHeader, IoctlsOfTheSkeletonContract)
{
    std::ifstream file(SKELETON_IOCTL_HEADER);
    ASSERT_TRUE(file) << SKELETON_IOCTL_HEADER;
    std::stringstream text;
    text << file.rdbuf();
    const auto found = kmd::ioctls_in_header(text.str());
    // The same values the contract's own constexpr code gives (contract_tests checks those against CTL_CODE).
    const std::vector<std::pair<std::string, uint32_t>> expected = {
        {"IOCTL_SKELETON_SAY_HELLO", IOCTL_SKELETON_SAY_HELLO},
        {"IOCTL_SKELETON_REVERSE_BUFFERED", IOCTL_SKELETON_REVERSE_BUFFERED},
        {"IOCTL_SKELETON_VERIFY_IN_DIRECT", IOCTL_SKELETON_VERIFY_IN_DIRECT},
        {"IOCTL_SKELETON_FILL_OUT_DIRECT", IOCTL_SKELETON_FILL_OUT_DIRECT},
        {"IOCTL_SKELETON_ECHO_NEITHER", IOCTL_SKELETON_ECHO_NEITHER},
        {"IOCTL_SKELETON_DELAY_PENDING", IOCTL_SKELETON_DELAY_PENDING}};
    EXPECT_EQ(expected, found);
}

TEST(ContractHeader, DefaultsThroughAliases)
{
    const char* header = R"(
#define MYDRV_WIN32_DEVICE_PATH_W L"\\\\.\\mydrv"
#define MYDRV_SERVICE_NAME_W L"mydrv"
#define IOCTL_MYDRV_VERSION CTL_CODE(0x22, 0x803, 3, 0)
#define KMD_CONTRACT_SERVICE_W MYDRV_SERVICE_NAME_W
#define KMD_CONTRACT_DEVICE_W MYDRV_WIN32_DEVICE_PATH_W
#define KMD_CONTRACT_HELLO IOCTL_MYDRV_VERSION
)";
    const kmd::ContractHeader c = kmd::parse_contract_header(header);
    EXPECT_EQ("mydrv", c.service);
    EXPECT_EQ(R"(\\.\mydrv)", c.device);
    EXPECT_EQ("IOCTL_MYDRV_VERSION", c.hello);
    ASSERT_EQ(1u, c.ioctls.size());
}

TEST(ContractHeader, NoDefaultsIsNoGuess)
{
    // A contract without KMD_CONTRACT_* gives none: kmdctl then asks for --name/--device/--ioctl.
    const kmd::ContractHeader none = kmd::parse_contract_header("#define X_DEVICE_W L\"\\\\\\\\.\\\\x\"\n");
    EXPECT_EQ("", none.service);
    EXPECT_EQ("", none.device);
    EXPECT_EQ("", none.hello);
    // Defaults that are not what they must be are left empty, not guessed at.
    const kmd::ContractHeader bad = kmd::parse_contract_header(R"(
#define KMD_CONTRACT_DEVICE_W L"a" L"b"
#define KMD_CONTRACT_SERVICE_W 42
#define KMD_CONTRACT_HELLO NOT_AN_IOCTL
#define NOT_AN_IOCTL 7
)");
    EXPECT_EQ("", bad.device);
    EXPECT_EQ("", bad.service);
    EXPECT_EQ("", bad.hello);
}

TEST(ContractHeader, TheSkeletonContractNamesItsDefaults)
{
    std::ifstream file(SKELETON_IOCTL_HEADER);
    ASSERT_TRUE(file) << SKELETON_IOCTL_HEADER;
    std::stringstream text;
    text << file.rdbuf();
    const kmd::ContractHeader c = kmd::parse_contract_header(text.str());
    EXPECT_EQ("skeleton", c.service);
    EXPECT_EQ(R"(\\.\skeleton)", c.device);
    EXPECT_EQ("IOCTL_SKELETON_SAY_HELLO", c.hello);
}
