// contract.hpp - the driver's contract header, when the user names one (--header H, or the
// KMD_CONTRACT environment variable): kmdctl's only source of IOCTL names and of the defaults a
// driver's own tools would know (its service, its device, the request to send unasked).
#pragma once

#include <string>

#include "cli.hpp"
#include "contract_header.hpp"

namespace kmdctl {

struct Contract {
    bool given = false;    // --header or KMD_CONTRACT named a header
    std::string where;     // "--header path" / "KMD_CONTRACT path", for messages
    kmd::ContractHeader header;
};

// Reads the contract named by --header (when the verb has it) or KMD_CONTRACT. No contract is
// kExitOk with given = false; a named one that cannot be read is an error, printed.
int load_contract(const char* verb, const Args& a, Contract& contract);

// The service a verb acts on: its argument, --name, or the contract's KMD_CONTRACT_SERVICE_W.
bool service_name(const char* verb, const Args& a, std::wstring& name, int& exit_code);

// The device hello and ioctl open: --device, or the contract's KMD_CONTRACT_DEVICE_W.
bool device_path(const char* verb, const Args& a, std::wstring& path, int& exit_code);

} // namespace kmdctl
