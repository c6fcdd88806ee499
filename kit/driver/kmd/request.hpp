// request.hpp - the seam between a driver's NT glue and its request core, as plain C++.
//
// A driver built with the kit describes what it answers as a table of RequestSpec rows: one per
// IOCTL, with the handler and how much of the caller's buffers it needs. The kit's glue
// (irp_buffers.cpp) finds the caller's buffers for the code's transfer method, makes them safe,
// and calls the row's handler; the handlers themselves make no NT calls, so the same source is
// compiled into the driver and, natively on Linux, into unit tests and a libFuzzer target.
//
// Rules every handler keeps (the glue relies on them):
//   * lengths are checked before a single byte is read or written;
//   * Result::information never exceeds out.size, and every byte it counts was written;
//   * for METHOD_BUFFERED (and the kit's METHOD_NEITHER capture) `in` and `out` may be the same
//     memory: read all input before writing any output.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace kmd {

// NTSTATUS values request logic answers with (ntstatus.h). The kit's NT side checks them
// against the DDK's definitions at compile time (irp_buffers.cpp).
namespace status {
inline constexpr uint32_t success = 0x00000000u;
inline constexpr uint32_t not_implemented = 0xC0000002u;   // ERROR_INVALID_FUNCTION (1)
inline constexpr uint32_t invalid_parameter = 0xC000000Du; // ERROR_INVALID_PARAMETER (87)
inline constexpr uint32_t buffer_too_small = 0xC0000023u;  // ERROR_INSUFFICIENT_BUFFER (122)
inline constexpr uint32_t crc_error = 0xC000003Fu;         // ERROR_CRC (23)
} // namespace status

struct ConstBytes {
    const unsigned char* data;
    size_t size;
};

struct MutableBytes {
    unsigned char* data;
    size_t size;
};

struct Result {
    uint32_t status;
    size_t information; // bytes written to (or, for IN_DIRECT, read from) the caller's second buffer
};

// One row of a driver's IOCTL table. Exactly one handler is set, by transfer method:
//   write: METHOD_BUFFERED, METHOD_OUT_DIRECT, METHOD_NEITHER - the handler fills `out`;
//   read:  METHOD_IN_DIRECT - the caller's second buffer is *data the driver reads*: the I/O
//          manager locked it for read access only, so the handler gets a read-only view (and the
//          glue maps it with MdlMappingNoWrite), and a handler bug cannot write into it.
struct RequestSpec {
    uint32_t code;
    const char* name;
    // How many input bytes the handler may look at. 0: the request ignores its input, and the glue
    // hands it none, whatever the caller sent. Otherwise, more input than this is refused with
    // STATUS_INVALID_PARAMETER before anything is captured or allocated.
    size_t max_in;
    // How many output bytes the handler can ever write: the glue sizes its METHOD_NEITHER capture
    // by it (min(caller's length, max_out)), so a big caller buffer costs no big allocation.
    size_t max_out;
    Result (*write)(ConstBytes in, MutableBytes out);
    Result (*read)(ConstBytes in, ConstBytes data);
};

// A driver's whole table.
struct RequestTable {
    const RequestSpec* begin;
    const RequestSpec* end;

    constexpr const RequestSpec* find(uint32_t code) const
    {
        for (const RequestSpec* r = begin; r != end; ++r)
            if (r->code == code) return r;
        return nullptr;
    }
};

constexpr uint32_t method_of(uint32_t code) { return code & 3u; }
inline constexpr uint32_t kMethodInDirect = 1u;

namespace detail {
// Not constexpr on purpose: make_table() calls one of these only for a broken table, which stops
// the build with the function's name in the diagnostic ("non-constexpr function
// 'duplicate_ioctl_code_in_table' cannot be used in a constant expression").
void duplicate_ioctl_code_in_table();
void row_handler_does_not_match_its_transfer_method();
} // namespace detail

// The table, checked when it is compiled: every code once (a second row for a code would never be
// reached: find() stops at the first), and each row's handler the one its code's transfer method
// calls for (a `read` handler for METHOD_IN_DIRECT, a `write` handler for the other three).
template <size_t N>
consteval RequestTable make_table(const RequestSpec (&rows)[N])
{
    for (size_t i = 0; i < N; ++i) {
        for (size_t j = i + 1; j < N; ++j)
            if (rows[i].code == rows[j].code) detail::duplicate_ioctl_code_in_table();
        const bool in_direct = method_of(rows[i].code) == kMethodInDirect;
        if ((rows[i].read != nullptr) != in_direct || (rows[i].write != nullptr) == in_direct)
            detail::row_handler_does_not_match_its_transfer_method();
    }
    return RequestTable{rows, rows + N};
}

namespace detail {
// The row for `code` if its handler fits the code's method; the input the handler may see.
inline const RequestSpec* admit(const RequestTable& table, uint32_t code, bool reads, ConstBytes& in, Result& refusal)
{
    const RequestSpec* spec = table.find(code);
    refusal = Result{status::not_implemented, 0};
    if (spec == nullptr || (method_of(code) == kMethodInDirect) != reads || (reads ? spec->read == nullptr : spec->write == nullptr))
        return nullptr;
    if (spec->max_in == 0) {
        in = ConstBytes{nullptr, 0}; // ignored input: never captured, never refused
    } else if (in.size > spec->max_in) {
        refusal = Result{status::invalid_parameter, 0};
        return nullptr;
    }
    return spec;
}
} // namespace detail

// Runs one request whose buffers the glue has already made safe to touch. Unknown codes (and rows
// whose handler does not fit the code's method) get STATUS_NOT_IMPLEMENTED; a result claiming more
// bytes than the buffer holds becomes a failure (defence in depth: the I/O manager would copy that
// many bytes back to the caller).
inline Result dispatch(const RequestTable& table, uint32_t code, ConstBytes in, MutableBytes out)
{
    Result refusal;
    const RequestSpec* spec = detail::admit(table, code, false, in, refusal);
    if (spec == nullptr) return refusal;
    Result result = spec->write(in, out);
    if (result.information > out.size) return Result{status::invalid_parameter, 0};
    return result;
}

// The same for METHOD_IN_DIRECT: `data` is the caller's second buffer, read-only.
inline Result dispatch_read(const RequestTable& table, uint32_t code, ConstBytes in, ConstBytes data)
{
    Result refusal;
    const RequestSpec* spec = detail::admit(table, code, true, in, refusal);
    if (spec == nullptr) return refusal;
    Result result = spec->read(in, data);
    if (result.information > data.size) return Result{status::invalid_parameter, 0};
    return result;
}

} // namespace kmd
