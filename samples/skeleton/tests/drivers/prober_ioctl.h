/* prober_ioctl.h - the test-only contract of neither_prober.sys (never shipped).
 *
 * User mode under Wine cannot hand a driver a bad pointer (Wine copies buffers between the client
 * and the driver's host process), so this driver builds METHOD_NEITHER IRPs itself, marks them as
 * coming from user mode, points them at bad addresses, sends them to \Device\skeleton and reports
 * each status back. */
#ifndef SKELETON_PROBER_IOCTL_H
#define SKELETON_PROBER_IOCTL_H

#include <skeleton/ioctl.h>

#define PROBER_WIN32_DEVICE_PATH_W L"\\\\.\\skeleton_prober"

/* out: PROBER_CASE_COUNT struct prober_result, one per case below, in order. */
#define IOCTL_PROBER_RUN_NEITHER_CASES \
    SKELETON_CTL_CODE(SKELETON_FILE_DEVICE_UNKNOWN, 0xA01, SKELETON_METHOD_BUFFERED, SKELETON_FILE_ANY_ACCESS)

/* out: \Device\skeleton's security descriptor (self-relative, DACL only), as
 * ZwQuerySecurityObject returns it. */
#define IOCTL_PROBER_QUERY_SKELETON_DACL \
    SKELETON_CTL_CODE(SKELETON_FILE_DEVICE_UNKNOWN, 0xA02, SKELETON_METHOD_BUFFERED, SKELETON_FILE_ANY_ACCESS)

enum prober_case {
    PROBER_VALID_BUFFERS = 0,            /* control: SAY_HELLO into a good buffer -> success */
    PROBER_HELLO_OUT_UNMAPPED,           /* SAY_HELLO, UserBuffer = 0x20 (never mapped) */
    PROBER_HELLO_OUT_READ_ONLY,          /* SAY_HELLO, UserBuffer in the prober's read-only .rdata */
    PROBER_HELLO_OUT_KERNEL_ADDRESS,     /* SAY_HELLO, UserBuffer = 0xFFFF800000001000 */
    PROBER_HELLO_OUT_NULL_WITH_LENGTH,   /* SAY_HELLO, UserBuffer = NULL, OutputBufferLength = 64 */
    PROBER_ECHO_IN_UNMAPPED,             /* ECHO, Type3InputBuffer = 0x10 */
    PROBER_ECHO_IN_KERNEL_ADDRESS,       /* ECHO, Type3InputBuffer = 0xFFFF800000002000 */
    PROBER_ECHO_IN_NULL_WITH_LENGTH,     /* ECHO, Type3InputBuffer = NULL, InputBufferLength = 16 */
    PROBER_ECHO_OUT_READ_ONLY,           /* ECHO, good input, UserBuffer read-only */
    PROBER_VERIFY_NO_MDL,                /* VERIFY_IN_DIRECT, 256-byte output but Irp->MdlAddress NULL */
    PROBER_FILL_LENGTH_BEYOND_MDL,       /* FILL_OUT_DIRECT, MDL of 256 bytes, OutputBufferLength 4096 */
    PROBER_FILL_VALID,                   /* control: FILL_OUT_DIRECT through a real MDL -> success */
    PROBER_CASE_COUNT
};

struct prober_result {
    unsigned int which;       /* enum prober_case */
    unsigned int status;      /* the NTSTATUS skeleton.sys completed the IRP with */
    unsigned long long information;
};

#endif
