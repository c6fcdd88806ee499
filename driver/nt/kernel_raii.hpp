// kernel_raii.hpp - owners for the kernel objects skeleton.sys creates, so every early return
// in DriverEntry or a dispatch routine cleans up by construction.
#pragma once

#include "kernel_features.hpp"
#include "nt.hpp"

namespace skeleton::nt {

// A counted UNICODE_STRING over a wide string literal, built at compile time: the driver has no
// C runtime to run dynamic initialisers, so globals must be constant-initialised (constinit).
template <size_t N>
constexpr UNICODE_STRING literal_ustring(const wchar_t (&text)[N])
{
    static_assert(N > 0 && (N - 1) * sizeof(wchar_t) <= 0xFFFE, "UNICODE_STRING holds at most 32767 characters");
    UNICODE_STRING s{};
    s.Length = static_cast<USHORT>((N - 1) * sizeof(wchar_t));
    s.MaximumLength = static_cast<USHORT>(N * sizeof(wchar_t));
    s.Buffer = const_cast<PWCH>(text);
    return s;
}

// Owns a device object until release(): IoDeleteDevice on every path that does not hand it on.
class DeviceObjectOwner {
public:
    DeviceObjectOwner() = default;
    DeviceObjectOwner(const DeviceObjectOwner&) = delete;
    DeviceObjectOwner& operator=(const DeviceObjectOwner&) = delete;
    ~DeviceObjectOwner()
    {
        if (device_ != nullptr) IoDeleteDevice(device_);
    }

    NTSTATUS create(PDRIVER_OBJECT driver, PUNICODE_STRING name, DEVICE_TYPE type, ULONG characteristics)
    {
        return IoCreateDevice(driver, 0, name, type, characteristics, FALSE, &device_);
    }
    PDEVICE_OBJECT get() const { return device_; }
    PDEVICE_OBJECT release()
    {
        PDEVICE_OBJECT d = device_;
        device_ = nullptr;
        return d;
    }

private:
    PDEVICE_OBJECT device_ = nullptr;
};

// Owns a symbolic link until release(): IoDeleteSymbolicLink on every path that does not keep it.
class SymbolicLinkOwner {
public:
    SymbolicLinkOwner() = default;
    SymbolicLinkOwner(const SymbolicLinkOwner&) = delete;
    SymbolicLinkOwner& operator=(const SymbolicLinkOwner&) = delete;
    ~SymbolicLinkOwner()
    {
        if (link_ != nullptr) IoDeleteSymbolicLink(link_);
    }

    NTSTATUS create(PUNICODE_STRING link, PUNICODE_STRING target)
    {
        NTSTATUS s = IoCreateSymbolicLink(link, target);
        if (NT_SUCCESS(s)) link_ = link;
        return s;
    }
    void release() { link_ = nullptr; }

private:
    PUNICODE_STRING link_ = nullptr; // points at storage that outlives the owner
};

// A kernel handle (OBJ_KERNEL_HANDLE), ZwClose'd on scope exit.
class KernelHandle {
public:
    KernelHandle() = default;
    KernelHandle(const KernelHandle&) = delete;
    KernelHandle& operator=(const KernelHandle&) = delete;
    ~KernelHandle()
    {
        if (handle_ != nullptr) ZwClose(handle_);
    }
    PHANDLE out() { return &handle_; }
    HANDLE get() const { return handle_; }

private:
    HANDLE handle_ = nullptr;
};

// Zeroed non-paged, no-execute pool, freed on scope exit. Zeroing means no byte of earlier pool
// contents can ever reach the caller, whatever a handler leaves unwritten.
// (ExAllocatePool2, Windows 10 2004+, zeroes by itself and is the modern call; Wine 8.0's
// ntoskrnl does not export it, so: ExAllocatePoolWithTag + RtlZeroMemory, of NonPagedPoolNx where
// the kernel has it - Windows 8 and later - and plain NonPagedPool on older x86 kernels.)
class PoolBuffer {
public:
    static constexpr ULONG kTag = 'nlkS'; // "Skln" in a pool dump (little-endian)

    PoolBuffer() = default;
    PoolBuffer(const PoolBuffer&) = delete;
    PoolBuffer& operator=(const PoolBuffer&) = delete;
    ~PoolBuffer()
    {
        if (data_ != nullptr) ExFreePoolWithTag(data_, kTag);
    }

    // Zero bytes allocate nothing and succeed: data() stays nullptr, size() 0.
    bool allocate(SIZE_T size)
    {
        if (size == 0) return true;
        data_ = static_cast<unsigned char*>(ExAllocatePoolWithTag(nonpaged_pool(), size, kTag));
        if (data_ == nullptr) return false;
        RtlZeroMemory(data_, size);
        size_ = size;
        return true;
    }
    unsigned char* data() const { return data_; }
    SIZE_T size() const { return size_; }

private:
    unsigned char* data_ = nullptr;
    SIZE_T size_ = 0;
};

} // namespace skeleton::nt
