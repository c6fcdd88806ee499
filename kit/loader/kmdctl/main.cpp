// kmdctl - install, start, talk to, stop and remove a legacy NT kernel-mode driver.
//
// `kmdctl run my.sys` is the seed's loader: its seven steps in order, narrated, with every failure
// explained in words and undone. The other verbs are the same steps one at a time, as sc.exe
// offers them, plus IOCTL tools (hello, ioctl, sweep, decode, encode) and imports. kmdctl knows no
// driver: names and defaults come from the driver's contract header (--header, KMD_CONTRACT).
// This file: the verb table, help, and the one path every verb takes (run_verb).
#include <windows.h>

#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "trace.hpp"
#include "verbs.hpp"
#include "win32.hpp"

namespace kmdctl {
namespace {

// One row per verb: what it accepts (checked before anything runs) and the function that does
// it. Everything a verb does goes through this table, so behaviour common to several verbs (a
// check before or after, e.g. of the driver's host process) hooks in at one place, run_verb().
struct Verb {
    const char* name;
    const char* synopsis;
    const char* help;
    kmd::CommandSpec spec;
    int (*run)(const Args&);
};

int cmd_help(const Args&);

// --help and --trace work after any verb too.
#define KMD_COMMON_OPTIONS {"--help", false}, {"--trace", false}
#define KMD_REQUEST_OPTIONS                                                                                                  \
    {"--in", true}, {"--in-u32", true}, {"--in-u64", true}, {"--in-str", true}, {"--in-file", true}, {"--out-size", true}, \
        {"--header", true}

constexpr kmd::OptionSpec kRunOptions[] = {KMD_COMMON_OPTIONS, {"--name", true},     {"--device", true}, {"--force", false},
                                           {"--cleanup", false}, {"--ioctl", true}, {"--no-ioctl", false}, KMD_REQUEST_OPTIONS};
constexpr kmd::OptionSpec kInstallOptions[] = {KMD_COMMON_OPTIONS, {"--name", true},  {"--header", true}, {"--display", true},
                                               {"--start", true},  {"--group", true}, {"--force", false}};
constexpr kmd::OptionSpec kNamedOptions[] = {KMD_COMMON_OPTIONS, {"--name", true}, {"--header", true}};
constexpr kmd::OptionSpec kStopOptions[] = {KMD_COMMON_OPTIONS, {"--name", true}, {"--header", true}, {"--timeout", true}};
constexpr kmd::OptionSpec kStatusOptions[] = {KMD_COMMON_OPTIONS, {"--name", true}, {"--header", true}, {"--json", false}};
constexpr kmd::OptionSpec kCommonOptions[] = {KMD_COMMON_OPTIONS};
constexpr kmd::OptionSpec kHelloOptions[] = {KMD_COMMON_OPTIONS, {"--device", true}, {"--header", true}, {"--gui", false}};
constexpr kmd::OptionSpec kIoctlOptions[] = {KMD_COMMON_OPTIONS, {"--device", true}, KMD_REQUEST_OPTIONS};
constexpr kmd::OptionSpec kDecodeOptions[] = {KMD_COMMON_OPTIONS, {"--header", true}};
constexpr kmd::OptionSpec kBatchOptions[] = {KMD_COMMON_OPTIONS};
constexpr kmd::OptionSpec kSweepOptions[] = {KMD_COMMON_OPTIONS, {"--type", true}, {"--functions", true}, {"--seed", true},
                                              {"--pend-ms", true}, {"--call", true}};

const Verb kVerbs[] = {
    {"run",
     "run <file.sys> [--name N] [--device D] [--header H] [--ioctl CODE [--in ...] [--out-size N] | --no-ioctl] [--force] [--cleanup]",
     "The seed's loader: OpenSCManager, CreateService, OpenService, StartService, CreateFile +\n"
     "DeviceIoControl, ControlService(STOP), DeleteService + CloseServiceHandle.\n"
     "--name N     the service (default: the contract's KMD_CONTRACT_SERVICE_W, else the file's name\n"
     "             without .sys); --device D the device to open (default \\\\.\\N).\n"
     "--ioctl CODE the request of step 5 (a number or a name, see 'ioctl'), with the input options of\n"
     "             'ioctl' and --out-size N (default 256). --no-ioctl: step 5 only opens the device.\n"
     "             Without either, step 5 sends the contract's KMD_CONTRACT_HELLO (--header H or\n"
     "             KMD_CONTRACT: the driver's ioctl.h) and prints the reply as text.\n"
     "A service that already exists is used only if it is a kernel driver running this file, and is\n"
     "left installed (and running, if it was); --cleanup stops and deletes it anyway.\n"
     "--force points an existing kernel-driver service with another image path at this file: only the\n"
     "image path changes, and it is put back if the run fails (or, with --cleanup, when it ends).\n"
     "On any failure, what this command did is undone; a service it refused is never touched.",
     {kRunOptions, 1, 1}, cmd_run},
    {"install", "install <file.sys> [--name N] [--display D] [--start demand|system|auto|disabled|boot] [--group G] [--force]",
     "CreateService for a kernel driver with the file's full path, as service N (default: the contract's\n"
     "KMD_CONTRACT_SERVICE_W, else the file's name without .sys). Same path already installed: success.\n"
     "--group sets the load order group (under Wine, drivers of one group share one host process).\n"
     "Another path: an error, unless --force points the service at this file (ChangeServiceConfig of the\n"
     "image path, and of the start type if --start is given; nothing else). Services that are not kernel\n"
     "drivers are refused.",
     {kInstallOptions, 1, 1}, cmd_install},
    {"start", "start [N]",
     "StartService: the kernel loads the driver and calls DriverEntry. Without N (here and in stop, remove,\n"
     "status): the service the contract names (KMD_CONTRACT_SERVICE_W of --header H or KMD_CONTRACT).",
     {kNamedOptions, 0, 1}, cmd_start},
    {"stop", "stop [N] [--timeout MS]",
     "ControlService(STOP), then waits through STOP_PENDING as the service's wait hint and checkpoint\n"
     "ask (also when it was stopping already), for at most --timeout ms (default 15000); prints the state.",
     {kStopOptions, 0, 1}, cmd_stop},
    {"remove", "remove [N]", "Stops the service if it runs, then DeleteService.", {kNamedOptions, 0, 1}, cmd_remove},
    {"status", "status [N] [--json]", "State, type, start type and image path, laid out like sc query.", {kStatusOptions, 0, 1},
     cmd_status},
    {"list", "list", "Every driver service the SCM knows.", {kCommonOptions, 0, 0}, cmd_list},
    {"hello", "hello [--device D] [--header H] [--gui]",
     "Sends the contract's KMD_CONTRACT_HELLO (no input) to --device, or to its KMD_CONTRACT_DEVICE_W; prints\n"
     "the reply as text (--gui: in a message box). The contract: --header H, or the file KMD_CONTRACT names.",
     {kHelloOptions, 0, 0}, cmd_hello},
    {"ioctl",
     "ioctl <code> [--device D] [--header H] [--in HEX | --in-u32 L | --in-u64 L | --in-str S | --in-file F] [--out-size N]",
     "Sends any IOCTL to --device (default: the contract's KMD_CONTRACT_DEVICE_W); prints Information, the\n"
     "returned bytes and the status in words.\n"
     "<code>       a number (0x222007) or a name: from the contract header --header H (or the file the\n"
     "             KMD_CONTRACT environment variable names), read for '#define NAME CTL_CODE(...)' and\n"
     "             look-alikes such as MYDRV_CTL_CODE. kmdctl knows no names of its own.\n"
     "--in HEX     bytes in hex: \"48 65 6c 6c 6f\", 48656c6c6f, 0x48,0x65\n"
     "--in-u32 L   32-bit numbers, little-endian, e.g. 2,40 (8 bytes); --in-u64 L: 64-bit ones\n"
     "--in-str S   the text's UTF-8 bytes, without a terminating NUL\n"
     "--in-file F  the file's bytes\n"
     "--out-size N the output buffer in bytes (default 256, at most 64 MiB)",
     {kIoctlOptions, 1, 1}, cmd_ioctl},
    {"imports", "imports <file.sys>",
     "Each routine the driver imports, looked up in the system in use (under Wine: Wine's own ntoskrnl.exe,\n"
     "hal.dll, ...), without loading the driver: implemented; stub (Wine's spec declares it a stub: the\n"
     "call raises EXCEPTION_WINE_STUB 0x80000100); missing (no such module: the load fails; no such export:\n"
     "the load fails on Windows, and under Wine the first call raises EXCEPTION_WINE_STUB). A routine Wine\n"
     "implements as a do-nothing FIXME shows as implemented. Exit 1 if any is missing. start and run name\n"
     "missing imports too.",
     {kCommonOptions, 1, 1}, cmd_imports},
    {"sweep", "sweep <device> [--type T] [--functions A-B] [--seed N] [--pend-ms MS] [--call SPEC]",
     "Finds the IOCTL codes <device> (\\\\.\\NAME) answers: functions A-B (default 0x800-0xfff) x the four\n"
     "methods x the four access values of device type T (default 0x22, FILE_DEVICE_UNKNOWN), sent without\n"
     "buffers; a code answered with anything but 'invalid function' or 'not supported' is live. Then sends\n"
     "each live code input and output buffers of 0, 16, 4096 and 1 MiB bytes (input from --seed, default 1),\n"
     "buffers ending at a guard page, bad (unmapped) and kernel pointers. A request still pending after\n"
     "--pend-ms (default 100) is cancelled and must complete. Prints 'live CODE error=E' and 'call CODE in=N\n"
     "out=M error=E returned=R spec=SPEC' lines; stops if the host dies or a cancelled request never\n"
     "completes. --call SPEC (CODE[,in=N][,out=N][,guard|bad-in|bad-out|kernel-in|kernel-out]) sends only\n"
     "that one request, as the sweep did: the replay of one finding.",
     {kSweepOptions, 1, 1}, cmd_sweep},
    {"batch", "batch <file>",
     "Runs the file's steps in order, in this one process: each line a kmdctl command as typed (any path to\n"
     "kmdctl, then a verb) or 'reg add KEY /v NAME /t REG_DWORD|REG_SZ /d DATA /f'; a line starting with '- ' may fail,\n"
     "any other failing step ends the batch with its exit status. Every line is checked before the first\n"
     "runs. Each step's output follows a line '@@kmdctl-step N' and is followed by '@@kmdctl-rc N STATUS';\n"
     "stderr is merged into stdout. A sweep runs in a process of its own. Under Wine a program start costs\n"
     "about 70 ms: a batch of 100 steps saves 7 s (docs/kmdctl.md).",
     {kBatchOptions, 1, 1}, cmd_batch},
    {"decode", "decode <code> [--header H]", "Takes an IOCTL code (a number or a name) apart: device type, function, method, access.",
     {kDecodeOptions, 1, 1}, cmd_decode},
    {"encode", "encode <devtype> <function> <method> <access>", "Builds an IOCTL code, as CTL_CODE does.", {kCommonOptions, 4, 4},
     cmd_encode},
    {"help", "help [verb]", "This text.", {kCommonOptions, 0, 1}, cmd_help},
};

const Verb* find_verb(const std::string& name)
{
    for (const Verb& v : kVerbs)
        if (name == v.name) return &v;
    return nullptr;
}

void print_verb_help(const Verb& v) { std::printf("usage: kmdctl %s\n\n%s\n", v.synopsis, v.help); }

int cmd_help(const Args& a)
{
    if (!a.positional.empty()) {
        if (const Verb* v = find_verb(a.positional[0])) {
            print_verb_help(*v);
            return kExitOk;
        }
        return usage_error("help", "no verb '" + a.positional[0] + "'");
    }
    std::printf("kmdctl - load, talk to and unload a legacy NT kernel-mode driver\n\n"
                "usage: kmdctl [--trace] [--win32-exit] <verb> [args]\n\n");
    for (const Verb& v : kVerbs) std::printf("  %s\n", v.synopsis);
    std::printf("\n--trace narrates every Win32 call and its result.\n"
                "Exit status: 0 ok, 1 a Win32 call failed (the error is printed), 2 bad usage; with --win32-exit,\n"
                "as sc.exe: the Win32 error number itself, 1639 (ERROR_INVALID_COMMAND_LINE) for bad usage.\n");
    return kExitOk;
}

// --help anywhere after the verb: its page, whatever else the line holds.
bool asks_for_help(const std::vector<std::string>& words)
{
    for (const std::string& w : words)
        if (w == "--help") return true;
    return false;
}

// Parses the verb's arguments and runs it: the one place every verb passes through.
int run_verb(const Verb& verb, const std::vector<std::string>& words)
{
    if (asks_for_help(words)) {
        print_verb_help(verb);
        return kExitOk;
    }
    Args args;
    if (auto error = kmd::parse_command_args(words, verb.spec, args)) return usage_error(verb.name, *error);
    if (args.has("--trace")) kmd::set_trace(true);
    const int rc = verb.run(args);
    std::fflush(stdout);
    return rc;
}

// The global options before the verb, then the verb: what main() and a batch's step share.
struct Command {
    bool trace = false, win32_exit = false;
    bool no_verb = false; // nothing but global options
    const Verb* verb = nullptr;
    std::vector<std::string> words; // after the verb
};

std::optional<std::string> split_command(const std::vector<std::string>& argv, Command& c)
{
    size_t first = 0;
    for (; first < argv.size(); ++first) {
        if (argv[first] == "--trace")
            c.trace = true;
        else if (argv[first] == "--win32-exit")
            c.win32_exit = true;
        else
            break;
    }
    if (first >= argv.size()) {
        c.no_verb = true;
        return std::string("no verb (see 'kmdctl help')");
    }
    c.verb = find_verb(argv[first]);
    if (c.verb == nullptr) return "unknown verb '" + argv[first] + "' (see 'kmdctl help')";
    c.words.assign(argv.begin() + static_cast<std::ptrdiff_t>(first) + 1, argv.end());
    return std::nullopt;
}

} // namespace

std::optional<std::string> check_command(const std::vector<std::string>& argv, std::string& verb)
{
    Command c;
    if (auto error = split_command(argv, c)) return error;
    verb = c.verb->name;
    if (asks_for_help(c.words)) return std::nullopt;
    Args args;
    if (auto error = kmd::parse_command_args(c.words, c.verb->spec, args)) return std::string(c.verb->name) + ": " + *error;
    return std::nullopt;
}

int run_command(const std::vector<std::string>& argv)
{
    Command c;
    const std::optional<std::string> error = split_command(argv, c);
    // Set for this command only: a batch's next step starts from the batch's own state again.
    const bool old_exit = std::exchange(g_win32_exit, c.win32_exit);
    const bool old_trace = kmd::trace_enabled();
    int rc = kExitOk;
    if (c.no_verb) {
        cmd_help(Args{}); // no verb at all: the overview
        rc = g_win32_exit ? static_cast<int>(ERROR_INVALID_COMMAND_LINE) : kExitUsage;
    } else if (error) {
        std::fprintf(stderr, "kmdctl: %s\n", error->c_str());
        rc = g_win32_exit ? static_cast<int>(ERROR_INVALID_COMMAND_LINE) : kExitUsage;
    } else {
        if (c.trace) kmd::set_trace(true);
        rc = run_verb(*c.verb, c.words);
    }
    kmd::set_trace(old_trace);
    g_win32_exit = old_exit;
    return rc;
}

} // namespace kmdctl

using namespace kmdctl;

// Not wmain: the arguments are taken as UTF-16 from GetCommandLineW, which works the same with
// every mingw-w64 and MSVC setup (no -municode needed).
int main()
{
    const kmd::Utf8Console console;
    std::vector<std::string> words = kmd::command_line_arguments();
    if (!words.empty()) words.erase(words.begin()); // the program's own name
    return run_command(words);
}
