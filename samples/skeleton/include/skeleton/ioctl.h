/*
 * skeleton/ioctl.h - the contract between skeleton.sys and every program that talks to it.
 *
 * One header, included by the driver (kernel mode), by kmdctl.exe and the Windows tests (user
 * mode) and by the host-side unit tests (plain C++ on Linux). It therefore depends on nothing:
 * it spells out its own CTL_CODE arithmetic, and where the platform's CTL_CODE macro is visible
 * (winioctl.h or the DDK) the C++ part checks at compile time that both agree.
 *
 * Usable from C (C99) and C++ (C++17 and later for the constexpr helpers).
 */
#ifndef SKELETON_IOCTL_H
#define SKELETON_IOCTL_H

/* ---- Names -------------------------------------------------------------------------------- */

/* Kernel name of the device object created by DriverEntry (IoCreateDevice). */
#define SKELETON_DEVICE_NAME_W L"\\Device\\skeleton"
/* Symbolic link that makes the device visible to Win32 (IoCreateSymbolicLink). */
#define SKELETON_DOS_DEVICE_NAME_W L"\\DosDevices\\skeleton"
/* The same link as a Win32 path for CreateFile. */
#define SKELETON_WIN32_DEVICE_PATH_W L"\\\\.\\skeleton"
/* Name of the service (HKLM\System\CurrentControlSet\Services\skeleton). */
#define SKELETON_SERVICE_NAME_W L"skeleton"

/* What kmdctl takes from this header when told to (--header, or KMD_CONTRACT naming this file):
 * the service start/stop/status/remove act on, the device hello/ioctl open, and the request run
 * and hello send when no IOCTL is named. kmdctl knows no driver of its own (docs/kmdctl.md). */
#define KMD_CONTRACT_SERVICE_W SKELETON_SERVICE_NAME_W
#define KMD_CONTRACT_DEVICE_W SKELETON_WIN32_DEVICE_PATH_W
#define KMD_CONTRACT_HELLO IOCTL_SKELETON_SAY_HELLO

/* ---- CTL_CODE arithmetic, spelled out ------------------------------------------------------
 *
 *  31           16 15  14 13          2 1    0
 * +---------------+------+-------------+------+
 * |  device type  |access|  function   |method|
 * +---------------+------+-------------+------+
 * Bit 31 (device type >= 0x8000) and bit 13 (function >= 0x800) mark customer-defined values.
 */
#define SKELETON_CTL_CODE(device_type, function, method, access) \
    (((unsigned long)(device_type) << 16) | ((unsigned long)(access) << 14) | \
     ((unsigned long)(function) << 2) | (unsigned long)(method))

#define SKELETON_FILE_DEVICE_UNKNOWN 0x00000022u

#define SKELETON_METHOD_BUFFERED 0u
#define SKELETON_METHOD_IN_DIRECT 1u
#define SKELETON_METHOD_OUT_DIRECT 2u
#define SKELETON_METHOD_NEITHER 3u

#define SKELETON_FILE_ANY_ACCESS 0u
#define SKELETON_FILE_READ_DATA 1u  /* the caller reads from the driver  */
#define SKELETON_FILE_WRITE_DATA 2u /* the caller writes to the driver   */

/* ---- The IOCTLs ----------------------------------------------------------------------------
 *
 * Where the driver finds the two buffers of DeviceIoControl(lpInBuffer, lpOutBuffer), per method
 * (the seed's table, made safe by kit/driver/kmd/irp_buffers.cpp):
 *
 *   method      lpInBuffer                               lpOutBuffer
 *   BUFFERED    Irp->AssociatedIrp.SystemBuffer (copy)   the same SystemBuffer, copied back
 *   IN_DIRECT   Irp->AssociatedIrp.SystemBuffer (copy)   Irp->MdlAddress, probed for READ access (the driver only reads it)
 *   OUT_DIRECT  Irp->AssociatedIrp.SystemBuffer (copy)   Irp->MdlAddress, probed for WRITE access
 *   NEITHER     Parameters.DeviceIoControl.Type3InputBuffer   Irp->UserBuffer (raw user addresses)
 *
 * Input length, one rule for every IOCTL: a request takes exactly the input it reads, no more.
 *   - a request that reads a struct takes exactly that struct: shorter or longer input is refused
 *     with STATUS_INVALID_PARAMETER (ERROR_INVALID_PARAMETER, 87), nothing read or written;
 *   - a request that reads bytes takes 0..SKELETON_MAX_TRANSFER of them: longer input -> 87;
 *   - a request that reads no input ignores it: never read, whatever its length.
 * Each IOCTL below states its case on one "input length:" line; the host test
 * Contract.EveryIoctlStatesItsInputLengthAndTheTableKeepsIt holds that line to the request table's
 * max_in (core/requests.cpp) and to what the request core does with one byte less and one more.
 */

/* The seed's only IOCTL, exactly as it defines it: CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801,
 * METHOD_NEITHER, FILE_ANY_ACCESS) = 0x00222007.
 * in:  nothing.
 * input length: ignored (never read, any length).
 * out: the driver's greeting, NUL-terminated ASCII. Information = its length including the NUL.
 * errors: output missing or smaller than the whole greeting -> STATUS_BUFFER_TOO_SMALL
 *         (ERROR_INSUFFICIENT_BUFFER, 122) and nothing written.
 * FILE_ANY_ACCESS is harmless here: the request reads nothing from the caller and writes only a
 * constant, public string into the caller's own buffer. */
#define IOCTL_SKELETON_SAY_HELLO \
    SKELETON_CTL_CODE(SKELETON_FILE_DEVICE_UNKNOWN, 0x801, SKELETON_METHOD_NEITHER, SKELETON_FILE_ANY_ACCESS)

/* METHOD_BUFFERED: returns the input bytes in reverse order. One system buffer serves as both
 * input and output, so the driver must take in all of its input before it writes any output;
 * reversing makes that visible (an echo would look right even if the driver did nothing).
 * in: the bytes to reverse.  out: at least as long as in.  Information = in length.
 * input length: 0 to SKELETON_MAX_TRANSFER bytes; longer -> STATUS_INVALID_PARAMETER (87).
 * errors: out shorter than in -> STATUS_BUFFER_TOO_SMALL; the input length above. */
#define IOCTL_SKELETON_REVERSE_BUFFERED                                                        \
    SKELETON_CTL_CODE(SKELETON_FILE_DEVICE_UNKNOWN, 0x802, SKELETON_METHOD_BUFFERED,          \
                      SKELETON_FILE_READ_DATA | SKELETON_FILE_WRITE_DATA)

/* METHOD_IN_DIRECT: the driver reads a large caller buffer in place, through the MDL, and checks
 * it against the CRC-32 (IEEE 802.3, as zlib's crc32) the caller expects.
 * in:  struct skeleton_verify_request (the expected CRC).
 * input length: exactly 4 bytes, sizeof(struct skeleton_verify_request); else STATUS_INVALID_PARAMETER (87).
 * out: the data to verify (lpOutBuffer, read by the driver), 1..SKELETON_MAX_TRANSFER bytes.
 * Information = number of data bytes the driver read.
 * errors: the input length above; no data or more than the maximum -> STATUS_INVALID_PARAMETER;
 *         CRC differs -> STATUS_CRC_ERROR (ERROR_CRC, 23). */
#define IOCTL_SKELETON_VERIFY_IN_DIRECT \
    SKELETON_CTL_CODE(SKELETON_FILE_DEVICE_UNKNOWN, 0x803, SKELETON_METHOD_IN_DIRECT, SKELETON_FILE_WRITE_DATA)

/* METHOD_OUT_DIRECT: the driver fills a large caller buffer in place, through the MDL, with a
 * pattern anyone can recompute: byte i = skeleton_pattern_byte(seed, i).
 * in:  struct skeleton_fill_request (the seed).
 * input length: exactly 4 bytes, sizeof(struct skeleton_fill_request); else STATUS_INVALID_PARAMETER (87).
 * out: 1..SKELETON_MAX_TRANSFER bytes, every one of them written. Information = out length.
 * errors: the input length above; no output or more than the maximum -> STATUS_INVALID_PARAMETER. */
#define IOCTL_SKELETON_FILL_OUT_DIRECT \
    SKELETON_CTL_CODE(SKELETON_FILE_DEVICE_UNKNOWN, 0x804, SKELETON_METHOD_OUT_DIRECT, SKELETON_FILE_READ_DATA)

/* METHOD_NEITHER: echoes the input bytes to the output. The driver sees raw user addresses, so it
 * probes both, captures the input into pool inside __try/__except, and writes the output back
 * the same way (see kit/driver/kmd/irp_buffers.cpp).
 * in: the bytes to echo.  out: at least as long as in.  Information = in length.
 * input length: 0 to SKELETON_MAX_TRANSFER bytes; longer -> STATUS_INVALID_PARAMETER (87).
 * errors: as IOCTL_SKELETON_REVERSE_BUFFERED; a bad user pointer -> STATUS_ACCESS_VIOLATION
 *         (ERROR_NOACCESS, 998), never a crash. (The buffers are byte arrays, probed with
 *         alignment 1, so STATUS_DATATYPE_MISALIGNMENT cannot occur.) */
#define IOCTL_SKELETON_ECHO_NEITHER                                                            \
    SKELETON_CTL_CODE(SKELETON_FILE_DEVICE_UNKNOWN, 0x805, SKELETON_METHOD_NEITHER,           \
                      SKELETON_FILE_READ_DATA | SKELETON_FILE_WRITE_DATA)

/* METHOD_BUFFERED, in flight: the driver marks the request pending (IoMarkIrpPending), returns
 * STATUS_PENDING at once and completes it later from its own worker thread, after delay_ms
 * milliseconds; an overlapped caller can keep many in flight. Cancel-safe: CancelIoEx, closing
 * the handle, or the driver unloading first completes it with STATUS_CANCELLED
 * (ERROR_OPERATION_ABORTED, 995).
 * in:  struct skeleton_delay_request.  out: nothing (ignored).  Information = 0.
 * input length: exactly 4 bytes, sizeof(struct skeleton_delay_request); else STATUS_INVALID_PARAMETER (87).
 * errors: the input length above, or delay_ms above SKELETON_MAX_DELAY_MS -> STATUS_INVALID_PARAMETER;
 *         SKELETON_MAX_PENDING requests already queued -> STATUS_INSUFFICIENT_RESOURCES
 *         (ERROR_NO_SYSTEM_RESOURCES, 1450). */
#define IOCTL_SKELETON_DELAY_PENDING \
    SKELETON_CTL_CODE(SKELETON_FILE_DEVICE_UNKNOWN, 0x806, SKELETON_METHOD_BUFFERED, SKELETON_FILE_ANY_ACCESS)

#define SKELETON_MAX_DELAY_MS 60000u
#define SKELETON_MAX_PENDING 4096u

struct skeleton_delay_request {
    unsigned int delay_ms;
};

/* Largest transfer any request accepts, in bytes (1 MiB): bounds every pool allocation. */
#define SKELETON_MAX_TRANSFER (1024u * 1024u)

struct skeleton_verify_request {
    unsigned int expected_crc32;
};

struct skeleton_fill_request {
    unsigned int seed;
};

/* The OUT_DIRECT pattern: cheap, position-dependent, so a short or shifted write shows. */
static inline unsigned char skeleton_pattern_byte(unsigned int seed, unsigned long index)
{
    unsigned int x = seed ^ (unsigned int)(index * 2654435761u);
    x ^= x >> 15;
    return (unsigned char)(x ^ (x >> 8));
}

/* ---- C++: a constexpr view of an IOCTL code ----------------------------------------------- */
#if defined(__cplusplus) && __cplusplus >= 201703L
namespace skeleton {

enum class TransferMethod : unsigned { Buffered = 0, InDirect = 1, OutDirect = 2, Neither = 3 };

struct IoctlCode {
    unsigned device_type; /* 16 bits */
    unsigned access;      /* 2 bits  */
    unsigned function;    /* 12 bits */
    TransferMethod method;

    constexpr unsigned long value() const
    {
        return SKELETON_CTL_CODE(device_type, function, static_cast<unsigned>(method), access);
    }
    static constexpr IoctlCode decode(unsigned long code)
    {
        return IoctlCode{static_cast<unsigned>((code >> 16) & 0xFFFFu), static_cast<unsigned>((code >> 14) & 3u),
                         static_cast<unsigned>((code >> 2) & 0xFFFu), static_cast<TransferMethod>(code & 3u)};
    }
    /* The field ranges CTL_CODE can hold; anything else would spill into a neighbouring field. */
    constexpr bool fits() const
    {
        return device_type <= 0xFFFFu && access <= 3u && function <= 0xFFFu && static_cast<unsigned>(method) <= 3u;
    }
    constexpr bool is_custom_device() const { return (device_type & 0x8000u) != 0; }
    constexpr bool is_custom_function() const { return (function & 0x800u) != 0; }
};

constexpr TransferMethod method_of(unsigned long code) { return static_cast<TransferMethod>(code & 3u); }

static_assert(IOCTL_SKELETON_SAY_HELLO == 0x00222007ul, "SAY_HELLO must stay the seed's code");
static_assert(IoctlCode::decode(IOCTL_SKELETON_SAY_HELLO).value() == IOCTL_SKELETON_SAY_HELLO);
static_assert(IoctlCode::decode(IOCTL_SKELETON_SAY_HELLO).function == 0x801);
static_assert(method_of(IOCTL_SKELETON_REVERSE_BUFFERED) == TransferMethod::Buffered);
static_assert(method_of(IOCTL_SKELETON_VERIFY_IN_DIRECT) == TransferMethod::InDirect);
static_assert(method_of(IOCTL_SKELETON_FILL_OUT_DIRECT) == TransferMethod::OutDirect);
static_assert(method_of(IOCTL_SKELETON_ECHO_NEITHER) == TransferMethod::Neither);
static_assert(method_of(IOCTL_SKELETON_DELAY_PENDING) == TransferMethod::Buffered);

#if defined(CTL_CODE) && defined(METHOD_NEITHER) && defined(FILE_DEVICE_UNKNOWN)
/* The platform's own macro (winioctl.h / wdm.h) must agree with ours, value for value. Include
 * the platform header first; a translation unit can insist that this check ran with
 * #ifndef SKELETON_IOCTL_CHECKED_AGAINST_CTL_CODE / #error. */
#define SKELETON_IOCTL_CHECKED_AGAINST_CTL_CODE 1
static_assert(IOCTL_SKELETON_SAY_HELLO == CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_NEITHER, FILE_ANY_ACCESS));
static_assert(IOCTL_SKELETON_REVERSE_BUFFERED ==
              CTL_CODE(FILE_DEVICE_UNKNOWN, 0x802, METHOD_BUFFERED, FILE_READ_DATA | FILE_WRITE_DATA));
static_assert(IOCTL_SKELETON_VERIFY_IN_DIRECT == CTL_CODE(FILE_DEVICE_UNKNOWN, 0x803, METHOD_IN_DIRECT, FILE_WRITE_DATA));
static_assert(IOCTL_SKELETON_FILL_OUT_DIRECT == CTL_CODE(FILE_DEVICE_UNKNOWN, 0x804, METHOD_OUT_DIRECT, FILE_READ_DATA));
static_assert(IOCTL_SKELETON_ECHO_NEITHER ==
              CTL_CODE(FILE_DEVICE_UNKNOWN, 0x805, METHOD_NEITHER, FILE_READ_DATA | FILE_WRITE_DATA));
static_assert(IOCTL_SKELETON_DELAY_PENDING == CTL_CODE(FILE_DEVICE_UNKNOWN, 0x806, METHOD_BUFFERED, FILE_ANY_ACCESS));
static_assert(IoctlCode{0x9000, 3, 0xABC, TransferMethod::OutDirect}.value() ==
              CTL_CODE(0x9000, 0xABC, METHOD_OUT_DIRECT, 3));
static_assert(SKELETON_FILE_DEVICE_UNKNOWN == FILE_DEVICE_UNKNOWN && SKELETON_METHOD_BUFFERED == METHOD_BUFFERED &&
              SKELETON_METHOD_IN_DIRECT == METHOD_IN_DIRECT && SKELETON_METHOD_OUT_DIRECT == METHOD_OUT_DIRECT &&
              SKELETON_METHOD_NEITHER == METHOD_NEITHER);
#endif

} // namespace skeleton
#endif /* __cplusplus */

#endif /* SKELETON_IOCTL_H */
