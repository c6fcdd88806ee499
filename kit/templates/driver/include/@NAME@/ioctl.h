/*
 * @NAME@/ioctl.h - the contract between @NAME@.sys and every program that talks to it.
 *
 * Included by the driver (kernel mode), by user-mode programs and tests, and by the host-side unit
 * tests (plain C/C++ on Linux), so it depends on nothing. One example IOCTL per transfer method:
 * keep the ones you need, delete the others (here, in core/requests.cpp's table, and in the tests).
 *
 * CTL_CODE(DeviceType, Function, Method, Access) = (DeviceType << 16) | (Access << 14) | (Function << 2) | Method
 * Functions 0x800-0xFFF are yours; `kmdctl decode CODE` takes a code apart.
 *
 * Input length, one rule for every IOCTL (the skeleton's): a request takes exactly the input it
 * reads, no more. One that reads fixed fields takes exactly their size (shorter or longer input ->
 * STATUS_INVALID_PARAMETER, 87, nothing read or written); one that reads bytes takes 0 up to its
 * maximum (longer -> 87); one that reads no input ignores it. Each IOCTL states its case on an
 * "input length:" line; in core/requests.cpp a row's max_in is that size (0: ignored), and its
 * handler refuses less.
 */
#ifndef @UPPER@_IOCTL_H
#define @UPPER@_IOCTL_H

#define @UPPER@_DEVICE_NAME_W L"\\Device\\@NAME@"
#define @UPPER@_DOS_DEVICE_NAME_W L"\\DosDevices\\@NAME@"
#define @UPPER@_WIN32_DEVICE_PATH_W L"\\\\.\\@NAME@"

/* CTL_CODE(DeviceType, Function, Method, Access), spelled out as the skeleton's contract does
 * (this header includes nothing, so the platform's CTL_CODE is not visible here):
 *  31           16 15  14 13          2 1    0
 * +---------------+------+-------------+------+
 * |  device type  |access|  function   |method|
 * +---------------+------+-------------+------+ */
#define @UPPER@_CTL_CODE(device_type, function, method, access) \
    (((unsigned long)(device_type) << 16) | ((unsigned long)(access) << 14) | \
     ((unsigned long)(function) << 2) | (unsigned long)(method))

#define @UPPER@_FILE_DEVICE_UNKNOWN 0x00000022u

#define @UPPER@_METHOD_BUFFERED 0u
#define @UPPER@_METHOD_IN_DIRECT 1u
#define @UPPER@_METHOD_OUT_DIRECT 2u
#define @UPPER@_METHOD_NEITHER 3u

#define @UPPER@_FILE_ANY_ACCESS 0u
#define @UPPER@_FILE_READ_DATA 1u  /* the caller reads from the driver */
#define @UPPER@_FILE_WRITE_DATA 2u /* the caller writes to the driver  */

/* Function codes in use: 0x800-0x803 (the next free one: 0x804). */

/* METHOD_BUFFERED (0): in = two 32-bit numbers, out = their 32-bit sum. Information = 4.
 * input length: exactly 8 bytes; else STATUS_INVALID_PARAMETER (87).
 * errors: the input length above; out shorter than 4 -> STATUS_BUFFER_TOO_SMALL (122).
 * Try it: kmdctl ioctl IOCTL_@UPPER@_ADD --in-u32 2,40 */
#define IOCTL_@UPPER@_ADD @UPPER@_CTL_CODE(@UPPER@_FILE_DEVICE_UNKNOWN, 0x800, @UPPER@_METHOD_BUFFERED, @UPPER@_FILE_ANY_ACCESS)

/* METHOD_IN_DIRECT (1): in = the 32-bit sum of the data bytes the caller expects; the caller's
 * second buffer is the data, which the driver reads in place (read-only) through the MDL.
 * input length: exactly 4 bytes; else STATUS_INVALID_PARAMETER (87).
 * Information = bytes read. errors: the input length above; sum differs -> STATUS_CRC_ERROR (23);
 * no data -> 87. */
#define IOCTL_@UPPER@_CHECK_SUM @UPPER@_CTL_CODE(@UPPER@_FILE_DEVICE_UNKNOWN, 0x801, @UPPER@_METHOD_IN_DIRECT, @UPPER@_FILE_WRITE_DATA)

/* METHOD_OUT_DIRECT (2): in = one byte value (32-bit); the driver fills the caller's whole output
 * buffer with it, in place through the MDL. Information = out length.
 * input length: exactly 4 bytes; else STATUS_INVALID_PARAMETER (87).
 * errors: the input length above; no output -> 87. */
#define IOCTL_@UPPER@_FILL @UPPER@_CTL_CODE(@UPPER@_FILE_DEVICE_UNKNOWN, 0x802, @UPPER@_METHOD_OUT_DIRECT, @UPPER@_FILE_READ_DATA)

/* METHOD_NEITHER (3): no input; out = the driver's version, a 32-bit number. The kit probes and
 * captures the raw user buffer under __try/__except before the request core sees it.
 * input length: ignored (never read, any length).
 * errors: out shorter than 4 -> STATUS_BUFFER_TOO_SMALL (122). */
#define IOCTL_@UPPER@_VERSION @UPPER@_CTL_CODE(@UPPER@_FILE_DEVICE_UNKNOWN, 0x803, @UPPER@_METHOD_NEITHER, @UPPER@_FILE_ANY_ACCESS)

#define @UPPER@_VERSION_NUMBER 0x00010000u /* 1.0 */
#define @UPPER@_MAX_TRANSFER (1024u * 1024u)

#endif /* @UPPER@_IOCTL_H */
