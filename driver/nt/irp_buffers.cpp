// irp_buffers.cpp - where each transfer method puts the caller's buffers, and how the driver makes
// them safe before the request core (driver/core) sees a byte. See the table in skeleton/ioctl.h.
#include "irp_buffers.hpp"

#include <skeleton/ioctl.h>

#include "kernel_raii.hpp"

namespace skeleton::nt {
namespace {

core::Result fail(NTSTATUS s) { return core::Result{static_cast<uint32_t>(s), 0}; }

// The exception code, taken in the __except *filter*: that is where GetExceptionCode() is
// defined to work (in the handler body clang/mingw yields 0). An exception code is never a success
// status, but a failed request must never be reported as one, so 0 becomes a plain failure.
LONG take_exception_code(ULONG code, NTSTATUS& out)
{
    out = code != 0 ? static_cast<NTSTATUS>(code) : STATUS_UNSUCCESSFUL;
    return EXCEPTION_EXECUTE_HANDLER;
}

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
        void* mapped = MmGetSystemAddressForMdlSafe(mdl, static_cast<MM_PAGE_PRIORITY>(NormalPagePriority | MdlMappingNoExecute));
        if (mapped == nullptr) return fail(STATUS_INSUFFICIENT_RESOURCES);
        out = {static_cast<unsigned char*>(mapped), out_len};
    }
    return core::handle_device_control(code, {system, in_len}, out);
}

// METHOD_NEITHER: raw caller addresses. A user-mode caller's pointers are probed, then read and
// written only inside __try/__except, and only through kernel copies: the core never sees a user
// address, and reading the input once means the caller cannot change it under our feet.
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

    NTSTATUS fault = STATUS_SUCCESS;
    __try {
        if (irp->RequestorMode != KernelMode) {
            if (in_len != 0) ProbeForRead(user_in, in_len, 1);
            if (out_len != 0) ProbeForWrite(user_out, out_len, 1);
        }
        if (in_len != 0) RtlCopyMemory(in.data(), user_in, in_len);
    } __except (take_exception_code(GetExceptionCode(), fault)) {
        return fail(fault);
    }

    core::Result result = core::handle_device_control(code, {in.data(), in_len}, {out.data(), out_capture});
    if (!NT_SUCCESS(static_cast<NTSTATUS>(result.status)) || result.information == 0) return result;

    __try {
        RtlCopyMemory(user_out, out.data(), result.information);
    } __except (take_exception_code(GetExceptionCode(), fault)) {
        return fail(fault);
    }
    return result;
}

} // namespace

core::Result run_device_control(PIRP irp, PIO_STACK_LOCATION stack)
{
    const ULONG code = stack->Parameters.DeviceIoControl.IoControlCode;
    const ULONG out_len = stack->Parameters.DeviceIoControl.OutputBufferLength;

    const core::RequestSpec* request = core::find_request(code);
    if (request == nullptr) return fail(STATUS_NOT_IMPLEMENTED);
    // An input the contract ignores (SAY_HELLO) is not looked at at all: its length is neither
    // checked nor probed nor captured, so any size works, as ioctl.h promises.
    const ULONG in_len = request->reads_input ? stack->Parameters.DeviceIoControl.InputBufferLength : 0;

    switch (METHOD_FROM_CTL_CODE(code)) {
    case METHOD_BUFFERED: return run_buffered(irp, code, in_len, out_len);
    case METHOD_IN_DIRECT:
    case METHOD_OUT_DIRECT: return run_direct(irp, code, in_len, out_len);
    default: return run_neither(irp, stack, code, in_len, out_len);
    }
}

} // namespace skeleton::nt
