#include "request.hpp"

#include <cctype>
#include <cstdio>
#include <cstring>
#include <optional>

#include "contract.hpp"
#include "device.hpp"
#include "trace.hpp"

namespace kmdctl {

// A code as a number, or a name: from the contract header (--header, or the file KMD_CONTRACT
// names). kmdctl knows no names of its own.
int resolve_code(const char* verb, const Args& a, const std::string& text, Request& r)
{
    if (const auto code = kmd::parse_u32(text)) {
        r.code = *code;
        return kExitOk;
    }
    const bool looks_like_name = !text.empty() && (std::isalpha(static_cast<unsigned char>(text[0])) != 0 || text[0] == '_');
    if (!looks_like_name) return usage_error(verb, "'" + text + "' is not an IOCTL code (decimal, hex with 0x, or a name)");
    Contract contract;
    if (int rc = load_contract(verb, a, contract); rc != kExitOk) return rc;
    if (!contract.given)
        return usage_error(verb, "'" + text + "' is a name, and no contract header says what it means: give --header H, or set "
                                 "KMD_CONTRACT to the driver's ioctl.h (or give the code as a number)");
    for (const auto& [n, c] : contract.header.ioctls)
        if (n == text) {
            r.code = c;
            r.code_name = n;
            return kExitOk;
        }
    std::string names;
    for (const auto& [n, c] : contract.header.ioctls) names += (names.empty() ? "" : ", ") + n;
    return usage_error(verb, "no IOCTL named '" + text + "' in " + contract.where +
                                 (names.empty() ? " (it defines none)" : " (it defines " + names + ")"));
}

int hello_request(const char* verb, const Args& a, Request& r)
{
    Contract contract;
    if (int rc = load_contract(verb, a, contract); rc != kExitOk) return rc;
    const bool run = std::strcmp(verb, "run") == 0; // hello has no --ioctl: `kmdctl ioctl` sends any request
    if (contract.header.hello.empty())
        return usage_error(verb, contract.given ? "the contract " + contract.where + " names no request to send unasked "
                                                  "(#define KMD_CONTRACT_HELLO IOCTL_...); " +
                                                      std::string(run ? "name one with --ioctl" : "use kmdctl ioctl CODE")
                                                : std::string(run ? "which IOCTL? give --ioctl CODE, or" : "which IOCTL? give") +
                                                      " a contract header whose KMD_CONTRACT_HELLO names one (--header H, or "
                                                      "KMD_CONTRACT)");
    if (int rc = resolve_code(verb, a, contract.header.hello, r); rc != kExitOk) return rc;
    r.text_reply = true;
    return kExitOk;
}

// --in HEX | --in-u32 LIST | --in-u64 LIST | --in-str TEXT | --in-file F, and --out-size N.
int request_buffers(const char* verb, const Args& a, Request& r)
{
    static const char* const kInputs[] = {"--in", "--in-u32", "--in-u64", "--in-str", "--in-file"};
    const char* chosen = nullptr;
    for (const char* option : kInputs) {
        if (!a.has(option)) continue;
        if (chosen != nullptr) return usage_error(verb, std::string("give one input option, not ") + chosen + " and " + option);
        chosen = option;
    }
    const std::string value = chosen != nullptr ? a.get(chosen) : std::string();
    std::optional<std::vector<unsigned char>> bytes;
    if (chosen == nullptr) {
        bytes.emplace();
    } else if (std::strcmp(chosen, "--in") == 0) {
        if (!(bytes = kmd::parse_hex_bytes(value))) return usage_error(verb, "--in takes hex bytes, e.g. \"48 65 6c 6c 6f\"");
    } else if (std::strcmp(chosen, "--in-u32") == 0) {
        if (!(bytes = kmd::parse_u32_list(value))) return usage_error(verb, "--in-u32 takes numbers up to 0xFFFFFFFF separated by commas, e.g. 2,40");
    } else if (std::strcmp(chosen, "--in-u64") == 0) {
        if (!(bytes = kmd::parse_u64_list(value))) return usage_error(verb, "--in-u64 takes 64-bit numbers separated by commas");
    } else if (std::strcmp(chosen, "--in-str") == 0) {
        bytes.emplace(value.begin(), value.end()); // the UTF-8 bytes, no terminating NUL
    } else {
        std::string content;
        if (Failure f = read_whole_file("--in-file", kmd::widen(value), content)) return report(verb, f);
        bytes.emplace(content.begin(), content.end());
    }
    if (bytes->size() > kMaxBuffer) return usage_error(verb, "the input is larger than 64 MiB");
    r.in = std::move(*bytes);
    const auto out_size = kmd::parse_u32(a.get("--out-size", std::to_string(kDefaultOutSize)));
    if (!out_size || *out_size > kMaxBuffer) return usage_error(verb, "--out-size takes a byte count up to 64 MiB");
    r.out_size = *out_size;
    return kExitOk;
}

std::string request_label(const Request& r)
{
    char code[16];
    std::snprintf(code, sizeof code, "0x%08lx", static_cast<unsigned long>(r.code));
    return r.code_name.empty() ? std::string(code) : r.code_name + " = " + code;
}


// Sends the request; prints Information, the bytes (or the text) and the status in words.
Failure send_request(HANDLE device, const Request& r, const char* indent)
{
    std::vector<unsigned char> out(r.out_size);
    Failure f = kmd::device_io_control(device, r.code, r.in, out);
    if (r.text_reply && !f) {
        std::string text(out.begin(), out.end());
        while (!text.empty() && text.back() == '\0') text.pop_back();
        std::printf("%sthe driver says: \"%s\"\n", indent, text.c_str());
        return f;
    }
    std::printf("%sInformation: %zu bytes\n", indent, out.size());
    std::string dump = kmd::hex_dump(out.data(), out.size());
    for (size_t at = 0; at < dump.size();) {
        const size_t nl = dump.find('\n', at);
        std::printf("%s%s\n", indent, dump.substr(at, nl - at).c_str());
        at = nl + 1;
    }
    if (f)
        std::printf("%sstatus: error %lu (%s)\n", indent, static_cast<unsigned long>(f.error), kmd::error_text(f.error).c_str());
    else
        std::printf("%sstatus: success\n", indent);
    return f;
}

} // namespace kmdctl
