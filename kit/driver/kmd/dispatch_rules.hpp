// dispatch_rules.hpp - the conventions a dispatch routine keeps that are not about any one
// request, as plain C++ (no NT calls), so the host tests hold them (tests/host/dispatch_rules_tests.cpp)
// and every driver's NT shell asks the same question the same way.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kmd {

inline constexpr uint8_t kIrpMjCreate = 0x00;
inline constexpr uint8_t kIrpMjPnp = 0x1b;

// Information to report with `status`: zero for an error (severity 3, NT_ERROR), kept otherwise.
// The I/O manager copies Information bytes back for warnings too (STATUS_BUFFER_OVERFLOW: "here
// is the part that fits"), so zeroing it for every non-success status would rule out a
// partial-data protocol.
constexpr uintptr_t reported_information(uint32_t status, uintptr_t information)
{
    return (status >> 30) == 3u ? 0u : information;
}

// A legacy driver that gets an IRP_MJ_PNP anyway (a filter or the PnP manager sent it) completes
// it with the status it came with (STATUS_NOT_SUPPORTED, set by whoever built it): the PnP
// convention is that a driver that does not handle a minor code leaves Status alone. Every other
// major the driver does not serve gets its own answer (the seed's STATUS_NOT_IMPLEMENTED).
constexpr bool keeps_incoming_status(uint8_t major) { return major == kIrpMjPnp; }

// IRP_MJ_CREATE for "\\.\device\anything": the device has no namespace below it, so a name after
// the device's own is refused (ERROR_FILE_NOT_FOUND) rather than silently opening the device.
// (FILE_DEVICE_SECURE_OPEN already applies the device's DACL to such names.)
inline constexpr uint32_t kStatusObjectNameNotFound = 0xC0000034u;
constexpr bool create_names_nothing_below_the_device(size_t file_name_bytes) { return file_name_bytes == 0; }

} // namespace kmd
