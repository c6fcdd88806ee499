/* @NAME@'s contract: the IOCTL codes, shared by the driver and every program that calls it.
 * CTL_CODE(device type, function, transfer method, required access); functions 0x800-0xFFF are
 * yours. Give kmdctl this file (--header) and it knows the names. */
#pragma once

/* METHOD_BUFFERED: in = any bytes (at most 4096); out = the same bytes reversed. The I/O manager
 * copies your input into one kernel buffer (Irp->AssociatedIrp.SystemBuffer), the driver writes
 * its answer over it, and the I/O manager copies IoStatus.Information bytes of it back. */
#define IOCTL_@UPPER@_REVERSE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x810, METHOD_BUFFERED, FILE_READ_DATA | FILE_WRITE_DATA)

/* METHOD_IN_DIRECT: in = one byte B (SystemBuffer, copied); out buffer = the data, which the
 * driver reads in place through an MDL (Irp->MdlAddress). Answer: Information = how many bytes of
 * the data equal B. Nothing is written anywhere. */
#define IOCTL_@UPPER@_COUNT CTL_CODE(FILE_DEVICE_UNKNOWN, 0x811, METHOD_IN_DIRECT, FILE_WRITE_DATA)

/* METHOD_OUT_DIRECT: in = one byte B (SystemBuffer); out buffer = filled with B, written in place
 * through the MDL (Irp->MdlAddress). Information = the bytes filled. */
#define IOCTL_@UPPER@_FILL CTL_CODE(FILE_DEVICE_UNKNOWN, 0x812, METHOD_OUT_DIRECT, FILE_READ_DATA)

#define @UPPER@_MAX_TRANSFER 4096u
