// kernel_raii.hpp - owners for the kernel objects a driver creates, so every early return in
// DriverEntry or a dispatch routine cleans up by construction.
//
// Each owner holds at most one object: create()/allocate()/out() on an owner that already holds
// one first releases the old one (as std::unique_ptr::reset does), so calling them twice never
// leaks. tests/host/kernel_raii_tests.cpp checks that natively against a counting fake of the
// few kernel calls involved.
#pragma once

#include <kmd/nt.hpp>
#include <kmd/pool.hpp>

namespace kmd {

// A counted UNICODE_STRING over a wide string literal, built at compile time: the driver has no
// C runtime to run dynamic initialisers, so globals must be constant-initialised (constinit).
// MaximumLength counts the terminating NUL and is a USHORT, so N * sizeof(wchar_t) <= 0xFFFF.
template <size_t N>
constexpr UNICODE_STRING literal_ustring(const wchar_t (&text)[N])
{
    static_assert(N > 0 && N * sizeof(wchar_t) <= 0xFFFF, "UNICODE_STRING holds at most 32766 characters plus the NUL");
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
    ~DeviceObjectOwner() { reset(); }

    NTSTATUS create(PDRIVER_OBJECT driver, PUNICODE_STRING name, DEVICE_TYPE type, ULONG characteristics)
    {
        reset();
        return IoCreateDevice(driver, 0, name, type, characteristics, FALSE, &device_);
    }
    PDEVICE_OBJECT get() const { return device_; }
    PDEVICE_OBJECT release()
    {
        PDEVICE_OBJECT d = device_;
        device_ = nullptr;
        return d;
    }
    void reset()
    {
        if (device_ != nullptr) IoDeleteDevice(device_);
        device_ = nullptr;
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
    ~SymbolicLinkOwner() { reset(); }

    NTSTATUS create(PUNICODE_STRING link, PUNICODE_STRING target)
    {
        reset();
        NTSTATUS s = IoCreateSymbolicLink(link, target);
        if (NT_SUCCESS(s)) link_ = link;
        return s;
    }
    void release() { link_ = nullptr; }
    void reset()
    {
        if (link_ != nullptr) IoDeleteSymbolicLink(link_);
        link_ = nullptr;
    }

private:
    PUNICODE_STRING link_ = nullptr; // points at storage that outlives the owner
};

// A kernel handle (OBJ_KERNEL_HANDLE), ZwClose'd on scope exit.
class KernelHandle {
public:
    KernelHandle() = default;
    KernelHandle(const KernelHandle&) = delete;
    KernelHandle& operator=(const KernelHandle&) = delete;
    ~KernelHandle() { reset(); }

    // For the out-parameter of a Zw/Ob call: closes a handle still held, then lends the slot.
    PHANDLE out()
    {
        reset();
        return &handle_;
    }
    HANDLE get() const { return handle_; }
    void reset()
    {
        if (handle_ != nullptr) ZwClose(handle_);
        handle_ = nullptr;
    }

private:
    HANDLE handle_ = nullptr;
};

// Zeroed non-paged, no-execute pool (kmd/pool.hpp), freed on scope exit. Zeroing means no byte of
// earlier pool contents can ever reach the caller, whatever a handler leaves unwritten.
class PoolBuffer {
public:
    PoolBuffer() : tag_(driver_pool_tag()) {}
    explicit PoolBuffer(ULONG tag) : tag_(tag) {}
    PoolBuffer(const PoolBuffer&) = delete;
    PoolBuffer& operator=(const PoolBuffer&) = delete;
    ~PoolBuffer() { reset(); }

    // Zero bytes allocate nothing and succeed: data() stays nullptr, size() 0.
    bool allocate(SIZE_T size)
    {
        reset();
        if (size == 0) return true;
        data_ = static_cast<unsigned char*>(allocate_pool(size, tag_));
        if (data_ == nullptr) return false;
        size_ = size;
        return true;
    }
    unsigned char* data() const { return data_; }
    SIZE_T size() const { return size_; }
    void reset()
    {
        if (data_ != nullptr) free_pool(data_, tag_);
        data_ = nullptr;
        size_ = 0;
    }

private:
    unsigned char* data_ = nullptr;
    SIZE_T size_ = 0;
    ULONG tag_;
};

} // namespace kmd
