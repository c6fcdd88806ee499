// The service one step at a time, as sc.exe offers it: install, start, stop, remove, status, list.
#include "verbs.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include "contract.hpp"
#include "host_health.hpp"
#include "imports_check.hpp"
#include "scm.hpp"
#include "stop_wait.hpp"

namespace kmdctl {

int cmd_install(const Args& a)
{
    int rc = kExitOk;
    std::wstring name;
    if (!name_of_file("install", a, name, rc)) return rc;
    const std::wstring display = a.has("--display") ? kmd::widen(a.get("--display")) : name;
    const auto start_type = parse_start_type(a.get("--start", "demand"));
    if (!start_type) return usage_error("install", "--start takes demand, system, auto, disabled or boot");
    std::wstring image;
    if (Failure f = kmd::full_path(kmd::widen(a.positional[0]), image)) return report("install", f);
    if (Failure f = check_driver_file(image)) return report("install", f);

    kmd::ScHandle scm, service;
    if (Failure f = kmd::open_scm(scm, SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE)) return report("install", f);
    const std::wstring group = kmd::widen(a.get("--group"));
    Failure created = kmd::create_kernel_service(scm.get(), name, display, image, *start_type, service, group, SERVICE_QUERY_STATUS);
    const std::string shown = kmd::narrow(name);
    if (!created) {
        std::printf("installed %s -> %s\n", shown.c_str(), kmd::narrow(image).c_str());
        return kExitOk;
    }
    if (created.error != ERROR_SERVICE_EXISTS) return report("install", created);

    if (Failure f = kmd::open_service(scm.get(), name, service, SERVICE_QUERY_CONFIG | SERVICE_CHANGE_CONFIG)) return report("install", f);
    kmd::ServiceConfig config;
    if (Failure f = kmd::query_config(service.get(), config)) return report("install", f);
    if (config.type != SERVICE_KERNEL_DRIVER)
        return report("install", Failure{"service " + shown + " exists and is a " + kmd::type_name(config.type) +
                                             " service, not a kernel driver; kmdctl leaves it alone",
                                         ERROR_SERVICE_EXISTS});
    if (kmd::same_image_path(config.image_path, image)) {
        std::printf("%s is already installed with this image path (%s)\n", shown.c_str(), kmd::narrow(config.image_path).c_str());
        return kExitOk;
    }
    if (!a.has("--force"))
        return report("install", Failure{"service " + shown + " already exists with another image path: " +
                                             kmd::narrow(config.image_path) + " (--force points it at " + kmd::narrow(image) + ")",
                                         ERROR_SERVICE_EXISTS});
    // Only the image path, and the start type when --start says so: the rest stays as it was.
    if (Failure f = kmd::change_config(service.get(), image, a.has("--start") ? *start_type : SERVICE_NO_CHANGE))
        return report("install", f);
    std::printf("reconfigured %s -> %s (was %s)\n", shown.c_str(), kmd::narrow(image).c_str(), kmd::narrow(config.image_path).c_str());
    return kExitOk;
}

int cmd_start(const Args& a)
{
    int rc = kExitOk;
    std::wstring name;
    if (!service_name("start", a, name, rc)) return rc;
    kmd::ScHandle scm, service;
    // SERVICE_START, SERVICE_QUERY_STATUS to print the state the start led to, and SERVICE_QUERY_CONFIG:
    // under Wine the kit reads the service's group to load its host shim first (wine_host.hpp).
    if (Failure f = open_named(name, SERVICE_START | SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG, scm, service))
        return report("start", f);
    kmd::StartRetry retry;
    Failure started = kmd::start_service(service.get(), &retry);
    say_retry(retry);
    if (Failure f = started) {
        if (f.error == ERROR_SERVICE_ALREADY_RUNNING)
            if (const DWORD dead = host_died(scm.get(), name)) return failed_exit(dead);
        kmd::ServiceConfig config;
        if (kmd::query_config(service.get(), config) || !kmd::explain_missing_imports(stderr, kmd::narrow(name), config.image_path))
            kmd::explain_start_failure(stderr, kmd::narrow(name), f.error,
                                       std::wstring(L"\\\\.\\") + name); // the usual link: \\.\NAME
        return report("start", f);
    }
    // The state the start settled in, not START_PENDING: RUNNING, or STOPPED if it went down again.
    DWORD state = 0;
    if (Failure f = kmd::wait_while_starting(service.get(), kStopTimeoutMs, state)) return report("start", f);
    std::printf("%s: %s\n", kmd::narrow(name).c_str(), kmd::state_name(state));
    std::fflush(stdout);
    if (state == SERVICE_RUNNING) {
        kmd::ServiceConfig config;
        if (!kmd::query_config(service.get(), config)) kmd::explain_missing_imports(stderr, kmd::narrow(name), config.image_path, true);
        say_debug_print_hint();
        return kExitOk;
    }
    return report("start", Failure{"StartService succeeded, but the service is " + std::string(kmd::state_name(state)) + " now",
                               ERROR_SERVICE_NOT_ACTIVE});
}

int cmd_stop(const Args& a)
{
    int rc = kExitOk;
    std::wstring name;
    if (!service_name("stop", a, name, rc)) return rc;
    const auto timeout = kmd::parse_u32(a.get("--timeout", std::to_string(kStopTimeoutMs)));
    if (!timeout) return usage_error("stop", "--timeout takes milliseconds");
    kmd::ScHandle scm, service;
    if (Failure f = open_named(name, SERVICE_STOP | SERVICE_QUERY_STATUS, scm, service)) return report("stop", f);
    if (const DWORD dead = host_died(scm.get(), name)) return failed_exit(dead); // never "STOPPED" over a dead host
    DWORD state = 0;
    const kmd::ReportMark reports = kmd::mark_crash_reports(name);
    if (Failure f = kmd::stop_service(service.get(), *timeout, state)) {
        std::fprintf(stderr, "kmdctl stop: %s (state now %s)\n", f.describe().c_str(), kmd::state_name(state));
        host_died(scm.get(), name);
        return failed_exit(f.error);
    }
    if (kmd::report_crash_since(stderr, kmd::narrow(name), reports)) return failed_exit(ERROR_PROCESS_ABORTED);
    std::printf("%s: %s\n", kmd::narrow(name).c_str(), kmd::state_name(state));
    return kExitOk;
}

int cmd_remove(const Args& a)
{
    int rc = kExitOk;
    std::wstring name;
    if (!service_name("remove", a, name, rc)) return rc;
    kmd::ScHandle scm, service;
    if (Failure f = open_named(name, SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE, scm, service)) return report("remove", f);
    const std::string shown = kmd::narrow(name);
    SERVICE_STATUS_PROCESS status{};
    if (Failure f = kmd::query_status(service.get(), status)) return report("remove", f);
    const DWORD dead_host = host_died(scm.get(), name);
    bool crashed_on_stop = false;
    if (status.dwCurrentState != SERVICE_STOPPED && dead_host == 0) {
        DWORD state = 0;
        const kmd::ReportMark reports = kmd::mark_crash_reports(name);
        if (Failure f = kmd::stop_service(service.get(), kStopTimeoutMs, state)) return report("remove", f);
        if (kmd::report_crash_since(stderr, shown, reports)) crashed_on_stop = true;
        else std::printf("%s: stopped\n", shown.c_str());
    }
    if (Failure f = kmd::delete_service(service.get())) return report("remove", f);
    service.reset();
    // DeleteService only marks the service; it goes once the last handle to it closes. Check.
    kmd::ScHandle again;
    if (!kmd::open_service(scm.get(), name, again, SERVICE_QUERY_STATUS))
        std::printf("%s: marked for deletion (another program still holds a handle to it; it goes when that closes)\n", shown.c_str());
    else
        std::printf("%s: removed\n", shown.c_str());
    if (dead_host != 0) return failed_exit(dead_host); // removed, but a dead host is not a success
    return crashed_on_stop ? failed_exit(ERROR_PROCESS_ABORTED) : kExitOk;
}

int cmd_status(const Args& a)
{
    int rc = kExitOk;
    std::wstring name;
    if (!service_name("status", a, name, rc)) return rc;
    kmd::ScHandle scm, service;
    if (Failure f = open_named(name, SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG, scm, service)) return report("status", f);
    SERVICE_STATUS_PROCESS status{};
    kmd::ServiceConfig config;
    if (Failure f = kmd::query_status(service.get(), status)) return report("status", f);
    if (Failure f = kmd::query_config(service.get(), config)) return report("status", f);
    const std::string n = kmd::narrow(name), image = kmd::narrow(config.image_path);
    kmd::HostState host;
    bool asked = false;
    if (kmd::ScHandle ask; !kmd::open_service(scm.get(), name, ask, SERVICE_INTERROGATE)) host = kmd::host_of(ask.get(), status), asked = true;
    // Over a dead host the state is HOST_DEAD, never the SCM's RUNNING (which Wine keeps saying):
    // "scm_state" keeps what the SCM said. docs/kmdctl.md lists the keys.
    const char* state = host.dead ? "HOST_DEAD" : kmd::state_name(status.dwCurrentState);
    const char* host_word = host.dead ? "dead" : !kmd::hosted_state(status.dwCurrentState) ? "none" : asked ? "answers" : "unknown";
    const DWORD dead_exit = host.error != ERROR_SUCCESS ? host.error : static_cast<DWORD>(ERROR_PROCESS_ABORTED);
    const kmd::HostDeath d = host.dead ? kmd::why_host_died(kmd::image_file_name(config.image_path)) : kmd::HostDeath{};
    if (a.has("--json")) {
        std::string death;
        if (host.dead) {
            death = ", \"host_error\": " + std::to_string(host.error) + ", \"host_end\": \"" + kmd::host_end_name(d.how) + "\"";
            if (d.pid != 0) death += ", \"host_pid\": " + std::to_string(d.pid) + ", \"host_exit_code\": " + std::to_string(d.exit_code);
            if (d.report.found) death += ", \"exception\": \"" + kmd::json_escape(d.report.exception) + "\"";
        }
        std::printf("{\"name\": \"%s\", \"state\": \"%s\", \"scm_state\": \"%s\", \"type\": \"%s\", \"start_type\": \"%s\", "
                    "\"image_path\": \"%s\", \"win32_exit_code\": %lu, \"host\": \"%s\"%s}\n",
                    kmd::json_escape(n).c_str(), state, kmd::state_name(status.dwCurrentState), kmd::type_name(status.dwServiceType),
                    kmd::start_type_name(config.start_type), kmd::json_escape(image).c_str(),
                    static_cast<unsigned long>(status.dwWin32ExitCode), host_word,
                    death.c_str());
        if (!host.dead) return kExitOk;
        std::fflush(stdout);
        kmd::explain_dead_host(stderr, n, config.image_path, host, {}, &d); // the words, as the text form gives them
        return failed_exit(dead_exit);
    }
    std::printf("SERVICE_NAME: %s\n", n.c_str());
    std::printf("        TYPE               : %-4lx %s\n", static_cast<unsigned long>(status.dwServiceType),
                kmd::type_name(status.dwServiceType));
    // sc query's layout, but never a bare RUNNING over a dead host: the SCM's number and word, marked as its.
    std::printf("        STATE              : %-4lu %s%s\n", static_cast<unsigned long>(status.dwCurrentState),
                kmd::state_name(status.dwCurrentState), host.dead ? " (the SCM's word; the driver host is dead: see HOST)" : "");
    std::printf("        START_TYPE         : %-4lu %s\n", static_cast<unsigned long>(config.start_type),
                kmd::start_type_name(config.start_type));
    std::printf("        WIN32_EXIT_CODE    : %lu\n", static_cast<unsigned long>(status.dwWin32ExitCode));
    std::printf("        BINARY_PATH_NAME   : %s\n", image.c_str());
    if (!host.dead) return kExitOk;
    std::printf("        HOST               : DEAD (%s; see below)\n", kmd::host_end_name(d.how));
    std::fflush(stdout);
    kmd::explain_dead_host(stderr, n, config.image_path, host, {}, &d);
    return failed_exit(dead_exit);
}

// Every driver service and its state; over a dead host HOST_DEAD, never the SCM's RUNNING, with
// one line on stderr for each (`status NAME` tells the rest). Listing worked: exit 0 all the same.
int cmd_list(const Args&)
{
    kmd::ScHandle scm;
    // ENUMERATE_SERVICE for the list, CONNECT for the OpenService(SERVICE_INTERROGATE) of each running one.
    if (Failure f = kmd::open_scm(scm, SC_MANAGER_CONNECT | SC_MANAGER_ENUMERATE_SERVICE)) return report("list", f);
    std::vector<kmd::ServiceEntry> services;
    if (Failure f = kmd::list_driver_services(scm.get(), services)) return report("list", f);
    std::vector<std::string> dead;
    std::printf("%-24s %-14s %s\n", "NAME", "STATE", "DISPLAY NAME");
    for (const kmd::ServiceEntry& s : services) {
        kmd::HostState host;
        if (kmd::hosted_state(s.state)) {
            SERVICE_STATUS_PROCESS status{};
            status.dwCurrentState = s.state;
            if (kmd::ScHandle ask; !kmd::open_service(scm.get(), s.name, ask, SERVICE_INTERROGATE)) host = kmd::host_of(ask.get(), status);
        }
        if (host.dead) dead.push_back(kmd::narrow(s.name));
        std::printf("%-24s %-14s %s\n", kmd::narrow(s.name).c_str(), host.dead ? "HOST_DEAD" : kmd::state_name(s.state),
                    kmd::narrow(s.display_name).c_str());
    }
    std::fflush(stdout);
    for (const std::string& name : dead)
        std::fprintf(stderr, "kmdctl list: %s: HOST_DEAD: the SCM says RUNNING, but its driver host (winedevice.exe) has died; "
                             "`kmdctl status %s` says how\n",
                     name.c_str(), name.c_str());
    return kExitOk;
}

} // namespace kmdctl
