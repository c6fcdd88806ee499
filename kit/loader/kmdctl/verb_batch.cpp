// kmdctl batch FILE: the file's steps (batch_script.hpp) one after another in this one process.
// Under Wine a program start costs more than most verbs take; the verifier's runs of hundreds of
// install/start/stop/ioctl steps and registry settings were mostly starts of kmdctl and reg.exe.
#include <windows.h>

#include <io.h>

#include <cstdio>
#include <string>
#include <vector>

#include "batch_script.hpp"
#include "verbs.hpp"

namespace kmdctl {
namespace {

constexpr const char* kStepMark = "@@kmdctl-step";
constexpr const char* kRcMark = "@@kmdctl-rc";

int set_value(const kmd::BatchStep& step)
{
    const HKEY root = step.root == "HKCU" ? HKEY_CURRENT_USER : HKEY_LOCAL_MACHINE;
    HKEY raw = nullptr;
    LONG error = RegCreateKeyExW(root, kmd::widen(step.key).c_str(), 0, nullptr, 0, KEY_SET_VALUE, nullptr, &raw, nullptr);
    const kmd::RegKey key(error == ERROR_SUCCESS ? raw : nullptr);
    const char* call = "RegCreateKeyEx";
    if (error == ERROR_SUCCESS) {
        const std::wstring name = kmd::widen(step.value_name);
        if (step.is_text) {
            const std::wstring text = kmd::widen(step.text_data);
            error = RegSetValueExW(key.get(), name.c_str(), 0, REG_SZ, reinterpret_cast<const BYTE*>(text.c_str()),
                                   static_cast<DWORD>((text.size() + 1) * sizeof(wchar_t)));
        } else {
            const DWORD number = step.number;
            error = RegSetValueExW(key.get(), name.c_str(), 0, REG_DWORD, reinterpret_cast<const BYTE*>(&number), sizeof number);
        }
        call = "RegSetValueEx";
    }
    if (error == ERROR_SUCCESS) return kExitOk;
    std::printf("reg add %s\\%s /v %s: %s\n", step.root.c_str(), step.key.c_str(), step.value_name.c_str(),
                kmd::Failure{call, static_cast<DWORD>(error)}.describe().c_str());
    return failed_exit(static_cast<DWORD>(error));
}

// CommandLineToArgvW's quoting: a word with blanks in quotes, its trailing backslashes doubled.
// (A batch word holds no double quote: batch_script.hpp refuses one.)
std::wstring argument(const std::string& word)
{
    const std::wstring w = kmd::widen(word);
    if (!w.empty() && w.find_first_of(L" \t") == std::wstring::npos) return w;
    size_t backslashes = 0;
    while (backslashes < w.size() && w[w.size() - 1 - backslashes] == L'\\') ++backslashes;
    return L"\"" + w + std::wstring(backslashes, L'\\') + L"\"";
}

// A sweep that meets a request its driver never completes leaves that request's buffers to the
// driver (sweep_call.cpp): only the end of its process makes that safe. So it gets one.
int run_in_child(const std::vector<std::string>& words)
{
    wchar_t self[MAX_PATH];
    const DWORD n = GetModuleFileNameW(nullptr, self, MAX_PATH);
    if (n == 0 || n >= MAX_PATH) return report("batch", kmd::Failure{"GetModuleFileName", GetLastError()});
    std::wstring line = L"\"" + std::wstring(self, n) + L"\"";
    for (const std::string& w : words) line += L" " + argument(w);
    STARTUPINFOW si{};
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE); // stdout's handle: cmd_batch merged them
    PROCESS_INFORMATION pi{};
    if (!CreateProcessW(nullptr, line.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr, &si, &pi))
        return report("batch", kmd::Failure{"CreateProcess(kmdctl " + words.front() + ")", GetLastError()});
    const kmd::FileHandle process(pi.hProcess), thread(pi.hThread);
    WaitForSingleObject(pi.hProcess, INFINITE);
    DWORD code = kExitFailed;
    GetExitCodeProcess(pi.hProcess, &code);
    return static_cast<int>(code);
}

} // namespace

int cmd_batch(const Args& a)
{
    std::string text;
    if (Failure f = read_whole_file("batch file", kmd::widen(a.positional[0]), text)) return report("batch", f);
    const kmd::BatchScript script = kmd::parse_batch_script(text);
    if (!script.error.empty()) return usage_error("batch", a.positional[0] + ", " + script.error + " (nothing was run)");
    std::vector<bool> own_process(script.steps.size(), false);
    for (size_t i = 0; i < script.steps.size(); ++i) {
        const kmd::BatchStep& step = script.steps[i];
        if (step.kind != kmd::BatchStep::Kind::kmdctl) continue;
        std::string verb;
        if (auto error = check_command(step.words, verb))
            return usage_error("batch", a.positional[0] + ", line " + std::to_string(step.line) + ": " + *error + " (nothing was run)");
        if (verb == "batch")
            return usage_error("batch", a.positional[0] + ", line " + std::to_string(step.line) + ": a batch does not run batches (nothing was run)");
        own_process[i] = verb == "sweep";
    }
    // One stream, in order: a step's errors between its markers, as `2>&1` gave them. Unbuffered,
    // so that what a step printed is out before its end marker and before a child's output.
    std::fflush(stdout);
    std::fflush(stderr);
    _dup2(_fileno(stdout), _fileno(stderr));
    SetStdHandle(STD_ERROR_HANDLE, GetStdHandle(STD_OUTPUT_HANDLE));
    std::setvbuf(stdout, nullptr, _IONBF, 0);
    std::setvbuf(stderr, nullptr, _IONBF, 0);
    for (size_t i = 0; i < script.steps.size(); ++i) {
        const kmd::BatchStep& step = script.steps[i];
        std::printf("%s %zu\n", kStepMark, i + 1);
        int rc = kExitOk;
        if (step.kind == kmd::BatchStep::Kind::reg_value)
            rc = set_value(step);
        else if (own_process[i])
            rc = run_in_child(step.words);
        else
            rc = run_command(step.words);
        std::fflush(stdout);
        std::printf("%s %zu %d\n", kRcMark, i + 1, rc);
        if (rc != kExitOk && !step.may_fail) return rc;
    }
    return kExitOk;
}

} // namespace kmdctl
