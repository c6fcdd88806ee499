// contract_tests.cpp - skeleton/ioctl.h: the codes are what the seed and the documentation say.
#include <gtest/gtest.h>
#include <skeleton/ioctl.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
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

// ---------------------------------------------------------------- the reference cannot drift

// The IOCTL table of docs/reference.md ("## The contract", moved there from the README) has one row
// per request-table row, each naming the IOCTL, its code, method and access as the contract
// defines them. Adding an IOCTL without its row (or the other way round) fails here.
namespace readme {

std::vector<std::string> contract_rows()
{
    std::ifstream file(SKELETON_CONTRACT_DOC_PATH);
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
    ASSERT_EQ(all.size(), rows.size()) << "docs/reference.md: one row per IOCTL of the contract";
    for (const auto* r = all.data(); r != all.data() + all.size(); ++r) {
        char code[16];
        std::snprintf(code, sizeof code, "0x%08x", r->code);
        const std::string expected = std::string("| `IOCTL_SKELETON_") + r->name + "` | `" + code + "` | " + method_name(r->code) +
                                     " | " + access_name(r->code) + " |";
        bool found = false;
        for (const auto& row : rows) found = found || row.rfind(expected, 0) == 0;
        EXPECT_TRUE(found) << "docs/reference.md has no row starting " << expected;
    }
}

} // namespace readme

// ---------------------------------------------------------------- the header's length rules

// skeleton/ioctl.h states one input-length rule for every IOCTL, each on one "input length:" line
// in the comment above its #define, in one of three forms. Here each statement is held to the
// request table's max_in and to what the request core does with the stated length, one byte less
// and one byte more: a row whose max_in or handler changes without its header line (or the other
// way round), an IOCTL without a statement, or a statement in another form fails.
namespace length_rule {

std::string header_path() { return SKELETON_IOCTL_HEADER_PATH; }

// IOCTL name (without IOCTL_SKELETON_) -> the "input length:" statements of the comment just above it.
std::map<std::string, std::vector<std::string>> statements()
{
    std::ifstream file(header_path());
    std::map<std::string, std::vector<std::string>> found;
    std::vector<std::string> comment; // the last complete comment block, if nothing but it came since
    bool in_comment = false;
    const std::string key = "input length: ";
    const std::string define = "#define IOCTL_SKELETON_";
    for (std::string line; std::getline(file, line);) {
        if (!in_comment && line.find("/*") != std::string::npos) {
            in_comment = true;
            comment.clear();
        }
        if (in_comment) {
            if (const size_t at = line.find(key); at != std::string::npos) comment.push_back(line.substr(at + key.size()));
            if (line.find("*/") != std::string::npos) in_comment = false;
            continue;
        }
        if (line.rfind(define, 0) == 0) {
            size_t end = define.size();
            while (end < line.size() && (std::isalnum(static_cast<unsigned char>(line[end])) || line[end] == '_')) ++end;
            found[line.substr(define.size(), end - define.size())] = comment;
        }
        comment.clear();
    }
    return found;
}

// The structs an "exactly N bytes, sizeof(struct X)" statement may name.
size_t struct_size(const std::string& name)
{
    if (name == "skeleton_verify_request") return sizeof(skeleton_verify_request);
    if (name == "skeleton_fill_request") return sizeof(skeleton_fill_request);
    if (name == "skeleton_delay_request") return sizeof(skeleton_delay_request);
    return 0;
}

// What the core answers a request of this code with `in_size` input bytes (all zero) and an output
// buffer every request of the contract can use: the status alone.
uint32_t status_with_input(uint32_t code, size_t in_size)
{
    std::vector<unsigned char> in(in_size, 0), out(SKELETON_MAX_TRANSFER, 0);
    if (code == IOCTL_SKELETON_DELAY_PENDING) { // served by the NT shell; its input rules are the core's
        uint32_t delay_ms = 0;
        return skeleton::core::check_delay_request({in.empty() ? nullptr : in.data(), in.size()}, delay_ms);
    }
    if (code == IOCTL_SKELETON_REVERSE_BUFFERED || code == IOCTL_SKELETON_ECHO_NEITHER) out.resize(in_size > 16 ? in_size : 16);
    return skeleton::core::handle_device_control(code, {in.empty() ? nullptr : in.data(), in.size()}, {out.data(), out.size()}).status;
}

TEST(Contract, EveryIoctlStatesItsInputLengthAndTheTableKeepsIt)
{
    const auto stated = statements();
    std::vector<skeleton::core::RequestSpec> all(skeleton::core::requests_begin(), skeleton::core::requests_end());
    all.insert(all.end(), std::begin(readme::kShellRequests), std::end(readme::kShellRequests));
    ASSERT_EQ(all.size(), stated.size()) << header_path() << ": one #define IOCTL_SKELETON_* per request";
    const std::regex exactly(R"(exactly (\d+) bytes, sizeof\(struct (\w+)\); else STATUS_INVALID_PARAMETER \(87\)\.)");
    const std::regex bytes(R"(0 to SKELETON_MAX_TRANSFER bytes; longer -> STATUS_INVALID_PARAMETER \(87\)\.)");
    const std::string ignored = "ignored (never read, any length).";
    constexpr uint32_t refused = skeleton::core::status::invalid_parameter;
    for (const auto& r : all) {
        SCOPED_TRACE(std::string("IOCTL_SKELETON_") + r.name);
        const auto it = stated.find(r.name);
        if (it == stated.end()) {
            ADD_FAILURE() << "the header has no #define IOCTL_SKELETON_" << r.name;
            continue;
        }
        if (it->second.size() != 1) {
            ADD_FAILURE() << "its comment must state its input length once, on an \"input length:\" line (it has "
                          << it->second.size() << ")";
            continue;
        }
        const std::string& text = it->second[0];
        const bool in_table = skeleton::core::find_request(r.code) != nullptr;
        std::smatch m;
        if (std::regex_match(text, m, exactly)) {
            const size_t n = std::stoul(m[1]);
            if (struct_size(m[2]) == 0) {
                ADD_FAILURE() << "unknown struct " << m[2] << " (add it to struct_size)";
                continue;
            }
            EXPECT_EQ(struct_size(m[2]), n) << "the stated size is not sizeof(struct " << m[2] << ")";
            if (in_table) EXPECT_EQ(n, r.max_in) << "the table's max_in disagrees with the header";
            EXPECT_EQ(refused, status_with_input(r.code, n - 1)) << "one byte short must be refused";
            EXPECT_EQ(refused, status_with_input(r.code, n + 1)) << "one byte more must be refused";
            EXPECT_NE(refused, status_with_input(r.code, n)) << "exactly the struct must be taken";
        } else if (std::regex_match(text, bytes)) {
            if (in_table) EXPECT_EQ(size_t{SKELETON_MAX_TRANSFER}, r.max_in) << "the table's max_in disagrees with the header";
            EXPECT_EQ(refused, status_with_input(r.code, SKELETON_MAX_TRANSFER + 1)) << "one byte more must be refused";
            EXPECT_NE(refused, status_with_input(r.code, SKELETON_MAX_TRANSFER));
            EXPECT_NE(refused, status_with_input(r.code, 0));
        } else if (text == ignored) {
            if (in_table) EXPECT_EQ(0u, r.max_in) << "the table's max_in disagrees with the header (0: input ignored)";
            EXPECT_EQ(status_with_input(r.code, 0), status_with_input(r.code, 1));
            EXPECT_EQ(status_with_input(r.code, 0), status_with_input(r.code, SKELETON_MAX_TRANSFER + 1));
        } else {
            ADD_FAILURE() << "\"input length: " << text << "\" is none of the rule's three forms (see the header)";
        }
    }
}

} // namespace length_rule
