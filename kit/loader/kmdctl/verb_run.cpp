// kmdctl run: the seed's loader, its seven steps in order, narrated, with every failure explained
// in words and undone.
#include "verbs.hpp"

#include <cstdio>
#include <optional>
#include <string>

#include "contract.hpp"
#include "device.hpp"
#include "host_health.hpp"
#include "imports_check.hpp"
#include "request.hpp"
#include "scm.hpp"
#include "stop_wait.hpp"

namespace kmdctl {
namespace {

// Every access `run` needs on the service, and no more: it creates, configures (--force), starts,
// queries, stops and deletes.
constexpr DWORD kRunServiceAccess =
    SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG | SERVICE_CHANGE_CONFIG | SERVICE_START | SERVICE_STOP | DELETE;

// Undoes what `run` did, in reverse, on every way out: put back an image path that --force
// changed, stop only a service this run started, delete only a service this run created (or one
// that --cleanup took over after checking that it runs this very file).
class RunUndo {
public:
    explicit RunUndo(const std::wstring& name) : name_(kmd::narrow(name)) {}
    RunUndo(const RunUndo&) = delete;
    RunUndo& operator=(const RunUndo&) = delete;
    ~RunUndo()
    {
        if (service_ == nullptr) return;
        if (started_) {
            DWORD state = 0;
            if (Failure f = kmd::stop_service(service_, kStopTimeoutMs, state))
                std::printf("      undo: could not stop %s: %s\n", name_.c_str(), f.describe().c_str());
            else
                std::printf("      undo: stopped %s\n", name_.c_str());
        }
        if (!old_image_path_.empty()) {
            if (Failure f = kmd::change_config(service_, old_image_path_))
                std::printf("      undo: could not restore the image path of %s: %s\n", name_.c_str(), f.describe().c_str());
            else
                std::printf("      undo: image path of %s restored to %s\n", name_.c_str(), kmd::narrow(old_image_path_).c_str());
        }
        if (delete_) {
            if (Failure f = kmd::delete_service(service_))
                std::printf("      undo: could not delete %s: %s\n", name_.c_str(), f.describe().c_str());
            else
                std::printf("      undo: deleted service %s\n", name_.c_str());
        }
    }
    void track(SC_HANDLE service) { service_ = service; }
    void will_delete() { delete_ = true; }
    void started() { started_ = true; }
    // The normal path did the stop/delete/restore itself.
    void stopped() { started_ = false; }
    void deleted() { delete_ = false; }
    void restored() { old_image_path_.clear(); }
    bool has_started() const { return started_; }
    bool will_delete_service() const { return delete_; }
    const std::wstring& old_image_path() const { return old_image_path_; }
    // --force changed an existing service's image path: put it back if the run fails.
    void reconfigured(const std::wstring& old_image_path) { old_image_path_ = old_image_path; }
    // The run succeeded without --cleanup: a --force reconfiguration stays, as asked.
    void keep_configuration() { old_image_path_.clear(); }

private:
    std::string name_;
    SC_HANDLE service_ = nullptr;
    bool delete_ = false;
    bool started_ = false;
    std::wstring old_image_path_;
};

void step(int n, const std::string& what) { std::printf("[%d/7] %s\n", n, what.c_str()), std::fflush(stdout); }
int step_failed(int n, const Failure& f)
{
    std::printf("[%d/7] FAILED: %s\n", n, f.describe().c_str());
    std::fprintf(stderr, "kmdctl run: step %d failed: %s\n", n, f.describe().c_str());
    say_hint(f);
    return failed_exit(f.error);
}

// Step 5's request: --ioctl, --no-ioctl, or the contract's KMD_CONTRACT_HELLO (kmdctl sends no
// request it was not told about: another driver would answer an unknown IOCTL with an error).
int run_request(const Args& a, std::optional<Request>& request)
{
    if (a.has("--no-ioctl")) {
        if (a.has("--ioctl")) return usage_error("run", "give --ioctl or --no-ioctl, not both");
        for (const char* option : {"--in", "--in-u32", "--in-u64", "--in-str", "--in-file", "--out-size", "--header"})
            if (a.has(option)) return usage_error("run", std::string(option) + " describes the IOCTL to send; --no-ioctl sends none");
        return kExitOk;
    }
    Request r;
    if (!a.has("--ioctl")) {
        for (const char* option : {"--in", "--in-u32", "--in-u64", "--in-str", "--in-file", "--out-size"})
            if (a.has(option)) return usage_error("run", std::string(option) + " goes with --ioctl");
        if (int rc = hello_request("run", a, r); rc != kExitOk) return rc;
        request = r;
        return kExitOk;
    }
    if (int rc = resolve_code("run", a, a.get("--ioctl"), r); rc != kExitOk) return rc;
    if (int rc = request_buffers("run", a, r); rc != kExitOk) return rc;
    request = r;
    return kExitOk;
}

// against a dead host; otherwise the failure stands as it was.
Failure host_crash_or(RunUndo& undo, const Failure& f, const std::wstring& link)
{
    if (kmd::report_dead_driver_hosts(stderr, link) == 0) return f;
    undo.stopped(); // ControlService would only fail with 232 against the dead host
    return Failure{f.call + " (the driver host died: see above)", f.error};
}

} // namespace

bool name_of_file(const char* verb, const Args& a, std::wstring& name, int& exit_code)
{
    if (a.has("--name")) return checked_name(verb, a.get("--name"), name, exit_code);
    Contract contract;
    if ((exit_code = load_contract(verb, a, contract)) != kExitOk) return false;
    if (!contract.header.service.empty()) return checked_name(verb, contract.header.service, name, exit_code);
    std::string file = a.positional[0];
    file = file.substr(file.find_last_of("/\\") == std::string::npos ? 0 : file.find_last_of("/\\") + 1);
    if (const size_t dot = file.rfind('.'); dot != std::string::npos && dot != 0) file.resize(dot);
    return checked_name(verb, file, name, exit_code);
}

int cmd_run(const Args& a)
{
    int rc = kExitOk;
    std::wstring name;
    if (!name_of_file("run", a, name, rc)) return rc;
    // --device, else the link a driver of this name conventionally creates: \\.\<name>.
    const std::wstring device_path = a.has("--device") ? kmd::widen(a.get("--device")) : L"\\\\.\\" + name;
    std::optional<Request> request;
    if (rc = run_request(a, request); rc != kExitOk) return rc;
    const bool cleanup = a.has("--cleanup"), force = a.has("--force");

    std::wstring image;
    if (Failure f = kmd::full_path(kmd::widen(a.positional[0]), image)) return report("run", f);
    if (Failure f = check_driver_file(image)) return report("run", f);

    kmd::ScHandle scm, created, service;
    RunUndo undo(name); // declared after the handles it uses, so it runs before they close
    const std::string shown_name = kmd::narrow(name);

    step(1, "OpenSCManager(SC_MANAGER_CONNECT|SC_MANAGER_CREATE_SERVICE)");
    if (Failure f = kmd::open_scm(scm, SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE)) return step_failed(1, f);

    step(2, "CreateService(" + shown_name + ", SERVICE_KERNEL_DRIVER, SERVICE_DEMAND_START, " + kmd::narrow(image) + ")");
    bool existed = false;
    if (Failure f = kmd::create_kernel_service(scm.get(), name, name, image, SERVICE_DEMAND_START, created, {}, kRunServiceAccess)) {
        if (f.error != ERROR_SERVICE_EXISTS) return step_failed(2, f);
        existed = true;
        std::printf("      the service already exists (error 1073): checking it at step 3 before using it\n");
    } else {
        undo.track(created.get());
        undo.will_delete();
    }

    step(3, "OpenService (a handle to the service; this does not load the driver yet)");
    if (Failure f = kmd::open_service(scm.get(), name, service, kRunServiceAccess)) return step_failed(3, f);
    undo.track(service.get());
    kmd::ServiceConfig config;
    if (Failure f = kmd::query_config(service.get(), config)) return step_failed(3, f);
    if (existed) {
        // Nothing is changed, started or deleted before this check passes: a service this run
        // refuses stays exactly as it was, --cleanup or not.
        if (config.type != SERVICE_KERNEL_DRIVER)
            return step_failed(3, Failure{"service " + shown_name + " is a " + kmd::type_name(config.type) +
                                              " service, not a kernel driver; kmdctl leaves it alone",
                                          ERROR_SERVICE_EXISTS});
        if (!kmd::same_image_path(config.image_path, image)) {
            if (!force)
                return step_failed(3, Failure{"service " + shown_name + " runs " + kmd::narrow(config.image_path) +
                                                  ", not this file; --force points it at this file for the run",
                                              ERROR_SERVICE_EXISTS});
            SERVICE_STATUS_PROCESS status{};
            if (Failure f = kmd::query_status(service.get(), status)) return step_failed(3, f);
            if (status.dwCurrentState != SERVICE_STOPPED)
                return step_failed(3, Failure{"service " + shown_name + " is " + kmd::state_name(status.dwCurrentState) +
                                                  " with its own image; stop it first (a new image path takes effect only "
                                                  "at the next start)",
                                              ERROR_SERVICE_ALREADY_RUNNING});
            if (Failure f = kmd::change_config(service.get(), image)) return step_failed(3, f);
            undo.reconfigured(config.image_path);
            std::printf("      --force: image path changed to %s (type, start type, error control unchanged)\n",
                        kmd::narrow(image).c_str());
        } else if (cleanup) {
            undo.will_delete();
            std::printf("      it runs this file: using it; --cleanup: deleting it afterwards\n");
        } else {
            std::printf("      it runs this file: using it; this command will not delete it\n");
        }
    }

    step(4, "StartService (the kernel loads the image and calls DriverEntry)");
    kmd::StartRetry retry;
    Failure started = kmd::start_service(service.get(), &retry);
    say_retry(retry);
    if (Failure f = started) {
        if (f.error != ERROR_SERVICE_ALREADY_RUNNING) {
            if (!kmd::explain_missing_imports(stderr, shown_name, image))
                kmd::explain_start_failure(stderr, shown_name, f.error, device_path);
            return step_failed(4, f);
        }
        if (cleanup && undo.will_delete_service()) {
            std::printf("      already running (error 1056): using it; --cleanup: stopping it afterwards\n");
            undo.started();
        } else {
            std::printf("      already running (error 1056): using it; this command will not stop it\n");
        }
    } else {
        undo.started();
        std::fflush(stdout);
        kmd::explain_missing_imports(stderr, shown_name, image, true);
        say_debug_print_hint();
    }

    if (request) {
        step(5, "CreateFile(" + kmd::narrow(device_path) + ") + DeviceIoControl(" + request_label(*request) + ")");
        kmd::FileHandle device;
        if (Failure f = kmd::open_device(device_path, device)) return step_failed(5, host_crash_or(undo, f, device_path));
        if (Failure f = send_request(device.get(), *request, "      "))
            return step_failed(5, host_crash_or(undo, f, device_path));
    } else {
        step(5, "CreateFile(" + kmd::narrow(device_path) + ") (--no-ioctl: no request)");
        kmd::FileHandle device;
        if (Failure f = kmd::open_device(device_path, device)) return step_failed(5, f);
        std::printf("      the device opens\n");
    } // the device handle closes here: IRP_MJ_CLEANUP, IRP_MJ_CLOSE

    step(6, "ControlService(SERVICE_CONTROL_STOP) (the kernel calls DriverUnload)");
    if (undo.has_started()) {
        DWORD state = 0;
        const kmd::ReportMark reports = kmd::mark_crash_reports(name);
        if (Failure f = kmd::stop_service(service.get(), kStopTimeoutMs, state)) return step_failed(6, host_crash_or(undo, f, device_path));
        if (kmd::report_crash_since(stderr, shown_name, reports)) {
            undo.stopped();
            return step_failed(6, Failure{"the driver host crashed during the stop", ERROR_PROCESS_ABORTED});
        }
        undo.stopped();
        std::printf("      state: %s\n", kmd::state_name(state));
    } else {
        // Say what is so now, not what was assumed: another program may have stopped it meanwhile.
        SERVICE_STATUS_PROCESS status{};
        if (Failure f = kmd::query_status(service.get(), status))
            std::printf("      skipped: the driver was running before this command (its state now: unknown, %s)\n",
                        f.describe().c_str());
        else
            std::printf("      skipped: the driver was running before this command, so this command does not stop it "
                        "(state now: %s)\n",
                        kmd::state_name(status.dwCurrentState));
    }

    if (!cleanup) undo.keep_configuration();
    step(7, "DeleteService + CloseServiceHandle");
    if (undo.will_delete_service()) {
        if (Failure f = kmd::delete_service(service.get())) return step_failed(7, f);
        undo.deleted();
        std::printf("      service %s deleted\n", shown_name.c_str());
    } else {
        if (!undo.old_image_path().empty()) {
            // --force with --cleanup: the service was someone else's; give it back as it was.
            if (Failure f = kmd::change_config(service.get(), undo.old_image_path())) return step_failed(7, f);
            std::printf("      --cleanup: image path of %s restored to %s\n", shown_name.c_str(),
                        kmd::narrow(undo.old_image_path()).c_str());
            undo.restored();
        }
        if (kmd::marked_for_delete(service.get()))
            std::printf("      skipped DeleteService: the service existed before this command; another program has deleted it "
                        "meanwhile (marked for deletion)\n");
        else
            std::printf("      skipped DeleteService: the service existed before this command, so this command does not "
                        "delete it\n");
    }
    return kExitOk; // the owners close every handle (CloseServiceHandle) on the way out
}

} // namespace kmdctl
