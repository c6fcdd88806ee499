#include "contract.hpp"

#include <iterator>

#include "win32.hpp"

namespace kmdctl {

int load_contract(const char* verb, const Args& a, Contract& contract)
{
    std::wstring path = kmd::widen(a.get("--header"));
    std::string option = "--header";
    if (path.empty()) {
        wchar_t env[32768];
        const DWORD n = GetEnvironmentVariableW(L"KMD_CONTRACT", env, static_cast<DWORD>(std::size(env)));
        if (n == 0 || n >= std::size(env)) return kExitOk;
        path.assign(env, n);
        option = "KMD_CONTRACT";
    }
    // One verb asks for the contract several times (run: the service, the request, its name's
    // code): the header is read and parsed once per process, for the path it was read from.
    static std::wstring read_path;
    static Contract read;
    if (read.given && read_path == path) {
        contract = read;
        return kExitOk;
    }
    contract.given = true;
    contract.where = kmd::narrow(path) + " (" + option + ")";
    std::string text;
    if (Failure f = read_whole_file("contract header (" + option + ")", path, text)) return report(verb, f);
    contract.header = kmd::parse_contract_header(text);
    read_path = path;
    read = contract;
    return kExitOk;
}

bool service_name(const char* verb, const Args& a, std::wstring& name, int& exit_code)
{
    if (!a.positional.empty() && a.has("--name")) {
        exit_code = usage_error(verb, "give the service name once, as an argument or with --name");
        return false;
    }
    if (!a.positional.empty()) return checked_name(verb, a.positional[0], name, exit_code);
    if (a.has("--name")) return checked_name(verb, a.get("--name"), name, exit_code);
    Contract contract;
    if ((exit_code = load_contract(verb, a, contract)) != kExitOk) return false;
    if (contract.header.service.empty()) {
        exit_code = usage_error(verb, contract.given ? "which service? " + contract.where + " names none "
                                                       "(KMD_CONTRACT_SERVICE_W); give its name"
                                                     : "which service? give its name (or a contract header: --header H, KMD_CONTRACT)");
        return false;
    }
    return checked_name(verb, contract.header.service, name, exit_code);
}

bool device_path(const char* verb, const Args& a, std::wstring& path, int& exit_code)
{
    if (a.has("--device")) {
        path = kmd::widen(a.get("--device"));
        return true;
    }
    Contract contract;
    if ((exit_code = load_contract(verb, a, contract)) != kExitOk) return false;
    if (contract.header.device.empty()) {
        exit_code = usage_error(verb, contract.given ? "which device? " + contract.where + " names none "
                                                       "(KMD_CONTRACT_DEVICE_W); give --device \\\\.\\NAME"
                                                     : "which device? give --device \\\\.\\NAME (or a contract header: --header H, "
                                                       "KMD_CONTRACT)");
        return false;
    }
    path = kmd::widen(contract.header.device);
    return true;
}

} // namespace kmdctl
