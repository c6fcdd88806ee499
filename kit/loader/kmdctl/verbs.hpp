// verbs.hpp - kmdctl's verbs, one family a file: run (verb_run.cpp), the service one step at a
// time (verbs_service.cpp), the device (verbs_device.cpp), the image (verbs_image.cpp), IOCTL
// arithmetic (verbs_codes.cpp), a file of steps in one process (verb_batch.cpp). main.cpp holds
// the table that parses and dispatches them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli.hpp"

namespace kmdctl {

int cmd_run(const Args& a);
int cmd_install(const Args& a);
int cmd_start(const Args& a);
int cmd_stop(const Args& a);
int cmd_remove(const Args& a);
int cmd_status(const Args& a);
int cmd_list(const Args& a);
int cmd_hello(const Args& a);
int cmd_ioctl(const Args& a);
int cmd_sweep(const Args& a);
int cmd_imports(const Args& a);
int cmd_decode(const Args& a);
int cmd_encode(const Args& a);
int cmd_batch(const Args& a);

// main.cpp: a whole command as typed after the program name (global options, verb, arguments).
// check_command: why it would be refused (unknown verb, bad arguments), nothing run; `verb` is its
// verb. run_command: runs it (main() runs the program's own line so); its --trace and --win32-exit
// last for it only.
std::optional<std::string> check_command(const std::vector<std::string>& argv, std::string& verb);
int run_command(const std::vector<std::string>& argv);

// The service run and install create: --name, else the contract's KMD_CONTRACT_SERVICE_W, else
// the driver file's name without its extension (mydrv.sys -> mydrv).
bool name_of_file(const char* verb, const Args& a, std::wstring& name, int& exit_code);

} // namespace kmdctl
