// request.hpp - the IOCTL a verb sends: its code (a number, or a name from the contract header),
// its input (--in, --in-u32, --in-u64, --in-str, --in-file) and output size, and how it is shown.
#pragma once

#include <windows.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cli.hpp"

namespace kmdctl {

constexpr uint32_t kDefaultOutSize = 256;

struct Request {
    uint32_t code = 0;
    std::string code_name; // "IOCTL_MYDRV_ADD", or empty when given as a number
    std::vector<unsigned char> in;
    uint32_t out_size = kDefaultOutSize;
    bool text_reply = false; // the contract's KMD_CONTRACT_HELLO: the reply is printed as text
};

// A code as a number, or a name from the contract (contract.hpp). kExitOk, or the exit status
// of the usage error it printed.
int resolve_code(const char* verb, const Args& a, const std::string& text, Request& r);

// The contract's KMD_CONTRACT_HELLO as the request: no input, a text reply. kExitOk, or the exit
// status of the error it printed (no contract, or one without a hello request).
int hello_request(const char* verb, const Args& a, Request& r);

// --in HEX | --in-u32 LIST | --in-u64 LIST | --in-str TEXT | --in-file F, and --out-size N.
int request_buffers(const char* verb, const Args& a, Request& r);

std::string request_label(const Request& r);

// Sends the request; prints Information, the bytes and the status in words, or for a text reply
// (the contract's hello) `the driver says: "..."`.
Failure send_request(HANDLE device, const Request& r, const char* indent);

} // namespace kmdctl
