// irp_buffers.cpp - where each transfer method puts the caller's buffers, and how the driver makes
// them safe before the request core (driver/core) sees a byte. See the table in skeleton/ioctl.h.
#include "irp_buffers.hpp"

#include <skeleton/ioctl.h>

#include "guarded.hpp"
#include "kernel_features.hpp"
#include "kernel_raii.hpp"

namespace skeleton::nt {
namespace {

core::Result fail(NTSTATUS s) { return core::Result{static_cast<uint32_t>(s), 0}; }

// METHOD_BUFFERED: the I/O manager copied the input into one system buffer of
// max(in, out) bytes and copies `Information` bytes of it back to the caller on success.
core::Result run_buffered(PIRP irp, ULONG code, ULONG in_len, ULONG out_len)
{
    auto* system = static_cast<unsigned char*>(irp->AssociatedIrp.SystemBuffer);
    if (system == nullptr && (in_len != 0 || out_len != 0)) return fail(STATUS_INVALID_PARAMETER);
    return core::handle_device_control(code, {system, in_len}, {system, out_len});
}

// METHOD_IN_DIRECT / METHOD_OUT_DIRECT: input copied into the system buffer; the output buffer
// locked by the I/O manager and described by Irp->MdlAddress, which we map into system space.
core::Result run_direct(PIRP irp, ULONG code, ULONG in_len, ULONG out_len)
{
    auto* system = static_cast<const unsigned char*>(irp->AssociatedIrp.SystemBuffer);
    if (system == nullptr && in_len != 0) return fail(STATUS_INVALID_PARAMETER);

    core::MutableBytes out{nullptr, 0};
    if (out_len != 0) {
        PMDL mdl = irp->MdlAddress;
        if (mdl == nullptr) return fail(STATUS_INVALID_PARAMETER);
        // Never trust out_len beyond what the MDL really describes.
        if (MmGetMdlByteCount(mdl) < out_len) return fail(STATUS_INVALID_PARAMETER);
        void* mapped = MmGetSystemAddressForMdlSafe(mdl, static_cast<MM_PAGE_PRIORITY>(NormalPagePriority | mdl_mapping_no_execute()));
        if (mapped == nullptr) return fail(STATUS_INSUFFICIENT_RESOURCES);
        out = {static_cast<unsigned char*>(mapped), out_len};
    }
    return core::handle_device_control(code, {system, in_len}, out);
}

// METHOD_NEITHER: raw caller addresses. A user-mode caller's pointers are probed, then read and
// written only inside guarded() (the SEH seam, guarded.hpp), and only through kernel copies: the
// core never sees a user address, and reading the input once means the caller cannot change it under our feet.
core::Result run_neither(PIRP irp, PIO_STACK_LOCATION stack, ULONG code, ULONG in_len, ULONG out_len)
{
    void* user_in = stack->Parameters.DeviceIoControl.Type3InputBuffer;
    void* user_out = irp->UserBuffer;
    if (in_len > SKELETON_MAX_TRANSFER) return fail(STATUS_INVALID_PARAMETER);
    if (in_len != 0 && user_in == nullptr) return fail(STATUS_INVALID_PARAMETER);
    // No output address means no output buffer: the core answers as it does for zero length.
    if (user_out == nullptr) out_len = 0;
    // A larger output buffer is fine (SAY_HELLO into a big buffer); we just never fill more.
    const ULONG out_capture = out_len < SKELETON_MAX_TRANSFER ? out_len : SKELETON_MAX_TRANSFER;

    PoolBuffer in, out;
    if (!in.allocate(in_len) || !out.allocate(out_capture)) return fail(STATUS_INSUFFICIENT_RESOURCES);

    // guarded(): the probes and every access to a user address, and nothing else (guarded.hpp).
    const bool from_user = irp->RequestorMode != KernelMode;
    NTSTATUS fault = guarded([&] {
        if (from_user) {
            if (in_len != 0) ProbeForRead(user_in, in_len, 1);
            if (out_len != 0) ProbeForWrite(user_out, out_len, 1);
        }
        if (in_len != 0) RtlCopyMemory(in.data(), user_in, in_len);
    });
    if (fault != STATUS_SUCCESS) return fail(fault);

    core::Result result = core::handle_device_control(code, {in.data(), in_len}, {out.data(), out_capture});
    if (!NT_SUCCESS(static_cast<NTSTATUS>(result.status)) || result.information == 0) return result;

    fault = guarded([&] { RtlCopyMemory(user_out, out.data(), result.information); });
    if (fault != STATUS_SUCCESS) return fail(fault);
    return result;
}

} // namespace

core::Result run_device_control(PIRP irp, PIO_STACK_LOCATION stack)
{
    const ULONG code = stack->Parameters.DeviceIoControl.IoControlCode;
    const ULONG in_len = stack->Parameters.DeviceIoControl.InputBufferLength;
    const ULONG out_len = stack->Parameters.DeviceIoControl.OutputBufferLength;

    if (core::find_request(code) == nullptr) return fail(STATUS_NOT_IMPLEMENTED);

    switch (METHOD_FROM_CTL_CODE(code)) {
    case METHOD_BUFFERED: return run_buffered(irp, code, in_len, out_len);
    case METHOD_IN_DIRECT:
    case METHOD_OUT_DIRECT: return run_direct(irp, code, in_len, out_len);
    default: return run_neither(irp, stack, code, in_len, out_len);
    }
}

} // namespace skeleton::nt
