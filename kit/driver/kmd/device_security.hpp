// device_security.hpp - who may open a driver's device.
#pragma once

#include <kmd/nt.hpp>

namespace kmd {

// Replaces the device object's DACL with one that admits only SYSTEM and the Administrators
// group, FILE_ALL_ACCESS each, protected from inheritance: SDDL "D:P(A;;FA;;;SY)(A;;FA;;;BA)", what
// IoCreateDeviceSecure(SDDL_DEVOBJ_SYS_ALL_ADM_ALL = "D:P(A;;GA;;;SY)(A;;GA;;;BA)") leaves once the
// generic right is mapped for a device (GA -> FA). We store the specific rights directly, because
// an access check compares ACE masks with specific rights. IoCreateDeviceSecure itself lives in
// the WDK's static wdmsec.lib, not in ntoskrnl.exe, and mingw-w64 has no wdmsec library, so we do
// what it does: build the descriptor and apply it through a kernel handle to the device.
_IRQL_requires_max_(PASSIVE_LEVEL) // Zw* calls
NTSTATUS restrict_to_system_and_admins(PDEVICE_OBJECT device);

} // namespace kmd
