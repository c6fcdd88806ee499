// wine_host.hpp - under Wine, the kit's host shim (kmdhost.sys, kit/winehost) is loaded into a
// driver's host process before the driver, so that Wine's early unload cannot run a request in an
// unloaded image, whatever the driver (kit/winehost/kmdhost.cpp says how). Nothing here runs on
// Windows: every function checks running_under_wine() first.
//
// Wine starts one winedevice.exe per load-order group (a driver without a group gets a host of its
// own), and the shim protects the drivers of its own host only: so under Wine a service this kit
// creates without a group gets kWineDefaultGroup, and start_service() (scm.cpp) starts the shim of
// the driver's group first. KMD_WINE_HOST=0 turns it off (to show what Wine does without it);
// KMD_WINE_HOST=path names another kmdhost.sys; by default it is the one beside the program.
#pragma once

#include <string>

#include "scm.hpp"

namespace kmd {

inline constexpr const wchar_t* kWineDefaultGroup = L"kmdhost";

// The group to create a driver service with: `requested`, or under Wine kWineDefaultGroup.
std::wstring service_group(const std::wstring& requested);

// Before starting `service` under Wine: starts the shim in its group's host, unless the service is
// itself one of the kit's host components (kmdhost.sys, kmdverify.sys: those load first on purpose)
// or has no group. A shim that is switched off, missing or cannot be installed is said on stderr
// and the driver starts without it. A shim whose host died while starting (the first host of a
// group is the shim's: StartService's error 1359, retried once like any start, told in *retry)
// fails the driver's start too: its host would be the next to die.
Failure prepare_wine_host(SC_HANDLE service, StartRetry* retry);

// The shim's verdict on the last unload of `service` (kit/winehost/image_watch.hpp), read from
// HKLM\...\Services\kmdhost_<group>\Unloads: "none" when nothing of the driver can run any more,
// else the reason something may; "" when the shim said nothing (not under Wine, no shim, no
// unload since forget_unload_verdict). Forgotten before a stop, so a verdict read after it is its own.
void forget_unload_verdict(const std::wstring& service);
std::wstring unload_verdict(const std::wstring& service);

} // namespace kmd
