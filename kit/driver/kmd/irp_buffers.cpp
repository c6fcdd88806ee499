// irp_buffers.cpp - where each transfer method puts the caller's buffers, and how the kit makes
// them safe before a driver's request core sees a byte:
//
//   method      lpInBuffer                                    lpOutBuffer
//   BUFFERED    Irp->AssociatedIrp.SystemBuffer (copy)        the same SystemBuffer, copied back
//   IN_DIRECT   Irp->AssociatedIrp.SystemBuffer (copy)        Irp->MdlAddress, locked for READ access
//   OUT_DIRECT  Irp->AssociatedIrp.SystemBuffer (copy)        Irp->MdlAddress, locked for WRITE access
//   NEITHER     Parameters.DeviceIoControl.Type3InputBuffer   Irp->UserBuffer (raw user addresses)
#include "irp_buffers.hpp"

#include "kernel_features.hpp"
#include "kernel_raii.hpp"
#include "user_copy.hpp"

namespace kmd {

// The request core speaks NTSTATUS as plain numbers; they must be the DDK's.
static_assert(status::success == static_cast<uint32_t>(STATUS_SUCCESS));
static_assert(status::not_implemented == static_cast<uint32_t>(STATUS_NOT_IMPLEMENTED));
static_assert(status::invalid_parameter == static_cast<uint32_t>(STATUS_INVALID_PARAMETER));
static_assert(status::buffer_too_small == static_cast<uint32_t>(STATUS_BUFFER_TOO_SMALL));
static_assert(status::crc_error == static_cast<uint32_t>(STATUS_CRC_ERROR));
static_assert(kMethodInDirect == METHOD_IN_DIRECT);

namespace {

Result fail(NTSTATUS s) { return Result{static_cast<uint32_t>(s), 0}; }

// Maps the MDL the I/O manager built for a DIRECT method, checking it really covers `length`.
// Never executable (MdlMappingNoExecute, where the kernel has it: Windows 8+); for IN_DIRECT also never writable (MdlMappingNoWrite):
// those pages were locked for read access, and may be the caller's read-only memory.
void* map_mdl(PIRP irp, ULONG length, bool read_only, NTSTATUS& error)
{
    PMDL mdl = irp->MdlAddress;
    // Never trust the length beyond what the MDL really describes.
    if (mdl == nullptr || MmGetMdlByteCount(mdl) < length) {
        error = STATUS_INVALID_PARAMETER;
        return nullptr;
    }
    void* mapped = MmGetSystemAddressForMdlSafe(mdl, mdl_mapping_priority(read_only));
    if (mapped == nullptr) error = STATUS_INSUFFICIENT_RESOURCES;
    return mapped;
}

// METHOD_BUFFERED: the I/O manager copied the input into one system buffer of
// max(in, out) bytes and copies `Information` bytes of it back to the caller on success.
Result run_buffered(const RequestTable& table, PIRP irp, ULONG code, ULONG in_len, ULONG out_len)
{
    auto* system = static_cast<unsigned char*>(irp->AssociatedIrp.SystemBuffer);
    if (system == nullptr && (in_len != 0 || out_len != 0)) return fail(STATUS_INVALID_PARAMETER);
    return dispatch(table, code, {system, in_len}, {system, out_len});
}

// METHOD_IN_DIRECT: the second buffer is data for the driver to read, through a read-only mapping.
Result run_in_direct(const RequestTable& table, PIRP irp, ULONG code, ULONG in_len, ULONG data_len)
{
    auto* system = static_cast<const unsigned char*>(irp->AssociatedIrp.SystemBuffer);
    if (system == nullptr && in_len != 0) return fail(STATUS_INVALID_PARAMETER);
    ConstBytes data{nullptr, 0};
    if (data_len != 0) {
        NTSTATUS error = STATUS_SUCCESS;
        const void* mapped = map_mdl(irp, data_len, true, error);
        if (mapped == nullptr) return fail(error);
        data = {static_cast<const unsigned char*>(mapped), data_len};
    }
    return dispatch_read(table, code, {system, in_len}, data);
}

// METHOD_OUT_DIRECT: the output buffer locked for write and mapped into system space.
Result run_out_direct(const RequestTable& table, PIRP irp, ULONG code, ULONG in_len, ULONG out_len)
{
    auto* system = static_cast<const unsigned char*>(irp->AssociatedIrp.SystemBuffer);
    if (system == nullptr && in_len != 0) return fail(STATUS_INVALID_PARAMETER);
    MutableBytes out{nullptr, 0};
    if (out_len != 0) {
        NTSTATUS error = STATUS_SUCCESS;
        void* mapped = map_mdl(irp, out_len, false, error);
        if (mapped == nullptr) return fail(error);
        out = {static_cast<unsigned char*>(mapped), out_len};
    }
    return dispatch(table, code, {system, in_len}, out);
}

// METHOD_NEITHER: raw caller addresses. A user-mode caller's pointers are probed, then read and
// written only inside __try/__except (user_copy.cpp), and only through one kernel capture buffer
// used the way the I/O manager uses a METHOD_BUFFERED system buffer (input first, output over it): the core never
// sees a user address, and reading the input once means the caller cannot change it under our
// feet. The capture holds only what the request can use - input up to the row's max_in, output
// up to its max_out - so a big caller buffer never means a big allocation.
Result run_neither(const RequestTable& table, const RequestSpec& spec, PIRP irp, PIO_STACK_LOCATION stack, ULONG code,
                   ULONG in_len, ULONG out_len)
{
    void* user_in = stack->Parameters.DeviceIoControl.Type3InputBuffer;
    void* user_out = irp->UserBuffer;
    if (spec.max_in == 0) in_len = 0; // the request ignores its input: never read it
    if (in_len > spec.max_in) return fail(STATUS_INVALID_PARAMETER);
    if (in_len != 0 && user_in == nullptr) return fail(STATUS_INVALID_PARAMETER);
    // No output address means no output buffer: the core answers as it does for zero length.
    if (user_out == nullptr) out_len = 0;
    const ULONG out_capture = out_len < spec.max_out ? out_len : static_cast<ULONG>(spec.max_out);

    PoolBuffer capture;
    if (!capture.allocate(in_len > out_capture ? in_len : out_capture)) return fail(STATUS_INSUFFICIENT_RESOURCES);

    // Probed and captured in user_copy.cpp: no __try may share a function with `capture`.
    const NTSTATUS captured = probe_and_capture(irp->RequestorMode, user_in, in_len, user_out, out_len, capture.data());
    if (!NT_SUCCESS(captured)) return fail(captured);

    Result result = dispatch(table, code, {capture.data(), in_len}, {capture.data(), out_capture});
    if (!NT_SUCCESS(static_cast<NTSTATUS>(result.status)) || result.information == 0) return result;

    const NTSTATUS copied = copy_to_user(user_out, capture.data(), result.information);
    if (!NT_SUCCESS(copied)) return fail(copied);
    return result;
}

} // namespace

Result run_device_control(const RequestTable& table, PIRP irp, PIO_STACK_LOCATION stack)
{
    const ULONG code = stack->Parameters.DeviceIoControl.IoControlCode;
    const ULONG in_len = stack->Parameters.DeviceIoControl.InputBufferLength;
    const ULONG out_len = stack->Parameters.DeviceIoControl.OutputBufferLength;

    const RequestSpec* spec = table.find(code);
    if (spec == nullptr) return fail(STATUS_NOT_IMPLEMENTED);

    switch (METHOD_FROM_CTL_CODE(code)) {
    case METHOD_BUFFERED: return run_buffered(table, irp, code, in_len, out_len);
    case METHOD_IN_DIRECT: return run_in_direct(table, irp, code, in_len, out_len);
    case METHOD_OUT_DIRECT: return run_out_direct(table, irp, code, in_len, out_len);
    default: return run_neither(table, *spec, irp, stack, code, in_len, out_len);
    }
}

} // namespace kmd
